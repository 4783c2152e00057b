-- The blobs each image manifest references (its config and its layers) with their sizes, so
-- storage insights, retention and garbage collection can tell which bytes an image holds and
-- which images share them. An index (multi-platform) manifest has no rows of its own: its
-- platform manifests have them. Rows never change once written, like the manifests they
-- describe; whether an image is still in the registry is `repository_manifests`.
CREATE TABLE manifest_blobs (
    manifest_digest TEXT NOT NULL,
    blob_digest TEXT NOT NULL,
    -- Compressed bytes as the manifest's descriptor gives them.
    size BIGINT NOT NULL,
    -- 'config' or 'layer'.
    kind TEXT NOT NULL,
    PRIMARY KEY (manifest_digest, blob_digest)
);
CREATE INDEX manifest_blobs_blob ON manifest_blobs (blob_digest);

-- How far the one-time fill of manifest_blobs from the manifests already indexed (their bytes
-- are in blob_cache) has come: the last manifest digest done, so a restart goes on from there.
CREATE TABLE manifest_blobs_backfill (
    id BIGINT PRIMARY KEY,
    after_digest TEXT NOT NULL,
    done BIGINT NOT NULL DEFAULT 0
);
INSERT INTO manifest_blobs_backfill (id, after_digest, done) VALUES (1, '', 0);
