-- Finding what holds a digest, whatever the repository: the second pass of a reconcile (which
-- repository to read a config from, which tags' estimated push times to move) looks up by digest
-- alone, thousands of times.
CREATE INDEX repository_manifests_by_digest ON repository_manifests (digest);
CREATE INDEX tags_by_digest ON tags (digest);
