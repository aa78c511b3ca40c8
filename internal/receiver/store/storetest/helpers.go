// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package storetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/coex-operator/coex-operator/internal/receiver/store"
)

// anyBytes is a maxBytes no batch of the suite reaches. The interface leaves maxBytes <= 0
// undefined, so the suite never passes it.
const anyBytes = 1 << 30

// errBoom is what a failing fn returns.
var errBoom = errors.New("storetest: fn fails on purpose")

// rec makes a record of app ns/app with body; each gets a later ReceivedAt.
func (h *harness) rec(ns, app, body string) *store.Record {
	h.mu.Lock()
	h.n++
	n := h.n
	h.mu.Unlock()
	return &store.Record{Namespace: ns, App: app, ReceivedAt: h.base.Add(time.Duration(n) * time.Second), Body: []byte(body)}
}

// append appends recs in order and checks each got a Seq.
func (h *harness) append(s store.Store, recs ...*store.Record) {
	h.t.Helper()
	for _, r := range recs {
		if err := s.Append(h.ctx, r); err != nil {
			h.t.Fatalf("Append: %v", err)
		}
		if r.Seq == 0 {
			h.t.Fatalf("Append left Seq 0")
		}
	}
}

func (h *harness) claim(s store.Store, maxRecords, maxBytes int) store.Batch {
	h.t.Helper()
	b, err := s.Claim(h.ctx, maxRecords, maxBytes)
	if err != nil {
		h.t.Fatalf("Claim: %v", err)
	}
	return b
}

func (h *harness) apply(b store.Batch, fn func(store.Tx) error) {
	h.t.Helper()
	if err := h.applyJudged(b, fn); err != nil {
		h.t.Fatalf("Apply: %v", err)
	}
}

// applyJudged applies b with fn, and reports what want found wrong in it, and a store that
// ran fn more than once (store.Batch.Apply promises once).
func (h *harness) applyJudged(b store.Batch, fn func(store.Tx) error) error {
	h.t.Helper()
	runs := 0
	err := b.Apply(h.ctx, func(tx store.Tx) error {
		runs++
		h.mu.Lock()
		h.mismatches = nil
		h.mu.Unlock()
		return fn(tx)
	})
	if runs > 1 {
		h.t.Errorf("Apply ran fn %d times, want once", runs)
	}
	h.mu.Lock()
	found := h.mismatches
	h.mismatches = nil
	h.mu.Unlock()
	for _, m := range found {
		h.t.Error(m)
	}
	return err
}

// drain claims and applies until nothing waits, calling fn per record, and returns the
// records in the order applied. It checks each batch is in seq order per app.
func (h *harness) drain(s store.Store, maxRecords, maxBytes int, fn func(store.Tx, store.Record) error) []store.Record {
	h.t.Helper()
	var out []store.Record
	for range 1000 {
		b := h.claim(s, maxRecords, maxBytes)
		if b == nil {
			return out
		}
		recs := b.Records()
		if len(recs) == 0 {
			h.t.Fatalf("Claim returned an empty batch")
		}
		h.apply(b, func(tx store.Tx) error {
			for _, r := range recs {
				if fn != nil {
					if err := fn(tx, r); err != nil {
						return err
					}
				}
			}
			return nil
		})
		out = append(out, recs...)
	}
	h.t.Fatalf("drain: still claiming after 1000 batches")
	return nil
}

// inTx runs fn in a transaction of its own: it appends a marker record, claims it (nothing
// else may be waiting) and applies fn, which must succeed.
func (h *harness) inTx(s store.Store, fn func(store.Tx) error) {
	h.t.Helper()
	if err := h.tryTx(s, fn); err != nil {
		h.t.Fatalf("Apply: %v", err)
	}
}

// tryTx is inTx returning Apply's error; a failed batch is released.
func (h *harness) tryTx(s store.Store, fn func(store.Tx) error) error {
	h.t.Helper()
	r := h.rec("storetest", "tx", fmt.Sprintf("tx-%d", time.Now().UnixNano()))
	h.append(s, r)
	b := h.claim(s, 100, anyBytes)
	if b == nil {
		h.t.Fatalf("Claim returned nothing with a record waiting")
	}
	if recs := b.Records(); len(recs) != 1 || recs[0].Seq != r.Seq {
		h.t.Fatalf("Claim returned %d records (first seq %d), want only the marker %d", len(recs), recs[0].Seq, r.Seq)
	}
	err := h.applyJudged(b, fn)
	if err != nil {
		// Give the marker back and take it out with an empty transaction, so the next
		// inTx finds the inbox empty.
		b.Release()
		if b := h.claim(s, 100, anyBytes); b == nil || len(b.Records()) != 1 || b.Records()[0].Seq != r.Seq {
			h.t.Fatalf("after a failed Apply, the record is not claimable again")
		} else {
			h.apply(b, func(store.Tx) error { return nil })
		}
	}
	return err
}

// want returns a check of one FirstBody or FirstSeen answer, used as
// h.want("FirstBody(h)", true)(tx.FirstBody(h, at)); it returns the error to stop fn.
func (h *harness) want(what string, want bool) func(bool, error) error {
	return func(got bool, err error) error {
		h.t.Helper()
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if got != want {
			h.mu.Lock()
			h.mismatches = append(h.mismatches, fmt.Sprintf("%s = %v, want %v", what, got, want))
			h.mu.Unlock()
		}
		return nil
	}
}

func (h *harness) counts(s store.Store, stream string) (store.NumberCounts, bool) {
	h.t.Helper()
	c, ok, err := s.Counts(h.ctx, stream)
	if err != nil {
		h.t.Fatalf("Counts(%s): %v", stream, err)
	}
	return c, ok
}

// wantCounts checks stream's counts are want (compared as JSON, as both backends keep them).
func (h *harness) wantCounts(s store.Store, stream string, want store.NumberCounts) {
	h.t.Helper()
	got, ok := h.counts(s, stream)
	if !ok {
		h.t.Errorf("Counts(%s): none, want %s", stream, js(want))
		return
	}
	if js(got) != js(want) {
		h.t.Errorf("Counts(%s) = %s, want %s", stream, js(got), js(want))
	}
}

func js(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

func (h *harness) depth(s store.Store) int64 {
	h.t.Helper()
	n, err := s.Depth(h.ctx)
	if err != nil {
		h.t.Fatalf("Depth: %v", err)
	}
	return n
}

func (h *harness) outboxDepth(s store.Store) int64 {
	h.t.Helper()
	n, err := s.OutboxDepth(h.ctx)
	if err != nil {
		h.t.Fatalf("OutboxDepth: %v", err)
	}
	return n
}

func (h *harness) streams(s store.Store) []string {
	h.t.Helper()
	st, err := s.Streams(h.ctx)
	if err != nil {
		h.t.Fatalf("Streams: %v", err)
	}
	slices.Sort(st)
	return st
}

func (h *harness) lease(s store.Store, stream string) (store.Lease, bool) {
	h.t.Helper()
	l, ok, err := s.Lease(h.ctx, stream)
	if err != nil {
		h.t.Fatalf("Lease(%s): %v", stream, err)
	}
	if ok == (l == nil) {
		h.t.Fatalf("Lease(%s) = %v, ok %v", stream, l, ok)
	}
	return l, ok
}

func (h *harness) peek(l store.Lease, max int) []store.OutboxItem {
	h.t.Helper()
	items, err := l.Peek(h.ctx, max)
	if err != nil {
		h.t.Fatalf("Peek: %v", err)
	}
	return items
}

// events returns the events of items, as strings.
func events(items []store.OutboxItem) []string {
	var out []string
	for _, it := range items {
		out = append(out, string(it.Event))
	}
	return out
}

// sameRecord reports whether got is want as stored: same seq, route, time and body.
func sameRecord(got, want store.Record) bool {
	return got.Seq == want.Seq && got.Namespace == want.Namespace && got.App == want.App &&
		got.ReceivedAt.Equal(want.ReceivedAt) && bytes.Equal(got.Body, want.Body)
}

func seqs(recs []store.Record) []uint64 {
	var out []uint64
	for _, r := range recs {
		out = append(out, r.Seq)
	}
	return out
}

func bodies(recs []store.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, string(r.Body))
	}
	return out
}

// drained empties ch without blocking.
func drained(ch <-chan struct{}) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// signalled reports whether ch fires within d.
func signalled(ch <-chan struct{}, d time.Duration) bool {
	select {
	case <-ch:
		return true
	case <-time.After(d):
		return false
	}
}

func ptr[T any](v T) *T { return &v }
