// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package project

import (
	"context"
	"testing"
	"time"

	"github.com/coex-operator/coex-operator/internal/receiver/internal/receivertest"
	"github.com/coex-operator/coex-operator/internal/receiver/process"
	"github.com/coex-operator/coex-operator/internal/receiver/store"
	"github.com/coex-operator/coex-operator/internal/receiver/store/bolt"
)

type objectReader = receivertest.ObjectReader

// The status writer writes what the dispatcher counted, so its tests count with the real
// one: webhooks go through a process.Dispatcher into a bolt store, as in the receiver. The
// dispatcher's own tests have a harness that steps it (process's helpers_test.go); from here
// only its exported API is reachable, so this one runs Start until every record delivered
// has been applied.

// shopTarget and otherTarget are the numbers receivertest.CoexNumber(receivertest.NS, "shop") and "shop-two" as
// the dispatcher resolves them; their UIDs are the objects'.
func shopTarget(relay bool) process.Target {
	return process.Target{Namespace: receivertest.NS, Name: "shop", UID: "uid-shop", PhoneNumberID: receivertest.PhoneID, WABAID: receivertest.WABA,
		DisplayPhoneNumber: receivertest.Display, OnboardedAt: receivertest.OnboardedAt, Relay: relay}
}

func otherTarget(relay bool) process.Target {
	return process.Target{Namespace: receivertest.NS, Name: "shop-two", UID: "uid-shop-two", PhoneNumberID: receivertest.OtherPhoneID, WABAID: receivertest.WABA,
		DisplayPhoneNumber: receivertest.OtherDisplay, OnboardedAt: receivertest.OnboardedAt, Relay: relay}
}

// fakeResolver is a process.Resolver of the MetaApp receivertest.NS/App over fixed numbers.
type fakeResolver struct{ targets []process.Target }

func newResolver(targets ...process.Target) *fakeResolver { return &fakeResolver{targets: targets} }

func (r *fakeResolver) ByPhoneNumberID(ns, app, phoneNumberID string) (process.Target, bool, error) {
	if ns != receivertest.NS || app != receivertest.App {
		return process.Target{}, false, nil
	}
	for _, t := range r.targets {
		if t.PhoneNumberID == phoneNumberID {
			return t, true, nil
		}
	}
	return process.Target{}, false, nil
}

func (r *fakeResolver) ByWABA(ns, app, wabaID string) ([]process.Target, error) {
	if ns != receivertest.NS || app != receivertest.App {
		return nil, nil
	}
	var out []process.Target
	for _, t := range r.targets {
		if t.WABAID == wabaID {
			out = append(out, t)
		}
	}
	return out, nil
}

// harness is a dispatcher over a real bolt store in a temporary directory. Records are
// appended with the clock's time, which the test moves. onApplied, when set, is the
// dispatcher's Applied hook (the status writer's Mark).
type harness struct {
	t         *testing.T
	store     *bolt.Store
	d         *process.Dispatcher
	clk       *receivertest.Clock
	onApplied func(streams []string, unsupported map[string]int)
	delivered uint64
}

func newHarness(t *testing.T, resolver process.Resolver) *harness {
	t.Helper()
	h := &harness{t: t, store: receivertest.NewStore(t), clk: receivertest.ClockAt(time.Unix(1_739_300_000, 0))}
	h.d = process.NewDispatcher(process.Options{Store: h.store, Resolver: resolver, Metrics: process.NewMetrics(nil),
		Now: h.clk.Now, Applied: func(streams []string, unsupported map[string]int) {
			if h.onApplied != nil {
				h.onApplied(streams, unsupported)
			}
		}})
	return h
}

// deliverAndDrain spools bodies as webhooks of receivertest.NS/App, one second apart, and applies
// them, each in its own batch.
func (h *harness) deliverAndDrain(bodies ...[]byte) {
	h.t.Helper()
	for _, b := range bodies {
		h.clk.Advance(time.Second)
		rec := &store.Record{Namespace: receivertest.NS, App: receivertest.App, ReceivedAt: h.clk.Now(), Body: b}
		if err := h.store.Append(context.Background(), rec); err != nil {
			h.t.Fatalf("spool append: %v", err)
		}
		h.delivered++
		h.drain()
	}
}

// drain runs the dispatcher until it has applied every record delivered, then stops it: once
// Start has returned, the Applied hook has been called for each of them.
func (h *harness) drain() {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- h.d.Start(ctx) }()
	receivertest.WaitUntil(h.t, "the dispatcher to apply the spool", func() bool { return h.d.AppliedRecords() >= h.delivered })
	cancel()
	if err := <-errc; err != nil {
		h.t.Fatalf("dispatcher Start: %v", err)
	}
}

func (h *harness) counts(stream string) store.NumberCounts {
	h.t.Helper()
	c, _, err := h.store.Counts(context.Background(), stream)
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}
