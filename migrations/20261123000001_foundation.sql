-- Portable SQL: runs unchanged on SQLite and PostgreSQL.
-- Timestamps are Unix milliseconds (BIGINT); flags are BIGINT 0/1; ids are text (UUIDs).

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    is_admin BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

-- Registry notification events, stored once per event id.
CREATE TABLE registry_events (
    id TEXT PRIMARY KEY,
    received_at BIGINT NOT NULL,
    occurred_at TEXT NOT NULL,
    action TEXT NOT NULL,
    repository TEXT NOT NULL,
    tag TEXT,
    digest TEXT,
    media_type TEXT,
    size BIGINT,
    actor TEXT,
    source_addr TEXT,
    payload TEXT NOT NULL
);

CREATE INDEX registry_events_received ON registry_events (received_at, id);
