// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package postgres

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/coex-operator/coex-operator/internal/receiver/store"
)

// batch is a claim: a transaction on its own connection holding the app lock and the rows.
type batch struct {
	s    *Store
	key  appKey
	recs []store.Record
	seqs []int64
	conn *pgxpool.Conn
	tx   pgx.Tx

	// held is closed once the batch holds the app lock, or is over: a batch claimed behind
	// it may then queue for the lock.
	held     chan struct{}
	heldOnce sync.Once
	// wait is the wait for the app lock of a batch claimed behind an earlier one of this
	// receiver (see lockWait); nil when the lock was taken at claim.
	wait *lockWait

	mu   sync.Mutex // serializes Apply and Release
	done bool       // the transaction is over: applied, released or failed

	// Guarded by s.mu.
	failed   bool // rolled back: the batches of the app claimed after it are void
	poisoned bool // an earlier batch of the app was rolled back: applying this one would skip it
}

func (b *batch) lastSeq() int64 { return b.seqs[len(b.seqs)-1] }

// Records implements store.Batch.
func (b *batch) Records() []store.Record { return b.recs }

// Apply implements store.Batch. When fn fails, or the commit does, the transaction is rolled
// back and the records are claimable again at once; a later Release is a no-op.
func (b *batch) Apply(ctx context.Context, fn func(store.Tx) error) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return errBatchDone
	}
	s := b.s
	s.mu.Lock()
	chain := s.chains[b.key]
	head, poisoned := len(chain) > 0 && chain[0] == b, b.poisoned
	s.mu.Unlock()
	if !head {
		return fmt.Errorf("%w: an earlier batch of %s/%s is not applied yet", ErrOutOfOrder, b.key.namespace, b.key.app)
	}
	if poisoned {
		b.finish(false)
		return fmt.Errorf("%w: an earlier batch of %s/%s was released", ErrOutOfOrder, b.key.namespace, b.key.app)
	}
	if b.wait != nil {
		select {
		case <-b.wait.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := b.wait.err; err != nil {
			b.finish(false)
			return s.closedErr(s.check(fmt.Errorf("waiting for the lock of %s/%s: %w", b.key.namespace, b.key.app, err)))
		}
	}
	t := newTx(ctx, b.tx, s.seen)
	if err := fn(t); err != nil {
		t.end(false)
		b.finish(false)
		return err
	}
	if err := t.commit(b.seqs); err != nil {
		t.end(false)
		b.finish(false)
		return s.closedErr(s.check(fmt.Errorf("applying records %d-%d: %w", b.seqs[0], b.lastSeq(), err)))
	}
	t.end(true)
	b.finish(true)
	if t.emitted {
		signal(s.emitted)
		s.notifyOutbox()
	}
	return nil
}

// Release implements store.Batch.
func (b *batch) Release() {
	// An Apply waiting for the app lock holds b.mu: end the wait first, which fails it.
	b.stopLockWait()
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.done {
		b.finish(false)
	}
}

// stopLockWait gives up a pending wait for the app lock.
func (b *batch) stopLockWait() {
	if b.wait != nil {
		b.wait.abandon(b.conn)
	}
}

// markHeld tells a batch claimed behind this one that it may queue for the app lock.
func (b *batch) markHeld() { b.heldOnce.Do(func() { close(b.held) }) }

// finish ends the transaction (committed by Apply when ok, rolled back otherwise), gives the
// connection back and takes the batch out of its app's chain. Callers hold b.mu.
func (b *batch) finish(ok bool) {
	b.stopLockWait()
	if b.wait != nil {
		b.wait.cancel()
	}
	if !ok {
		ctx, cancel := opCtx()
		_ = b.tx.Rollback(ctx) // a failure leaves the connection unusable: the pool drops it
		cancel()
	}
	b.conn.Release()
	b.done = true
	s := b.s
	s.mu.Lock()
	chain := s.chains[b.key]
	if i := slices.Index(chain, b); i >= 0 {
		if !ok {
			b.failed = true
			for _, later := range chain[i+1:] {
				later.poisoned = true
			}
		}
		chain = slices.Delete(chain, i, i+1)
	}
	if len(chain) == 0 {
		delete(s.chains, b.key)
	} else {
		s.chains[b.key] = chain
	}
	delete(s.batches, b)
	s.mu.Unlock()
	b.markHeld()
	if !ok {
		signal(s.appended) // the records wait again
	}
}
