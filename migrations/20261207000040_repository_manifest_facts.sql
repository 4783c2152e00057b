-- What a retention run decides with, copied from `manifests` into each repository's manifest
-- row, so planning a run reads one range of `repository_manifests` per slice of repositories
-- instead of looking up every manifest by digest (1.4 million lookups: 7 to 12 s of a dry run
-- over 100,000 repositories). The facts come from the manifest's content, which never changes;
-- all NULL while the manifest itself is not indexed yet (it fills them when it is).

-- The manifest's kind: 'image', 'index' or 'unknown'.
ALTER TABLE repository_manifests ADD COLUMN kind TEXT;
-- The bytes a retention plan counts for it: config + layers of an image, the manifest itself
-- for an index (its platform images are counted on their own).
ALTER TABLE repository_manifests ADD COLUMN image_size BIGINT;
-- The image it is attached to (signature, attestation, SBOM).
ALTER TABLE repository_manifests ADD COLUMN subject TEXT;
-- For an index: its platforms, JSON as in manifests.platforms; NULL for anything else.
ALTER TABLE repository_manifests ADD COLUMN index_platforms TEXT;

UPDATE repository_manifests SET
    kind = m.kind,
    image_size = CASE WHEN m.kind = 'index' THEN m.manifest_size ELSE m.total_size END,
    subject = m.subject,
    index_platforms = CASE WHEN m.kind = 'index' THEN m.platforms END
FROM manifests m
WHERE m.digest = repository_manifests.digest;
