-- The decided images of a retention run that nothing will act on (kept, and removals over the
-- policy's cap) are written packed: one row for a run of consecutive items of one repository
-- instead of one row each: a plan of 1.4 million images is 100,000 rows (writing it took 64 s
-- with a row each, 3 to 5 s packed; docs/benchmarks.md). The images a run deletes stay rows of
-- retention_run_items, where the run marks each of them. Together they are the plan, in seq order.
CREATE TABLE retention_run_packs (
    run_id TEXT NOT NULL,
    -- The seq of its first and last item; the items between have the seqs between.
    first_seq BIGINT NOT NULL,
    last_seq BIGINT NOT NULL,
    repository TEXT NOT NULL,
    -- How many of its items are kept, and how many are removals over the cap ('skipped').
    kept BIGINT NOT NULL,
    skipped BIGINT NOT NULL,
    -- JSON array of the items, in seq order (their digest, tags, push and pull times, size,
    -- reason and removal group).
    items TEXT NOT NULL,
    PRIMARY KEY (run_id, last_seq)
);
