-- The receiver's tables. Everything a batch changes is in this one database, so a batch's
-- effects and the removal of its records from the inbox commit in one transaction.

-- Verified webhook bodies waiting to be applied. seq orders them and is never reused (an
-- identity never goes back); a row leaves only in the transaction that applies it.
CREATE TABLE inbox (
    seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    namespace   text        NOT NULL,
    app         text        NOT NULL,
    received_at timestamptz NOT NULL,
    body        bytea       NOT NULL
);

-- Payload hashes already applied, to drop Meta's duplicate deliveries; pruned after Meta's
-- retry window.
CREATE TABLE bodies (
    hash       bytea PRIMARY KEY,
    first_seen timestamptz NOT NULL
);

-- De-duplication keys per stream (message ids, chunks, contact changes).
CREATE TABLE seen (
    stream text  NOT NULL,
    key    bytea NOT NULL,
    PRIMARY KEY (stream, key)
);

-- Each number's counts, as the JSON of store.NumberCounts (jsonb, so a human can query it).
CREATE TABLE numbers (
    stream text PRIMARY KEY,
    counts jsonb NOT NULL
);

-- The last outbox sequence given out per stream. A transaction takes the next ones by
-- updating this row, which it then holds locked until it commits: a stream's sequences are
-- therefore given out in commit order, and the relay never sees seq n+1 before seq n has
-- committed (which a shared sequence would allow, and an Ack up to n+1 would then delete n
-- unsent).
CREATE TABLE outbox_streams (
    stream   text PRIMARY KEY,
    last_seq bigint NOT NULL
);

-- Events waiting to be relayed, in order per stream.
CREATE TABLE outbox (
    stream text   NOT NULL,
    seq    bigint NOT NULL,
    event  bytea  NOT NULL,
    PRIMARY KEY (stream, seq)
);

-- Bodies that could not be applied, kept for a human, one per payload hash.
CREATE TABLE dead_letters (
    hash        bytea PRIMARY KEY,
    seq         bigint      NOT NULL,
    namespace   text        NOT NULL,
    app         text        NOT NULL,
    received_at timestamptz NOT NULL,
    reason      text        NOT NULL,
    body        bytea       NOT NULL
);
