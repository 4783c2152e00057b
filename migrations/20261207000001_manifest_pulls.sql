-- Pulls per image, for retention's "pulled within" rule and the storage pages: one row per
-- (repository, manifest), updated in place by each pull event, so the table stays as big as
-- the index however many pulls there are. Times are Unix milliseconds.
CREATE TABLE manifest_pulls (
    repository TEXT NOT NULL,
    digest TEXT NOT NULL,
    last_pulled_at BIGINT NOT NULL,
    pull_count BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (repository, digest)
);
CREATE INDEX manifest_pulls_last ON manifest_pulls (last_pulled_at);
