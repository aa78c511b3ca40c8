-- Item keys and outbox events as sets, instead of one row each: a history of 500,000 messages
-- was 500,000 key insertions and as many probes, and 500,000 outbox rows (a few microseconds
-- of server time each, the receiver's largest cost); it is now a few thousand rows.

-- Item keys: one row per transaction and stream, holding every key that transaction stored.
-- Receivers keep a stream's keys in memory while they apply it and check that they are current
-- by the stream's seen_version, which every transaction that changes its sets raises (holding
-- the numbers row locked, as all writers of a stream's keys do).
CREATE TABLE seen_sets (
    stream     text        NOT NULL,
    id         bigint      GENERATED ALWAYS AS IDENTITY,
    created_at timestamptz NOT NULL DEFAULT now(),
    keys       bytea[]     NOT NULL,
    PRIMARY KEY (stream, id)
);
-- Keys are hashes: compressing them costs time and saves nothing.
ALTER TABLE seen_sets ALTER COLUMN keys SET STORAGE EXTERNAL;

ALTER TABLE numbers ADD COLUMN seen_version bigint NOT NULL DEFAULT 0;

-- Carry the keys stored by version 2 over, one set per stream.
INSERT INTO seen_sets (stream, keys) SELECT stream, array_agg(key) FROM seen GROUP BY stream;
-- A stream with keys but no numbers row (not written by the receiver, but possible by hand)
-- gets one, so its version can be raised like any other.
INSERT INTO numbers (stream, counts) SELECT DISTINCT stream, '{}'::jsonb FROM seen ON CONFLICT (stream) DO NOTHING;
DROP TABLE seen;

-- Events: one row per run of up to 256 consecutive events of a stream, seq being the last
-- one's and first_seq the first one's. Ack deletes the rows it covers whole and records where
-- it stopped in outbox_streams.acked; the events of a partly acknowledged row up to acked are
-- skipped by readers.
ALTER TABLE outbox_streams ADD COLUMN acked bigint NOT NULL DEFAULT 0;
CREATE TABLE outbox_runs (
    stream    text    NOT NULL,
    seq       bigint  NOT NULL,
    first_seq bigint  NOT NULL,
    events    bytea[] NOT NULL,
    PRIMARY KEY (stream, seq),
    CHECK (first_seq <= seq AND cardinality(events) = seq - first_seq + 1)
);
INSERT INTO outbox_runs (stream, seq, first_seq, events) SELECT stream, seq, seq, ARRAY[event] FROM outbox;
-- Events acknowledged by version 2 were deleted: everything before the oldest left is acked.
UPDATE outbox_streams s SET acked = coalesce((SELECT min(o.seq) - 1 FROM outbox o WHERE o.stream = s.stream), s.last_seq);
DROP TABLE outbox;
ALTER TABLE outbox_runs RENAME TO outbox;
ALTER TABLE outbox RENAME CONSTRAINT outbox_runs_pkey TO outbox_pkey;
-- Events are JSON: lz4 shrinks them (and their WAL) several times over at little CPU; pglz,
-- the default, costs more CPU than writing them whole. A server built without lz4 keeps pglz.
DO $$ BEGIN
    ALTER TABLE outbox ALTER COLUMN events SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN NULL;
END $$;
