-- Garbage collection of the registry's blobs (backend/housekeeping/gc). Portable SQL; times are
-- Unix milliseconds.
--
-- One row per run, dry or real. `active` is 1 while the run goes on and NULL once it ended: the
-- unique index lets one run at a time exist (NULLs never collide, in SQLite and PostgreSQL).
-- `status`: running, succeeded, failed, cancelled, interrupted (the process died mid-run).
-- `phase`: what a running run does now (read-only, collecting, read-write). Bytes are NULL where
-- they could not be measured (S3). `log` is the collector's output, bounded; `blobs` the digests
-- it removed (or would remove, dry), one a line, bounded too; `blob_count` counts them all.
CREATE TABLE gc_runs (
    id TEXT PRIMARY KEY,
    actor TEXT NOT NULL,
    dry_run BIGINT NOT NULL,
    status TEXT NOT NULL,
    phase TEXT NOT NULL DEFAULT '',
    active BIGINT,
    started_at BIGINT NOT NULL,
    finished_at BIGINT,
    bytes_before BIGINT,
    bytes_after BIGINT,
    blob_count BIGINT NOT NULL DEFAULT 0,
    blobs TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT '',
    log TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX gc_runs_one_active ON gc_runs (active);
CREATE INDEX gc_runs_started ON gc_runs (started_at, id);

-- The schedule (cron syntax, empty: none), and when it fires next. One row.
CREATE TABLE gc_settings (
    id INTEGER PRIMARY KEY,
    schedule TEXT NOT NULL DEFAULT '',
    next_run_at BIGINT,
    updated_by TEXT NOT NULL DEFAULT '',
    updated_at BIGINT
);
INSERT INTO gc_settings (id, schedule, next_run_at, updated_by, updated_at) VALUES (1, '', NULL, '', NULL);

-- Blobs that a successful collection removed (managed), or that an administrator said the
-- collection of an external registry removed: the "collectable" figure leaves them out until a
-- manifest in some repository references them again.
CREATE TABLE gc_collected_blobs (
    blob_digest TEXT PRIMARY KEY,
    collected_at BIGINT NOT NULL
);
