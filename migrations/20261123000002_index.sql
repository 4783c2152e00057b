-- The index of the registry's content that pages read (see docs/registry.md).
-- Portable SQL: runs unchanged on SQLite and PostgreSQL. Times are Unix milliseconds.

-- One row per repository in the registry's catalog.
CREATE TABLE repositories (
    name TEXT PRIMARY KEY,
    -- Everything before the last '/', '' for a top-level repository.
    namespace TEXT NOT NULL,
    tag_count BIGINT NOT NULL DEFAULT 0,
    -- Sum of the compressed sizes of the distinct tagged images (shared layers counted per image).
    size_bytes BIGINT NOT NULL DEFAULT 0,
    -- 0 until a tag is pushed (NOT NULL keeps the sort on the index).
    last_push_at BIGINT NOT NULL DEFAULT 0,
    indexed_at BIGINT NOT NULL
);
CREATE INDEX repositories_namespace ON repositories (namespace, name);
CREATE INDEX repositories_last_push ON repositories (last_push_at, name);
CREATE INDEX repositories_tag_count ON repositories (tag_count, name);
CREATE INDEX repositories_size ON repositories (size_bytes, name);

-- Manifests by digest: immutable content, so a row never changes once written.
CREATE TABLE manifests (
    digest TEXT PRIMARY KEY,
    media_type TEXT NOT NULL,
    -- Bytes of the manifest itself.
    manifest_size BIGINT NOT NULL,
    -- Compressed image size: config + layers; for an index, the sum over its platform images.
    total_size BIGINT NOT NULL,
    -- 'image', 'index' or 'unknown' (unparseable or an unknown media type).
    kind TEXT NOT NULL,
    config_digest TEXT,
    -- JSON array of {os, architecture, variant, digest, size} (one entry for a plain image).
    platforms TEXT NOT NULL,
    -- The config's "created", RFC 3339, as written by the builder.
    created TEXT,
    layer_count BIGINT NOT NULL DEFAULT 0,
    -- JSON: annotations, config labels, the digest of the subject (for signatures and SBOMs).
    annotations TEXT NOT NULL,
    labels TEXT NOT NULL,
    subject TEXT,
    indexed_at BIGINT NOT NULL
);

-- Manifests present in a repository (tagged or not: the platform manifests of an index).
CREATE TABLE repository_manifests (
    repository TEXT NOT NULL,
    digest TEXT NOT NULL,
    first_seen_at BIGINT NOT NULL,
    PRIMARY KEY (repository, digest)
);

-- Tag -> digest, with the push time (from the event; estimated from the config when only
-- reconcile saw the tag).
CREATE TABLE tags (
    repository TEXT NOT NULL,
    tag TEXT NOT NULL,
    digest TEXT NOT NULL,
    pushed_at BIGINT NOT NULL,
    push_estimated BIGINT NOT NULL DEFAULT 0,
    -- For cosign-style tags (sha256-<hex>.sig/.att/.sbom): the digest they are attached to.
    attached_to TEXT,
    PRIMARY KEY (repository, tag)
);
CREATE INDEX tags_digest ON tags (repository, digest);
CREATE INDEX tags_pushed ON tags (repository, pushed_at);

-- Content-addressed cache of manifest and config blobs (JSON text), kept forever.
CREATE TABLE blob_cache (
    digest TEXT PRIMARY KEY,
    media_type TEXT NOT NULL,
    content TEXT NOT NULL,
    stored_at BIGINT NOT NULL
);

-- Which stored events the index has applied.
ALTER TABLE registry_events ADD COLUMN indexed_at BIGINT;
CREATE INDEX registry_events_pending ON registry_events (indexed_at, received_at);
