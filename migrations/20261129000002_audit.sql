-- The audit log: who did what, when, from where. Portable SQL; times are Unix milliseconds.
-- Repeated events that could flood it (refused token requests, failed sign-ins) share a row per
-- `bucket` (kind, subject, target and hour) whose `count` grows.
CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '',
    address TEXT NOT NULL DEFAULT '',
    count BIGINT NOT NULL DEFAULT 1,
    bucket TEXT UNIQUE
);
CREATE INDEX audit_log_at ON audit_log (at, id);
CREATE INDEX audit_log_actor ON audit_log (actor, at);
