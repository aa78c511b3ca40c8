// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

// Package bolt is the embedded store: two bbolt files on the pod's volume, for one receiver.
// spool.db is the inbox, appended to with one fsynced group commit for concurrent webhooks;
// state.db is everything else (seen keys, counts, outbox, dead letters, and the sequence of
// the last record applied). A batch's effects and that sequence commit in one state
// transaction, and the spool is trimmed after it: a crash replays whole batches or none, and
// the recorded sequence makes a replay a no-op. Two files keep the dispatcher's transactions
// from holding the spool's writer lock while Meta waits for its 200.
package bolt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/coex-operator/coex-operator/internal/receiver/store"
)

// File names under the store's directory.
const (
	SpoolFile = "spool.db"
	StateFile = "state.db"
)

// Store implements store.Store on two bbolt files.
type Store struct {
	spool *Spool
	state *State

	mu      sync.Mutex
	cursor  uint64 // the last sequence claimed
	applied uint64 // the last sequence applied
	gen     uint64 // bumped by a Release: batches claimed before it are void
	leases  map[string]bool
}

var _ store.Store = (*Store)(nil)

// Open opens (or creates) the store in dir.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store directory: %w", err)
	}
	spool, err := OpenSpool(filepath.Join(dir, SpoolFile))
	if err != nil {
		return nil, err
	}
	state, err := OpenState(filepath.Join(dir, StateFile))
	if err != nil {
		_ = spool.Close()
		return nil, err
	}
	applied, err := state.Applied()
	if err == nil {
		// Records applied before a crash may still be in the spool: trim them.
		err = spool.DeleteThrough(applied)
	}
	if err != nil {
		_ = spool.Close()
		_ = state.Close()
		return nil, err
	}
	return &Store{spool: spool, state: state, cursor: applied, applied: applied, leases: map[string]bool{}}, nil
}

// SetNoSync turns fsync off (or on again): for tests and fuzzers that do not test
// durability, never for a receiver.
func (s *Store) SetNoSync(off bool) { s.spool.db.NoSync, s.state.db.NoSync = off, off }

// Close closes both files; appends still queued fail with store.ErrClosed.
func (s *Store) Close() error {
	return errors.Join(s.spool.Close(), s.state.Close())
}

// Append implements store.Inbox.
func (s *Store) Append(ctx context.Context, rec *store.Record) error { return s.spool.Append(ctx, rec) }

// AppendEncoded appends a record laid out by RecordHeader followed by its body, without
// copying it again (see store.HeaderedInbox).
func (s *Store) AppendEncoded(ctx context.Context, encoded []byte) (uint64, error) {
	return s.spool.AppendEncoded(ctx, encoded)
}

// Header implements store.HeaderedInbox.
func (s *Store) Header(dst []byte, namespace, app string, receivedAt time.Time) []byte {
	return RecordHeader(dst, namespace, app, receivedAt)
}

// Appended implements store.Inbox.
func (s *Store) Appended() <-chan struct{} { return s.spool.Appended() }

// Depth implements store.Inbox.
func (s *Store) Depth(context.Context) (int64, error) { return s.spool.Depth(), nil }

// LastSeq is the sequence of the newest record ever appended.
func (s *Store) LastSeq() uint64 { return s.spool.LastSeq() }

// Claim implements store.Store: the records after the last one claimed, in order.
func (s *Store) Claim(_ context.Context, maxRecords, maxBytes int) (store.Batch, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	recs, err := s.spool.Read(s.cursor, maxRecords, maxBytes)
	if err != nil || len(recs) == 0 {
		return nil, err
	}
	b := &batch{s: s, recs: recs, after: s.cursor, gen: s.gen}
	s.cursor = recs[len(recs)-1].Seq
	return b, nil
}

type batch struct {
	s     *Store
	recs  []store.Record
	after uint64 // the sequence applied before this batch
	gen   uint64
	done  bool
}

func (b *batch) Records() []store.Record { return b.recs }

// Apply implements store.Batch: fn's effects and the last sequence in one state
// transaction, then the spool trimmed.
func (b *batch) Apply(_ context.Context, fn func(store.Tx) error) error {
	s := b.s
	s.mu.Lock()
	ok := !b.done && b.gen == s.gen && b.after == s.applied
	s.mu.Unlock()
	if !ok {
		return errors.New("bolt store: batch applied out of order or after a release")
	}
	last := b.recs[len(b.recs)-1].Seq
	if err := s.state.Apply(func(tx *StateTx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return tx.SetApplied(last)
	}); err != nil {
		return err
	}
	s.mu.Lock()
	s.applied, b.done = last, true
	s.mu.Unlock()
	// A failed trim is harmless: the sequence is recorded, so these records are skipped
	// (Claim starts after it) and trimmed at the next Open.
	_ = s.spool.DeleteThrough(last)
	return nil
}

// Release implements store.Batch: the next Claim starts again after the last record applied,
// and every batch claimed since is void.
func (b *batch) Release() {
	s := b.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if b.done {
		return
	}
	b.done = true
	s.cursor = s.applied
	s.gen++
}

// Counts implements store.Store.
func (s *Store) Counts(_ context.Context, stream string) (store.NumberCounts, bool, error) {
	return s.state.Counts(stream)
}

// Numbers implements store.Store.
func (s *Store) Numbers(context.Context) ([]string, error) { return s.state.Numbers() }

// PruneBodies implements store.Store.
func (s *Store) PruneBodies(_ context.Context, cutoff time.Time) (int, error) {
	return s.state.PruneBodies(cutoff)
}

// DeadLetters implements store.DeadLetters.
func (s *Store) DeadLetters(context.Context) ([]store.DeadLetter, error) {
	return s.state.DeadLetters()
}

// ReplayDeadLetters implements store.DeadLetters. The letters are appended to the spool
// (durably) before the state transaction that removes them commits: a crash in between
// leaves them in both, and the copy applied second is dropped as a duplicate payload.
func (s *Store) ReplayDeadLetters(ctx context.Context) (int, error) {
	return s.state.TakeDeadLetters(func(letters []store.DeadLetter) error {
		for _, d := range letters {
			rec := &store.Record{Namespace: d.Namespace, App: d.App, ReceivedAt: d.ReceivedAt, Body: d.Body}
			if err := s.spool.Append(ctx, rec); err != nil {
				return err
			}
		}
		return nil
	})
}

// Streams implements store.Outbox.
func (s *Store) Streams(context.Context) ([]string, error) { return s.state.Streams() }

// OutboxDepth implements store.Outbox.
func (s *Store) OutboxDepth(context.Context) (int64, error) { return s.state.OutboxDepth() }

// Emitted implements store.Outbox.
func (s *Store) Emitted() <-chan struct{} { return s.state.Appended() }

// Lease implements store.Outbox. One process owns the files, so a lease is a mark in memory.
func (s *Store) Lease(_ context.Context, stream string) (store.Lease, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.leases[stream] {
		return nil, false, nil
	}
	s.leases[stream] = true
	return &lease{s: s, stream: stream}, true, nil
}

type lease struct {
	s        *Store
	stream   string
	released bool
}

func (l *lease) Peek(_ context.Context, max int) ([]store.OutboxItem, error) {
	return l.s.state.Peek(l.stream, max)
}

func (l *lease) Ack(_ context.Context, seq uint64) error { return l.s.state.Ack(l.stream, seq) }

func (l *lease) Release() {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	if !l.released {
		l.released = true
		delete(l.s.leases, l.stream)
	}
}
