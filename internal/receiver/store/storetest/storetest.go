// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

// Package storetest is the conformance suite of store.Store: one table of cases, run against
// every implementation, so the receiver can rely on the interface's promises whatever the
// backend. Each case checks one promise in a way that fails when it is broken (the package's
// own tests run the suite against deliberately broken stores to prove it).
package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/coex-operator/coex-operator/internal/receiver/store"
)

// Options say how to get stores of the implementation under test.
type Options struct {
	// Open returns a new store on new, empty storage. The suite closes it.
	Open func(t *testing.T) store.Store
	// Reopen closes s and opens its storage again, to prove what survives.
	Reopen func(t *testing.T, s store.Store) store.Store
	// Second opens another instance on s's storage, used concurrently with s, as a second
	// receiver would; nil when the backend allows one instance only (the multi-receiver
	// cases are then skipped). The suite closes it.
	Second func(t *testing.T, s store.Store) store.Store
	// Crash makes s lose its hold on the storage as a killed process would (its
	// connections broken), without Close; nil to test with Close only. The suite still
	// closes s afterwards.
	Crash func(t *testing.T, s store.Store)
	// FreeWithin bounds how long a closed or crashed instance may keep its claims and
	// leases from the others (default 10s).
	FreeWithin time.Duration
}

// Run runs every case against the implementation, each on its own storage, in parallel.
func Run(t *testing.T, o Options) {
	if o.FreeWithin <= 0 {
		o.FreeWithin = 10 * time.Second
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(newHarness(t, o))
		})
	}
	for _, c := range multiCases {
		t.Run(c.name, func(t *testing.T) {
			if o.Second == nil {
				t.Skip("single-instance backend")
			}
			t.Parallel()
			c.run(newHarness(t, o))
		})
	}
}

type testCase struct {
	name string
	run  func(h *harness)
}

// harness is one case's stores and helpers. Helpers fail the test on an unexpected error.
type harness struct {
	t    *testing.T
	o    Options
	ctx  context.Context
	base time.Time

	mu      sync.Mutex
	stores  []store.Store // to close at the end
	crashed map[store.Store]bool
	n       int // records made
	// mismatches are what want found in the current transaction's fn.
	mismatches []string
}

func newHarness(t *testing.T, o Options) *harness {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	h := &harness{
		t: t, o: o, ctx: ctx, crashed: map[store.Store]bool{},
		// Microseconds: what every backend keeps of a time.
		base: time.Date(2026, 3, 4, 5, 6, 7, 123456000, time.UTC),
	}
	t.Cleanup(func() {
		cancel()
		h.mu.Lock()
		stores := h.stores
		h.stores = nil
		h.mu.Unlock()
		for i := len(stores) - 1; i >= 0; i-- {
			if err := stores[i].Close(); err != nil && !h.crashed[stores[i]] {
				t.Errorf("Close: %v", err)
			}
		}
	})
	return h
}

func (h *harness) track(s store.Store) store.Store {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stores = append(h.stores, s)
	return s
}

func (h *harness) untrack(s store.Store) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, x := range h.stores {
		if x == s {
			h.stores = append(h.stores[:i], h.stores[i+1:]...)
			return
		}
	}
}

// open returns a new store on new storage.
func (h *harness) open() store.Store { return h.track(h.o.Open(h.t)) }

// reopen closes s and opens its storage again.
func (h *harness) reopen(s store.Store) store.Store {
	h.t.Helper()
	h.untrack(s)
	return h.track(h.o.Reopen(h.t, s))
}

// second opens another instance on s's storage.
func (h *harness) second(s store.Store) store.Store { return h.track(h.o.Second(h.t, s)) }

// close closes s now (and not again at the end).
func (h *harness) close(s store.Store) {
	h.t.Helper()
	h.untrack(s)
	if err := s.Close(); err != nil {
		h.t.Errorf("Close: %v", err)
	}
}

func (h *harness) crash(s store.Store) {
	h.mu.Lock()
	h.crashed[s] = true
	h.mu.Unlock()
	h.o.Crash(h.t, s)
}
