// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/coex-operator/coex-operator/internal/receiver/store"
)

// Streams implements store.Outbox, with a skip scan of outbox's primary key: one probe per
// stream, however many events wait.
func (s *Store) Streams(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `
WITH RECURSIVE st (stream) AS (
    (SELECT stream FROM outbox ORDER BY stream LIMIT 1)
  UNION ALL
    SELECT (SELECT o.stream FROM outbox o WHERE o.stream > st.stream ORDER BY o.stream LIMIT 1)
      FROM st WHERE st.stream IS NOT NULL
)
SELECT stream FROM st WHERE stream IS NOT NULL`)
	if err != nil {
		return nil, s.closedErr(s.check(err))
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return out, s.closedErr(s.check(err))
}

// OutboxDepth implements store.Outbox.
func (s *Store) OutboxDepth(ctx context.Context) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT coalesce(sum(o.seq - greatest(o.first_seq - 1, s.acked)), 0)
FROM outbox o JOIN outbox_streams s ON s.stream = o.stream WHERE o.seq > s.acked`).Scan(&n)
	return n, s.closedErr(s.check(err))
}

// Lease implements store.Outbox: a session advisory lock on a connection kept for the lease.
// A receiver that dies loses the connection, and the server the lock, within seconds (at once
// when the process exits; after the TCP keepalives when its node vanishes).
func (s *Store) Lease(ctx context.Context, stream string) (store.Lease, bool, error) {
	if s.closing.Load() {
		return nil, false, store.ErrClosed
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, false, s.closedErr(err)
	}
	key := outboxLockKey(stream)
	var ok bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&ok); err != nil {
		conn.Release()
		return nil, false, s.closedErr(s.check(err))
	}
	if !ok {
		conn.Release()
		return nil, false, nil
	}
	l := &lease{s: s, stream: stream, key: key, conn: conn}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		l.release()
		return nil, false, store.ErrClosed
	}
	s.leases[l] = struct{}{}
	return l, true, nil
}

type lease struct {
	s      *Store
	stream string
	key    int64

	mu   sync.Mutex
	conn *pgxpool.Conn // nil once released
}

var errLeaseReleased = errors.New("postgres store: outbox lease already released")

// Peek implements store.Lease. It runs on the lease's connection: if that connection is gone,
// so is the lock, and Peek fails instead of reading unlocked.
func (l *lease) Peek(ctx context.Context, max int) ([]store.OutboxItem, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return nil, errLeaseReleased
	}
	// The rows holding the events after acked, up to max of them: seqs have no gaps (see
	// outbox_streams), so those are the rows starting at or before acked+max.
	rows, err := l.conn.Query(ctx, `SELECT o.first_seq, o.events, s.acked FROM outbox_streams s
JOIN outbox o ON o.stream = s.stream AND o.seq > s.acked AND o.first_seq <= s.acked + $2
WHERE s.stream = $1 ORDER BY o.seq`, l.stream, max)
	if err != nil {
		return nil, l.s.check(fmt.Errorf("outbox of %s: %w", l.stream, err))
	}
	var out []store.OutboxItem
	var first, acked int64
	var events [][]byte
	_, err = pgx.ForEachRow(rows, []any{&first, &events, &acked}, func() error {
		for i, ev := range events {
			if seq := first + int64(i); seq > acked && len(out) < max {
				out = append(out, store.OutboxItem{Seq: uint64(seq), Event: ev})
			}
		}
		return nil
	})
	if err != nil {
		return nil, l.s.check(fmt.Errorf("outbox of %s: %w", l.stream, err))
	}
	return out, nil
}

// Ack implements store.Lease, on the lease's connection like Peek.
func (l *lease) Ack(ctx context.Context, seq uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return errLeaseReleased
	}
	// One statement, so the two agree even if the connection dies between them.
	if _, err := l.conn.Exec(ctx, `WITH gone AS (DELETE FROM outbox WHERE stream = $1 AND seq <= $2)
UPDATE outbox_streams SET acked = greatest(acked, least($2, last_seq)) WHERE stream = $1`, l.stream, int64(seq)); err != nil {
		return l.s.check(fmt.Errorf("acknowledging the outbox of %s: %w", l.stream, err))
	}
	return nil
}

// Release implements store.Lease.
func (l *lease) Release() {
	l.s.mu.Lock()
	delete(l.s.leases, l)
	l.s.mu.Unlock()
	l.release()
}

func (l *lease) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return
	}
	ctx, cancel := opCtx()
	defer cancel()
	var unlocked bool
	if err := l.conn.QueryRow(ctx, "SELECT pg_advisory_unlock($1)", l.key).Scan(&unlocked); err != nil || !unlocked {
		// A pooled connection must not keep the lock: closing it ends the session.
		_ = l.conn.Conn().Close(ctx)
	}
	l.conn.Release()
	l.conn = nil
}
