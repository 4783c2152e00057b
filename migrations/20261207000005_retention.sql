-- Retention policies and their runs (see docs/housekeeping.md). Times are Unix milliseconds.

CREATE TABLE retention_policies (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    -- An access scope: '' the registry, 'team-a/' a namespace, 'team-a/api-*' a glob.
    scope TEXT NOT NULL,
    -- JSON: the rules (keep_last, keep_pushed_days, keep_pulled_days, keep_tags, keep_latest,
    -- remove_untagged).
    rules TEXT NOT NULL,
    -- Cron expression; NULL: on demand only.
    schedule TEXT,
    next_run_at BIGINT,
    max_deletions BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX retention_policies_due ON retention_policies (next_run_at);

-- A run (dry or real) is durable work: claimed with a lease, planned, then carried out item by
-- item, so a killed process resumes where it stopped.
CREATE TABLE retention_runs (
    id TEXT PRIMARY KEY,
    policy_id TEXT NOT NULL,
    dry_run BIGINT NOT NULL,
    -- 'manual' or 'schedule'.
    trigger_kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    -- 'queued', 'planning', 'deleting', 'done', 'failed'.
    status TEXT NOT NULL,
    -- The policy's id while the run is not finished, NULL after: one run at a time per policy.
    active_policy TEXT UNIQUE,
    requested_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT,
    claimed_by TEXT,
    lease_until BIGINT,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    repositories_total BIGINT NOT NULL DEFAULT 0,
    repositories_done BIGINT NOT NULL DEFAULT 0,
    images_kept BIGINT NOT NULL DEFAULT 0,
    images_removed BIGINT NOT NULL DEFAULT 0,
    images_deleted BIGINT NOT NULL DEFAULT 0,
    images_failed BIGINT NOT NULL DEFAULT 0,
    images_skipped BIGINT NOT NULL DEFAULT 0,
    bytes_removed BIGINT NOT NULL DEFAULT 0,
    -- Bytes of the blobs only the planned images hold (no other image in any repository): what
    -- garbage collection gives back after the run.
    bytes_freed BIGINT NOT NULL DEFAULT 0,
    bytes_deleted BIGINT NOT NULL DEFAULT 0,
    -- 1 when the plan had more to remove than the policy's cap.
    capped BIGINT NOT NULL DEFAULT 0,
    -- Set when the run failed too often to go on (as the other durable queues).
    dead_at BIGINT,
    last_error TEXT
);
CREATE INDEX retention_runs_policy ON retention_runs (policy_id, requested_at);
CREATE INDEX retention_runs_due ON retention_runs (finished_at, next_attempt_at);

-- Every image a run decided on, with the rule that decided; removed images are grouped with
-- what goes with them (platform images, signatures) and carried out group by group.
CREATE TABLE retention_run_items (
    run_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    repository TEXT NOT NULL,
    digest TEXT NOT NULL,
    -- JSON array of the tags it had when planned.
    tags TEXT NOT NULL,
    pushed_at BIGINT NOT NULL,
    last_pulled_at BIGINT,
    size_bytes BIGINT NOT NULL,
    keep BIGINT NOT NULL,
    -- JSON: the reason (rule) that decided.
    reason TEXT NOT NULL,
    -- The removal group (the seq of its first item); 0 for kept images.
    grp BIGINT NOT NULL,
    -- 'kept', 'planned', 'deleted', 'failed', 'skipped' (over the cap, or changed since planned).
    state TEXT NOT NULL,
    error TEXT,
    PRIMARY KEY (run_id, seq)
);
CREATE INDEX retention_run_items_state ON retention_run_items (run_id, state, seq);
CREATE INDEX retention_run_items_image ON retention_run_items (run_id, digest, repository);
