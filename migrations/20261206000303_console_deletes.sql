-- Deletes made in the console, recorded before the registry is asked. The registry reports them
-- as done by the console's own token; webhooks name the user who deleted instead. `digest` is
-- what the registry is asked to delete: the image, or the placeholder of a tag-only delete.
CREATE TABLE console_deletes (
    repository TEXT NOT NULL,
    digest TEXT NOT NULL,
    actor TEXT NOT NULL,
    -- The media type of the deleted image (the registry's delete events carry none).
    media_type TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (repository, digest)
);
CREATE INDEX console_deletes_created ON console_deletes (created_at);
