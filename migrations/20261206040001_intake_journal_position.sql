-- How far the intake journal (a file next to a SQLite database, see intake_journal.rs) has been
-- stored: the file's epoch and the byte offset after the last stored envelope, written in the
-- same transaction as the envelopes' events. One row; unused on PostgreSQL.
CREATE TABLE intake_journal_position (
    id INTEGER PRIMARY KEY,
    epoch BIGINT NOT NULL,
    stored_through BIGINT NOT NULL
);
