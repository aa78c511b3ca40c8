// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/coex-operator/coex-operator/internal/receiver/store"
)

// appendAttempts bounds Append's own retries; beyond them the caller answers 5xx and Meta
// retries later.
const appendAttempts = 3

// Append implements store.Inbox: one autocommit INSERT, durable when it returns (see
// setupSession). Concurrent appends share WAL flushes in the server (group commit).
func (s *Store) Append(ctx context.Context, rec *store.Record) error {
	pause := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		if s.closing.Load() {
			return store.ErrClosed
		}
		var seq int64
		err := s.pool.QueryRow(ctx,
			`INSERT INTO inbox (namespace, app, received_at, body) VALUES ($1, $2, $3, $4) RETURNING seq`,
			rec.Namespace, rec.App, rec.ReceivedAt, rec.Body).Scan(&seq)
		if err == nil {
			rec.Seq = uint64(seq)
			signal(s.appended)
			s.notifyInbox()
			return nil
		}
		if s.closing.Load() {
			return store.ErrClosed
		}
		s.check(err)
		if attempt == appendAttempts || !retryable(err) || ctx.Err() != nil {
			return fmt.Errorf("append: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("append: %w", err)
		case <-time.After(pause):
		}
		pause *= 4
	}
}

// Depth implements store.Inbox: every record not yet applied, claimed ones included.
func (s *Store) Depth(ctx context.Context) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, "SELECT count(*) FROM inbox").Scan(&n)
	return n, s.closedErr(s.check(err))
}
