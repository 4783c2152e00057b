-- Durable work (see docs/durable-work.md): applying an event to the index and delivering a
-- webhook are rows a worker claims with a lease. Every queue table has the same columns:
--   attempts         claims so far (a claim counts, so a row that crashes its worker still ends)
--   next_attempt_at  not claimed before this time (Unix ms)
--   claimed_by       the claim token of the worker holding it, NULL when free
--   lease_until      the claim lapses at this time; another worker may then take the row
--   last_error       why the last attempt failed
--   dead_at          set aside after too many failures: visible, retryable, blocks nothing
-- Portable SQL: runs unchanged on SQLite and PostgreSQL. Times are Unix milliseconds.

-- Applying registry events to the index: `indexed_at` (from the index migration) marks done.
ALTER TABLE registry_events ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE registry_events ADD COLUMN next_attempt_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE registry_events ADD COLUMN claimed_by TEXT;
ALTER TABLE registry_events ADD COLUMN lease_until BIGINT;
ALTER TABLE registry_events ADD COLUMN last_error TEXT;
ALTER TABLE registry_events ADD COLUMN dead_at BIGINT;
DROP INDEX registry_events_pending;
CREATE INDEX registry_events_pending ON registry_events (received_at, id)
    WHERE indexed_at IS NULL AND dead_at IS NULL;
CREATE INDEX registry_events_claimed ON registry_events (claimed_by) WHERE claimed_by IS NOT NULL;

-- Webhooks: where registry events are delivered, and how.
CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    url TEXT NOT NULL,
    enabled BIGINT NOT NULL DEFAULT 1,
    -- JSON array of the actions delivered: "push", "delete".
    actions TEXT NOT NULL,
    -- JSON array of "repository:tag" globs ("shop/*:v*"); empty: the whole registry.
    scope TEXT NOT NULL,
    -- Only pushes by this user or robot (the event's actor); NULL: anyone's.
    pusher TEXT,
    -- 1: also deliver the untagged platform manifests of a multi-arch push.
    platform_manifests BIGINT NOT NULL DEFAULT 0,
    format TEXT NOT NULL,
    template TEXT,
    -- JSON object of extra request headers; the values are secrets (write-only in the UI).
    headers TEXT NOT NULL,
    timeout_ms BIGINT NOT NULL,
    -- Standard Webhooks signing key (whsec_...), and the one before it while a rotation overlaps.
    secret TEXT NOT NULL,
    previous_secret TEXT,
    previous_secret_until BIGINT,
    -- 1: one delivery at a time, in event order.
    ordered BIGINT NOT NULL DEFAULT 1,
    -- Deliveries in flight at once when not ordered.
    max_in_flight BIGINT NOT NULL DEFAULT 4,
    -- Why Wharf stopped delivering (410 Gone, Slack no_service, failing for days); NULL: healthy.
    disabled_reason TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- One delivery of one event (or a ping or test) to one webhook: a queue row, and the log.
CREATE TABLE webhook_deliveries (
    -- msg_<uuid>: the webhook-id header, the same on every attempt.
    id TEXT PRIMARY KEY,
    webhook_id TEXT NOT NULL,
    -- The registry event delivered; NULL for a ping or a test.
    event_id TEXT,
    -- event, ping or test
    kind TEXT NOT NULL,
    -- What is delivered (the event as JSON): completed with what the index knows at the first
    -- attempt, then fixed, so every attempt sends the same body.
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claimed_by TEXT,
    lease_until BIGINT,
    done_at BIGINT,
    dead_at BIGINT,
    last_error TEXT,
    last_status BIGINT,
    last_attempt_at BIGINT,
    last_duration_ms BIGINT
);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (webhook_id, created_at, id)
    WHERE done_at IS NULL AND dead_at IS NULL;
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (webhook_id, created_at, id);
-- The same event is never queued twice for one webhook (NULL event ids are distinct).
CREATE UNIQUE INDEX webhook_deliveries_event ON webhook_deliveries (webhook_id, event_id);

-- Every attempt of a delivery, as sent and as answered (bodies capped, secrets masked).
CREATE TABLE webhook_attempts (
    delivery_id TEXT NOT NULL,
    attempt BIGINT NOT NULL,
    started_at BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL,
    url TEXT NOT NULL,
    -- JSON array of [name, value] pairs.
    request_headers TEXT NOT NULL,
    request_body TEXT NOT NULL,
    response_status BIGINT,
    response_headers TEXT,
    response_body TEXT,
    error TEXT,
    PRIMARY KEY (delivery_id, attempt)
);

-- Events of a well-formed envelope that Wharf cannot use: kept aside (and answered 200, since the
-- registry retries anything else forever), shown on the Events page. The id is the SHA-256 of
-- the event's JSON, so a resent event is one row.
CREATE TABLE quarantined_events (
    id TEXT PRIMARY KEY,
    received_at BIGINT NOT NULL,
    reason TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX quarantined_events_received ON quarantined_events (received_at);

-- Wharf's own tag-only deletes: the placeholder manifest pushed to the tag and then deleted by
-- digest. The registry reports both; webhook receivers get one delete of the tag instead.
CREATE TABLE placeholder_tags (
    repository TEXT NOT NULL,
    placeholder_digest TEXT NOT NULL,
    tag TEXT NOT NULL,
    -- What the tag pointed to before (NULL when Wharf's index did not know).
    previous_digest TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (repository, placeholder_digest)
);
