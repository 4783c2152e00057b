-- A manifest indexed without its config yet (a reconcile reads tags, digests and sizes first, the
-- config's platform, creation time and labels right after): 1 until those are filled in.
ALTER TABLE manifests ADD COLUMN details_pending BIGINT NOT NULL DEFAULT 0;
CREATE INDEX manifests_details_pending ON manifests (kind) WHERE details_pending = 1;
