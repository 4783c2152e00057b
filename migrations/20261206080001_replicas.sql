-- Replicas sharing one PostgreSQL database (replicas/liveness.rs): each one's last sign of life.
-- A replica silent for seconds is taken for gone and the work it had claimed is released.
CREATE TABLE replicas (
    id TEXT PRIMARY KEY,
    started_at BIGINT NOT NULL,
    seen_at BIGINT NOT NULL
);

-- Files every replica must hold the same (replicas/shared_files.rs): the token signing key ring
-- and the notification secret. updated_at: the file's modification time (ms).
CREATE TABLE shared_files (
    name TEXT PRIMARY KEY,
    content TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- The reconcile among replicas (sync/turns.rs): when the last run that finished had started,
-- and since when one runs (NULL: none). One row.
CREATE TABLE reconcile_turns (
    id INTEGER PRIMARY KEY,
    running_since BIGINT,
    last_started_at BIGINT
);
INSERT INTO reconcile_turns (id, running_since, last_started_at) VALUES (1, NULL, NULL);
