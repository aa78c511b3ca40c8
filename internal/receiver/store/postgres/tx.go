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

// pgTx is a batch's store.Tx. A payload hash is looked up as it comes (one per record). The
// item keys (one per message, chunk, contact: thousands per batch) are not: FirstSeen answers
// from memory, taking a key as new unless this transaction or an earlier run of it knows it
// was seen, and flushSeen inserts them all in one statement. If any was already stored,
// Apply rolls back to before fn and runs it again knowing those keys (see batch.Apply): a
// round trip per batch instead of one per message. The writes whose results nobody reads
// before the commit (counts, events) are kept in memory and sent at the end.
type pgTx struct {
	ctx context.Context // Apply's
	tx  pgx.Tx

	bodies  map[string]struct{}            // hashes known remembered
	seen    map[string]map[string]struct{} // stream -> keys this run takes as new
	known   map[string]map[string]struct{} // stream -> keys stored before this transaction
	numbers map[string]*store.NumberCounts
	emits   map[string][][]byte
	emitted bool
}

var _ store.Tx = (*pgTx)(nil)

func newTx(ctx context.Context, tx pgx.Tx, known map[string]map[string]struct{}) *pgTx {
	if known == nil {
		known = map[string]map[string]struct{}{}
	}
	return &pgTx{ctx: ctx, tx: tx, bodies: map[string]struct{}{}, seen: map[string]map[string]struct{}{},
		known: known, numbers: map[string]*store.NumberCounts{}, emits: map[string][][]byte{}}
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

// FirstSeen implements store.Tx, from memory (see pgTx); flushSeen checks it.
func (t *pgTx) FirstSeen(stream string, key []byte) (bool, error) {
	if _, ok := t.known[stream][string(key)]; ok {
		return false, nil
	}
	keys := t.seen[stream]
	if _, ok := keys[string(key)]; ok {
		return false, nil
	}
	if keys == nil {
		keys = map[string]struct{}{}
		t.seen[stream] = keys
	}
	keys[string(key)] = struct{}{}
	return true, nil
}

// flushSeen stores the keys this run took as new, in one statement. When some were stored
// already, it returns them, read after the caller rolled back to before fn (rollback), so
// that fn runs again knowing them.
func (t *pgTx) flushSeen(rollback func() error) (map[string]map[string]struct{}, error) {
	var streams []string
	var keys [][]byte
	for s, ks := range t.seen {
		for k := range ks {
			streams, keys = append(streams, s), append(keys, []byte(k))
		}
	}
	if len(keys) == 0 {
		return nil, nil
	}
	tag, err := t.tx.Exec(t.ctx, `INSERT INTO seen (stream, key) SELECT * FROM unnest($1::text[], $2::bytea[])
ON CONFLICT (stream, key) DO NOTHING`, streams, keys)
	if err != nil {
		return nil, fmt.Errorf("seen keys: %w", err)
	}
	if tag.RowsAffected() == int64(len(keys)) {
		return nil, nil
	}
	if err := rollback(); err != nil {
		return nil, err
	}
	rows, err := t.tx.Query(t.ctx, `SELECT s.stream, s.key FROM seen s
JOIN unnest($1::text[], $2::bytea[]) AS u(stream, key) ON s.stream = u.stream AND s.key = u.key`, streams, keys)
	if err != nil {
		return nil, fmt.Errorf("seen keys: %w", err)
	}
	defer rows.Close()
	found := map[string]map[string]struct{}{}
	for rows.Next() {
		var s string
		var k []byte
		if err := rows.Scan(&s, &k); err != nil {
			return nil, fmt.Errorf("seen keys: %w", err)
		}
		if found[s] == nil {
			found[s] = map[string]struct{}{}
		}
		found[s][string(k)] = struct{}{}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("seen keys: %w", err)
	}
	return found, nil
}

// Number implements store.Tx. The row is locked (FOR UPDATE) until the commit: a number's
// records normally come through one MetaApp, whose lock serializes them already, but a
// CoexNumber moved to another app could otherwise be counted by two receivers at once and
// lose one's update.
func (t *pgTx) Number(stream, uid string) (*store.NumberCounts, error) {
	c, ok := t.numbers[stream]
	if !ok {
		var err error
		if c, err = t.loadNumber(stream); err != nil {
			return nil, err
		}
		t.numbers[stream] = c
	}
	if uid != "" && c.UID != uid {
		if c.UID != "" {
			// Another CoexNumber of the same name: its history arrives again and is counted
			// again. Its events still in the outbox stay.
			if _, err := t.tx.Exec(t.ctx, `DELETE FROM seen WHERE stream = $1`, stream); err != nil {
				return nil, fmt.Errorf("dropping the seen keys of %s: %w", stream, err)
			}
			delete(t.seen, stream)
			delete(t.known, stream)
			*c = store.NumberCounts{}
		}
		c.UID = uid
	}
	return c, nil
}

func (t *pgTx) loadNumber(stream string) (*store.NumberCounts, error) {
	const sel = `SELECT counts FROM numbers WHERE stream = $1 FOR UPDATE`
	var raw []byte
	err := t.tx.QueryRow(t.ctx, sel, stream).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		// A new number: insert a row to lock, so two first loads serialize too. Saving at
		// commit overwrites it; a rollback removes it.
		if _, err = t.tx.Exec(t.ctx, `INSERT INTO numbers (stream, counts) VALUES ($1, '{}') ON CONFLICT (stream) DO NOTHING`, stream); err == nil {
			err = t.tx.QueryRow(t.ctx, sel, stream).Scan(&raw)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("counts of %s: %w", stream, err)
	}
	c := &store.NumberCounts{}
	if err := json.Unmarshal(raw, c); err != nil {
		return nil, fmt.Errorf("counts of %s are corrupt: %w", stream, err)
	}
	return c, nil
}

// Touched implements store.Tx.
func (t *pgTx) Touched() []string {
	out := make([]string, 0, len(t.numbers))
	for k := range t.numbers {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
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
	if len(t.numbers) > 0 {
		streams := make([]string, 0, len(t.numbers))
		counts := make([]string, 0, len(t.numbers))
		for _, s := range t.Touched() {
			v, err := json.Marshal(t.numbers[s])
			if err != nil {
				return err
			}
			streams, counts = append(streams, s), append(counts, string(v))
		}
		q.Queue(`INSERT INTO numbers (stream, counts)
SELECT u.stream, u.counts::jsonb FROM unnest($1::text[], $2::text[]) AS u(stream, counts)
ON CONFLICT (stream) DO UPDATE SET counts = EXCLUDED.counts`, streams, counts)
	}
	var streams []string
	if len(t.emits) > 0 {
		ns := make([]int64, 0, len(t.emits))
		for s := range t.emits {
			streams = append(streams, s)
		}
		slices.Sort(streams) // counters locked in one order by every receiver: no deadlock
		for _, s := range streams {
			ns = append(ns, int64(len(t.emits[s])))
		}
		q.Queue(`INSERT INTO outbox_streams AS o (stream, last_seq)
SELECT u.stream, u.n FROM unnest($1::text[], $2::bigint[]) AS u(stream, n) ORDER BY u.stream
ON CONFLICT (stream) DO UPDATE SET last_seq = o.last_seq + EXCLUDED.last_seq
RETURNING stream, last_seq`, streams, ns)
	}
	q.Queue(`DELETE FROM inbox WHERE seq = ANY($1)`, seqs)

	br := t.tx.SendBatch(t.ctx, &q)
	var err error
	if len(t.numbers) > 0 {
		if _, err = br.Exec(); err != nil {
			br.Close()
			return fmt.Errorf("saving counts: %w", err)
		}
	}
	last := map[string]int64{}
	if len(streams) > 0 {
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

	if len(streams) > 0 {
		var rows [][]any
		for _, s := range streams {
			evs := t.emits[s]
			seq := last[s] - int64(len(evs))
			for _, ev := range evs {
				seq++
				rows = append(rows, []any{s, seq, ev})
			}
		}
		if _, err := t.tx.CopyFrom(t.ctx, pgx.Identifier{"outbox"}, []string{"stream", "seq", "event"}, pgx.CopyFromRows(rows)); err != nil {
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
