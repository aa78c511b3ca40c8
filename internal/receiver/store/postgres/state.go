// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coex-operator/coex-operator/internal/receiver/store"
)

// Counts implements store.Store.
func (s *Store) Counts(ctx context.Context, stream string) (store.NumberCounts, bool, error) {
	var c store.NumberCounts
	var raw []byte
	err := s.pool.QueryRow(ctx, `SELECT counts FROM numbers WHERE stream = $1`, stream).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, false, nil
	}
	if err != nil {
		return c, false, s.closedErr(s.check(err))
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return c, false, fmt.Errorf("counts of %s are corrupt: %w", stream, err)
	}
	return c, true, nil
}

// Numbers implements store.Store.
func (s *Store) Numbers(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT stream FROM numbers ORDER BY stream`)
	if err != nil {
		return nil, s.closedErr(s.check(err))
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return out, s.closedErr(s.check(err))
}

// pruneChunk bounds one PruneBodies statement, so a week of hashes is not one huge
// transaction holding its locks and WAL.
const pruneChunk = 10000

// PruneBodies implements store.Store.
func (s *Store) PruneBodies(ctx context.Context, cutoff time.Time) (int, error) {
	total := 0
	for {
		tag, err := s.pool.Exec(ctx, `DELETE FROM bodies WHERE hash IN (
			SELECT hash FROM bodies WHERE first_seen < $1 LIMIT $2)`, cutoff, pruneChunk)
		if err != nil {
			return total, s.closedErr(s.check(err))
		}
		total += int(tag.RowsAffected())
		if tag.RowsAffected() < pruneChunk {
			return total, nil
		}
	}
}

// DeadLetters implements store.DeadLetters.
func (s *Store) DeadLetters(ctx context.Context) ([]store.DeadLetter, error) {
	rows, err := s.pool.Query(ctx, `SELECT seq, namespace, app, received_at, reason, body FROM dead_letters ORDER BY seq, hash`)
	if err != nil {
		return nil, s.closedErr(s.check(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.DeadLetter, error) {
		var d store.DeadLetter
		var seq int64
		err := r.Scan(&seq, &d.Namespace, &d.App, &d.ReceivedAt, &d.Reason, &d.Body)
		d.Seq = uint64(seq)
		return d, err
	})
	return out, s.closedErr(s.check(err))
}

// ReplayDeadLetters implements store.DeadLetters: one statement moves them, oldest first, so
// a crash leaves them either all dead letters or all in the inbox.
func (s *Store) ReplayDeadLetters(ctx context.Context) (int, error) {
	tag, err := s.pool.Exec(ctx, `
WITH d AS (DELETE FROM dead_letters RETURNING seq, namespace, app, received_at, body)
INSERT INTO inbox (namespace, app, received_at, body)
SELECT namespace, app, received_at, body FROM d ORDER BY seq`)
	if err != nil {
		return 0, s.closedErr(s.check(err))
	}
	if n := tag.RowsAffected(); n > 0 {
		signal(s.appended)
		s.notifyInbox()
	}
	return int(tag.RowsAffected()), nil
}
