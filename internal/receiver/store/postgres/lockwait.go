// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package postgres

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// A batch claimed behind an earlier one of the same MetaApp (its pred) does not hold the app
// lock yet. It queues for it on its own transaction: PostgreSQL grants a released lock to its
// queued waiter before any other receiver's try-lock can take it, so no one gets between the
// two batches. The queue must follow claim order, or a later batch would be granted the lock
// before an earlier one and both would wait forever (the earlier for the lock, the later for
// its Apply). Goroutines do not send in the order they were started, so a batch sends its
// request only once its pred holds the lock (or is over): then it is the only waiter.
type lockWait struct {
	done     chan struct{} // closed when the wait has returned, with err
	err      error
	stop     chan struct{} // closed to give the wait up
	stopOnce sync.Once
	sent     atomic.Bool // the request is (about to be) on the wire
	cancel   context.CancelFunc
}

var errLockWaitStopped = errors.New("wait for the app lock given up")

// startLockWait queues for the app lock (key) on tx once pred holds it, and calls onHeld once
// granted.
func startLockWait(tx pgx.Tx, pred *batch, key int64, onHeld func(), hook func()) *lockWait {
	ctx, cancel := context.WithCancel(context.Background())
	w := &lockWait{done: make(chan struct{}), stop: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(w.done)
		select {
		case <-pred.held:
		case <-w.stop:
			w.err = errLockWaitStopped
			return
		}
		select {
		case <-w.stop: // both ready: do not start a wait that is being given up
			w.err = errLockWaitStopped
			return
		default:
		}
		if hook != nil {
			hook()
		}
		w.sent.Store(true)
		// Cancelling ctx closes the connection, which abandon uses only as a last resort.
		if _, w.err = tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", key); w.err == nil {
			onHeld()
		}
	}()
	return w
}

// abandon gives the wait up and returns once it has. A request already sent is cancelled
// with a cancel request, which keeps the connection (sent again until it lands, as it may
// overtake the request); after 5s the connection is closed instead.
func (w *lockWait) abandon(conn *pgxpool.Conn) {
	select {
	case <-w.done:
		return
	default:
	}
	w.stopOnce.Do(func() { close(w.stop) })
	deadline := time.After(5 * time.Second)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		if w.sent.Load() {
			ctx, cancel := opCtx()
			_ = conn.Conn().PgConn().CancelRequest(ctx)
			cancel()
		}
		select {
		case <-w.done:
			return
		case <-tick.C:
		case <-deadline:
			w.cancel()
			<-w.done
			return
		}
	}
}
