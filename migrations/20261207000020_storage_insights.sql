-- Storage insights (docs/housekeeping.md): aggregates kept up to date from the index, so the
-- page reads a few rows whatever the size of the registry. Sizes are compressed bytes of
-- blobs (configs and layers, from manifest_blobs), each blob counted once where it is counted.
-- Times are Unix milliseconds; days are UTC days since the Unix epoch.

-- The distinct blobs of each repository (whatever the number of its images holding one).
CREATE TABLE storage_repository_blobs (
    repository TEXT NOT NULL,
    namespace TEXT NOT NULL,
    blob_digest TEXT NOT NULL,
    size BIGINT NOT NULL,
    PRIMARY KEY (repository, blob_digest)
);
CREATE INDEX storage_repository_blobs_blob ON storage_repository_blobs (blob_digest, namespace);

-- The distinct blobs of each namespace (the repositories directly in it).
CREATE TABLE storage_namespace_blobs (
    namespace TEXT NOT NULL,
    blob_digest TEXT NOT NULL,
    PRIMARY KEY (namespace, blob_digest)
);
CREATE INDEX storage_namespace_blobs_blob ON storage_namespace_blobs (blob_digest, namespace);

-- Every blob some repository holds: in how many repositories and namespaces.
CREATE TABLE storage_blobs (
    blob_digest TEXT PRIMARY KEY,
    size BIGINT NOT NULL,
    repositories BIGINT NOT NULL,
    namespaces BIGINT NOT NULL
);
CREATE INDEX storage_blobs_namespaces ON storage_blobs (namespaces);

-- Per repository: its blobs' bytes, and the part of them in blobs other repositories hold too.
CREATE TABLE storage_repositories (
    repository TEXT PRIMARY KEY,
    namespace TEXT NOT NULL,
    bytes BIGINT NOT NULL,
    shared_bytes BIGINT NOT NULL,
    blobs BIGINT NOT NULL
);
CREATE INDEX storage_repositories_bytes ON storage_repositories (bytes, repository);
CREATE INDEX storage_repositories_namespace ON storage_repositories (namespace, bytes);

-- Per namespace (the repositories directly in it), each blob once: bytes; of those, bytes of
-- blobs more than one repository holds (shared) and of blobs other namespaces hold too (cross).
CREATE TABLE storage_namespaces (
    namespace TEXT PRIMARY KEY,
    bytes BIGINT NOT NULL,
    shared_bytes BIGINT NOT NULL,
    cross_bytes BIGINT NOT NULL,
    repositories BIGINT NOT NULL
);
CREATE INDEX storage_namespaces_bytes ON storage_namespaces (bytes, namespace);

-- The registry, each blob once. built = 0 until the first full computation.
CREATE TABLE storage_totals (
    id BIGINT PRIMARY KEY,
    bytes BIGINT NOT NULL,
    shared_bytes BIGINT NOT NULL,
    blobs BIGINT NOT NULL,
    built BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
INSERT INTO storage_totals (id, bytes, shared_bytes, blobs, built, updated_at) VALUES (1, 0, 0, 0, 0, 0);

-- Repositories whose images changed since their aggregates were computed.
CREATE TABLE storage_dirty (
    repository TEXT PRIMARY KEY,
    marked_at BIGINT NOT NULL
);

-- One row per day: the registry's bytes at the day's last refresh (NULL until one ran that
-- day) and the tags pushed that day (counted as the index applies push events, so the count
-- outlives the events).
CREATE TABLE storage_daily (
    day BIGINT PRIMARY KEY,
    bytes BIGINT,
    pushes BIGINT NOT NULL DEFAULT 0
);

-- The same per namespace.
CREATE TABLE storage_daily_namespaces (
    day BIGINT NOT NULL,
    namespace TEXT NOT NULL,
    bytes BIGINT,
    pushes BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, namespace)
);

-- Images not pulled for a while are found oldest push first.
CREATE INDEX tags_pushed_at ON tags (pushed_at);
