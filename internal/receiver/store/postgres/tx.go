// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coex-operator/coex-operator/internal/receiver/store"
)

// pgTx is a batch's store.Tx. A payload hash is looked up as it comes (one per record). Item
// keys (one per message, chunk, contact: thousands per batch) are answered from the stream's
// set in memory (see seenSet) and the new ones stored as one row per stream at the commit.
// The writes whose results nobody reads before the commit (counts, events) are kept in memory
// and sent at the end too.
type pgTx struct {
	ctx   context.Context // Apply's
	tx    pgx.Tx
	cache *seenCache

	bodies  map[string]struct{} // hashes known remembered
	streams map[string]*streamState
	emits   map[string][][]byte
	emitted bool
}

// streamState is what a transaction holds of one stream (a number), whose numbers row it
// keeps locked from the first use to the end.
type streamState struct {
	counts  *store.NumberCounts
	version int64 // seen_version as read under the lock
	counted bool  // Number was asked for it: Touched reports it
	seen    *seenSet
	added   map[string]struct{} // keys this transaction stores
	reset   bool                // its keys were dropped (another CoexNumber of the same name)
}

// changesSeen reports whether the commit changes the stream's sets, and so its version.
func (st *streamState) changesSeen() bool { return st.reset || len(st.added) > 0 }

var _ store.Tx = (*pgTx)(nil)

func newTx(ctx context.Context, tx pgx.Tx, cache *seenCache) *pgTx {
	return &pgTx{ctx: ctx, tx: tx, cache: cache, bodies: map[string]struct{}{},
		streams: map[string]*streamState{}, emits: map[string][][]byte{}}
}

// FirstBody implements store.Tx.
func (t *pgTx) FirstBody(hash []byte, at time.Time) (bool, error) {
	if _, ok := t.bodies[string(hash)]; ok {
		return false, nil
	}
	tag, err := t.tx.Exec(t.ctx, `INSERT INTO bodies (hash, first_seen) VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING`, hash, at)
	if err != nil {
		return false, fmt.Errorf("payload hash: %w", err)
	}
	t.bodies[string(hash)] = struct{}{}
	return tag.RowsAffected() == 1, nil
}

// FirstSeen implements store.Tx, from the stream's set.
func (t *pgTx) FirstSeen(stream string, key []byte) (bool, error) {
	st, err := t.stream(stream)
	if err != nil {
		return false, err
	}
	if st.seen == nil {
		if st.seen = t.cache.take(stream, st.version); st.seen == nil {
			if st.seen, err = loadSeen(t.ctx, t.tx, stream, st.version); err != nil {
				return false, err
			}
		}
	}
	if _, ok := st.seen.keys[string(key)]; ok {
		return false, nil
	}
	if _, ok := st.added[string(key)]; ok {
		return false, nil
	}
	if st.added == nil {
		st.added = map[string]struct{}{}
	}
	st.added[string(key)] = struct{}{}
	return true, nil
}

// Number implements store.Tx. The row is locked (FOR UPDATE) until the commit: a number's
// records normally come through one MetaApp, whose lock serializes them already, but a
// CoexNumber moved to another app could otherwise be counted by two receivers at once and
// lose one's update.
func (t *pgTx) Number(stream, uid string) (*store.NumberCounts, error) {
	st, err := t.stream(stream)
	if err != nil {
		return nil, err
	}
	st.counted = true
	c := st.counts
	if uid != "" && c.UID != uid {
		if c.UID != "" {
			// Another CoexNumber of the same name: its history arrives again and is counted
			// again. Its events still in the outbox stay.
			if _, err := t.tx.Exec(t.ctx, `DELETE FROM seen_sets WHERE stream = $1`, stream); err != nil {
				return nil, fmt.Errorf("dropping the seen keys of %s: %w", stream, err)
			}
			st.seen = &seenSet{stream: stream, keys: map[string]struct{}{}}
			st.added, st.reset = nil, true
			*c = store.NumberCounts{}
		}
		c.UID = uid
	}
	return c, nil
}

// stream returns the transaction's state of stream, locking and reading its numbers row on
// first use.
func (t *pgTx) stream(stream string) (*streamState, error) {
	if st, ok := t.streams[stream]; ok {
		return st, nil
	}
	const sel = `SELECT counts, seen_version FROM numbers WHERE stream = $1 FOR UPDATE`
	var raw []byte
	st := &streamState{}
	err := t.tx.QueryRow(t.ctx, sel, stream).Scan(&raw, &st.version)
	if errors.Is(err, pgx.ErrNoRows) {
		// A new number: insert a row to lock, so two first loads serialize too. Saving at
		// commit overwrites it; a rollback removes it.
		if _, err = t.tx.Exec(t.ctx, `INSERT INTO numbers (stream, counts) VALUES ($1, '{}') ON CONFLICT (stream) DO NOTHING`, stream); err == nil {
			err = t.tx.QueryRow(t.ctx, sel, stream).Scan(&raw, &st.version)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("counts of %s: %w", stream, err)
	}
	st.counts = &store.NumberCounts{}
	if err := json.Unmarshal(raw, st.counts); err != nil {
		return nil, fmt.Errorf("counts of %s are corrupt: %w", stream, err)
	}
	t.streams[stream] = st
	return st, nil
}

// end gives the streams' sets back to the cache: with this transaction's keys and the new
// version when it committed, as they were read when it did not (its changes are undone).
func (t *pgTx) end(committed bool) {
	for _, st := range t.streams {
		if st.seen == nil || !committed && st.reset {
			continue
		}
		if committed && st.changesSeen() {
			for k := range st.added {
				st.seen.add(k)
			}
			st.seen.version = st.version + 1
		}
		t.cache.put(st.seen)
	}
}

// Touched implements store.Tx.
func (t *pgTx) Touched() []string {
	out := make([]string, 0, len(t.streams))
	for k, st := range t.streams {
		if st.counted {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// Bounds of one outbox row (a run of a stream's events): a Peek reads whole rows, so a run
// much larger than the relay's batch would be read again by each of its Peeks.
const (
	maxRunEvents = 256
	maxRunBytes  = 256 << 10
)

// runLength is how many of evs (at least one) go into the next outbox row.
func runLength(evs [][]byte) int {
	n, size := 0, 0
	for n < len(evs) && n < maxRunEvents && (n == 0 || size+len(evs[n]) <= maxRunBytes) {
		size += len(evs[n])
		n++
	}
	return n
}

// Emit implements store.Tx. The event's seq is given at commit (see outbox_streams).
func (t *pgTx) Emit(stream string, event []byte) error {
	t.emits[stream] = append(t.emits[stream], slices.Clone(event))
	return nil
}

// DeadLetter implements store.Tx. A later copy of the same payload keeps the first one's
// seq and time (when the trouble started) and updates the reason.
func (t *pgTx) DeadLetter(rec store.Record, hash []byte, reason string) error {
	_, err := t.tx.Exec(t.ctx, `
WITH forget AS (DELETE FROM bodies WHERE hash = $1)
INSERT INTO dead_letters (hash, seq, namespace, app, received_at, reason, body)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (hash) DO UPDATE SET reason = EXCLUDED.reason`,
		hash, int64(rec.Seq), rec.Namespace, rec.App, rec.ReceivedAt, reason, rec.Body)
	if err != nil {
		return fmt.Errorf("dead letter of record %d: %w", rec.Seq, err)
	}
	delete(t.bodies, string(hash))
	return nil
}

// commit writes the counts and events kept in memory, removes the claimed records and
// commits: the counts, the counters and the removal in one round trip, the events by COPY.
func (t *pgTx) commit(seqs []int64) error {
	var q pgx.Batch
	var streams, counts []string
	var versions []int64
	for s, st := range t.streams {
		v, err := json.Marshal(st.counts)
		if err != nil {
			return err
		}
		version := st.version
		if st.changesSeen() {
			version++
		}
		streams, counts, versions = append(streams, s), append(counts, string(v)), append(versions, version)
		if len(st.added) > 0 {
			keys := make([][]byte, 0, len(st.added))
			for k := range st.added {
				keys = append(keys, []byte(k))
			}
			q.Queue(`INSERT INTO seen_sets (stream, keys) VALUES ($1, $2)`, s, keys)
		}
	}
	if len(streams) > 0 {
		q.Queue(`UPDATE numbers n SET counts = u.counts::jsonb, seen_version = u.version
FROM unnest($1::text[], $2::text[], $3::bigint[]) AS u(stream, counts, version) WHERE n.stream = u.stream`,
			streams, counts, versions)
	}
	var emitting []string
	if len(t.emits) > 0 {
		ns := make([]int64, 0, len(t.emits))
		for s := range t.emits {
			emitting = append(emitting, s)
		}
		slices.Sort(emitting) // counters locked in one order by every receiver: no deadlock
		for _, s := range emitting {
			ns = append(ns, int64(len(t.emits[s])))
		}
		q.Queue(`INSERT INTO outbox_streams AS o (stream, last_seq)
SELECT u.stream, u.n FROM unnest($1::text[], $2::bigint[]) AS u(stream, n) ORDER BY u.stream
ON CONFLICT (stream) DO UPDATE SET last_seq = o.last_seq + EXCLUDED.last_seq
RETURNING stream, last_seq`, emitting, ns)
	}
	q.Queue(`DELETE FROM inbox WHERE seq = ANY($1)`, seqs)

	br := t.tx.SendBatch(t.ctx, &q)
	var err error
	for range q.Len() - 1 - min(len(emitting), 1) { // the key sets and counts
		if _, err = br.Exec(); err != nil {
			br.Close()
			return fmt.Errorf("saving counts and keys: %w", err)
		}
	}
	last := map[string]int64{}
	if len(emitting) > 0 {
		rows, err := br.Query()
		if err == nil {
			for rows.Next() {
				var s string
				var n int64
				if err = rows.Scan(&s, &n); err != nil {
					break
				}
				last[s] = n
			}
			rows.Close()
			if err == nil {
				err = rows.Err()
			}
		}
		if err != nil {
			br.Close()
			return fmt.Errorf("outbox sequences: %w", err)
		}
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("removing applied records: %w", err)
	}
	if tag.RowsAffected() != int64(len(seqs)) {
		// Cannot happen while the app lock and the row locks hold; if it does, something
		// else applied these records, and committing would apply them twice.
		return fmt.Errorf("only %d of the %d claimed records were still in the inbox", tag.RowsAffected(), len(seqs))
	}

	if len(emitting) > 0 {
		var rows [][]any
		for _, s := range emitting {
			evs := t.emits[s]
			first := last[s] - int64(len(evs)) + 1
			for len(evs) > 0 {
				n := runLength(evs)
				rows = append(rows, []any{s, first + int64(n) - 1, first, evs[:n]})
				evs, first = evs[n:], first+int64(n)
			}
		}
		if _, err := t.tx.CopyFrom(t.ctx, pgx.Identifier{"outbox"}, []string{"stream", "seq", "first_seq", "events"}, pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("writing the outbox: %w", err)
		}
		t.emitted = true
	}
	if err := t.tx.Commit(t.ctx); err != nil {
		t.emitted = false
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
