// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// ErrOutOfOrder is returned by Apply for a batch that would break its MetaApp's order: an
// earlier batch of the same app is still held (apply that first), or was released or failed
// (the batch is void: release it; its records come again after the earlier ones).
var ErrOutOfOrder = errors.New("postgres store: batch applied out of claim order")

// errBatchDone is returned by Apply on a batch already applied, released or failed.
var errBatchDone = errors.New("postgres store: batch already applied or released")

// SQLSTATEs this package acts on.
const (
	stateReadOnly        = "25006" // read_only_sql_transaction: a standby or a demoted primary
	stateLockUnavailable = "55P03" // lock_not_available: FOR UPDATE NOWAIT met a locked row
)

func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// retryable reports whether an Append that failed with err may simply be sent again: the
// server refused to run it (read-only, shutting down, not accepting connections) or the
// connection failed. A connection that failed after the INSERT ran may have committed it,
// and the retry then stores the body twice; that is harmless, as the second copy is dropped
// by its payload hash when applied, and the 200 Meta gets is what must not be lost.
func retryable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if pgconn.SafeToRetry(err) {
		return true
	}
	code := sqlState(err)
	switch {
	case code == "":
		return true // not an answer from the server: the connection failed
	case code == stateReadOnly, strings.HasPrefix(code, "08"), strings.HasPrefix(code, "57P"):
		return true
	}
	return false
}

// check inspects an error from the database. When it says the server went away or is no
// longer the primary (a crash, a failover, a read-only answer from a demoted primary), every
// idle pooled connection is suspect: the pool is reset, so the next operations reconnect
// (following target_session_attrs to the primary) instead of each failing once on a dead
// connection. Connections held by claims and leases are left alone: a healthy one keeps its
// transaction or lock, and a dead one fails its own next operation. It returns err.
func (s *Store) check(err error) error {
	if serverLost(err) {
		s.log.V(1).Info("the database connection failed; reconnecting the pool", "error", err.Error())
		s.pool.Reset()
	}
	return err
}

// serverLost reports whether err means the connection or the server's role was lost, as
// opposed to a refused statement or a cancelled call.
func serverLost(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == stateReadOnly || strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "57P")
	}
	var ne net.Error
	var ce *pgconn.ConnectError
	return errors.As(err, &ne) || errors.As(err, &ce) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || pgconn.SafeToRetry(err)
}
