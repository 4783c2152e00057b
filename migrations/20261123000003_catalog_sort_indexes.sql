-- The catalog sorts by tag count, size and last push descending, then by name ascending: indexes
-- in that order let the database read the first page straight off the index.
DROP INDEX repositories_last_push;
DROP INDEX repositories_tag_count;
DROP INDEX repositories_size;
CREATE INDEX repositories_last_push ON repositories (last_push_at DESC, name ASC);
CREATE INDEX repositories_tag_count ON repositories (tag_count DESC, name ASC);
CREATE INDEX repositories_size ON repositories (size_bytes DESC, name ASC);
