// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package process

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coex-operator/coex-operator/internal/receiver/event"
	"github.com/coex-operator/coex-operator/internal/receiver/internal/receivertest"
	"github.com/coex-operator/coex-operator/internal/receiver/store"
	"github.com/coex-operator/coex-operator/internal/receiver/store/bolt"
)

// Fixtures of the dispatcher tests alone; the shared ones are in receivertest.
const (
	unknownPhoneID  = "999999999999999"
	baseReceivedSec = 1_739_300_000 // a fixed "now" for records; no test reads the wall clock
)

// shopTarget and otherTarget carry the UIDs of receivertest.CoexNumber(receivertest.NS, name): the
// status writer applies counts only to the object they were recorded for.
func shopTarget(relay bool) Target {
	return Target{Namespace: receivertest.NS, Name: "shop", UID: "uid-shop", PhoneNumberID: receivertest.PhoneID, WABAID: receivertest.WABA,
		DisplayPhoneNumber: receivertest.Display, OnboardedAt: receivertest.OnboardedAt, Relay: relay}
}

func otherTarget(relay bool) Target {
	return Target{Namespace: receivertest.NS, Name: "shop-two", UID: "uid-shop-two", PhoneNumberID: receivertest.OtherPhoneID, WABAID: receivertest.WABA,
		DisplayPhoneNumber: receivertest.OtherDisplay, OnboardedAt: receivertest.OnboardedAt, Relay: relay}
}

// fakeResolver is a map-based Resolver for the MetaApp receivertest.NS/App. With matchAll, every
// phone number id and every WABA resolves to a relayed number (the fuzz target's resolver).
type fakeResolver struct {
	targets  []Target
	matchAll bool
}

func newResolver(targets ...Target) *fakeResolver { return &fakeResolver{targets: targets} }

func (r *fakeResolver) ByPhoneNumberID(ns, app, phoneNumberID string) (Target, bool, error) {
	if ns != receivertest.NS || app != receivertest.App {
		return Target{}, false, nil
	}
	if r.matchAll {
		t := shopTarget(true)
		t.PhoneNumberID = phoneNumberID
		return t, true, nil
	}
	for _, t := range r.targets {
		if t.PhoneNumberID == phoneNumberID {
			return t, true, nil
		}
	}
	return Target{}, false, nil
}

func (r *fakeResolver) ByWABA(ns, app, wabaID string) ([]Target, error) {
	if ns != receivertest.NS || app != receivertest.App {
		return nil, nil
	}
	if r.matchAll {
		t := shopTarget(true)
		t.WABAID = wabaID
		return []Target{t}, nil
	}
	var out []Target
	for _, t := range r.targets {
		if t.WABAID == wabaID {
			out = append(out, t)
		}
	}
	return out, nil
}

// appliedCall is one call of the dispatcher's Applied hook.
type appliedCall struct {
	streams     []string
	unsupported map[string]int
}

// harness is a dispatcher over a real bolt store in a temporary directory. Records are
// appended with the clock's time, which the test moves; the dispatcher runs by step(). It
// lives here, not in receivertest, because it steps the dispatcher and reads its internals;
// the status writer's tests (package project) drive one through Start instead.
type harness struct {
	t        *testing.T
	dir      string
	store    *bolt.Store
	resolver *fakeResolver
	metrics  *Metrics
	d        *Dispatcher
	clk      *receivertest.Clock

	mu      sync.Mutex
	applied []appliedCall
}

func newHarness(t *testing.T, resolver *fakeResolver) *harness {
	t.Helper()
	h := &harness{t: t, dir: t.TempDir(), resolver: resolver, clk: receivertest.ClockAt(time.Unix(baseReceivedSec, 0))}
	h.open()
	t.Cleanup(h.close)
	return h
}

// open opens the stores in h.dir (again) and makes a fresh dispatcher over them.
func (h *harness) open() {
	h.t.Helper()
	var err error
	if h.store, err = bolt.Open(h.dir); err != nil {
		h.t.Fatal(err)
	}
	h.metrics = NewMetrics(nil)
	h.d = NewDispatcher(Options{Store: h.store, Resolver: h.resolver, Metrics: h.metrics,
		Now: h.clk.Now, Applied: h.recordApplied})
}

func (h *harness) close() {
	if h.d != nil {
		h.d.releaseNext()
	}
	if h.store != nil {
		_ = h.store.Close()
		h.store = nil
	}
}

// reopen simulates a restart: both stores are closed and opened again from disk.
func (h *harness) reopen() {
	h.t.Helper()
	h.close()
	h.open()
}

func (h *harness) recordApplied(streams []string, unsupported map[string]int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.applied = append(h.applied, appliedCall{streams: slices.Clone(streams), unsupported: unsupported})
}

func (h *harness) appliedCalls() []appliedCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.applied)
}

// deliver spools bodies as webhooks of receivertest.NS/App, one second apart.
func (h *harness) deliver(bodies ...[]byte) {
	h.t.Helper()
	for _, b := range bodies {
		h.deliverTo(receivertest.NS, receivertest.App, b)
	}
}

func (h *harness) deliverTo(ns, app string, body []byte) uint64 {
	h.t.Helper()
	h.clk.Advance(time.Second)
	rec := &store.Record{Namespace: ns, App: app, ReceivedAt: h.clk.Now(), Body: body}
	if err := h.store.Append(context.Background(), rec); err != nil {
		h.t.Fatalf("spool append: %v", err)
	}
	return rec.Seq
}

// drain runs the dispatcher until the spool holds nothing after the applied sequence.
func (h *harness) drain() {
	h.t.Helper()
	for range 1000 {
		n, err := h.d.step(context.Background())
		if err != nil {
			h.t.Fatalf("dispatcher step: %v", err)
		}
		if n == 0 {
			return
		}
	}
	h.t.Fatal("dispatcher never ran dry")
}

// deliverAndDrain spools bodies and applies them, each in its own batch.
func (h *harness) deliverAndDrain(bodies ...[]byte) {
	h.t.Helper()
	for _, b := range bodies {
		h.deliver(b)
		h.drain()
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

func (h *harness) hasCounts(stream string) bool {
	h.t.Helper()
	_, ok, err := h.store.Counts(context.Background(), stream)
	if err != nil {
		h.t.Fatal(err)
	}
	return ok
}

// events decodes every event waiting in stream's outbox, oldest first.
func (h *harness) events(stream string) []event.Event {
	h.t.Helper()
	items, err := peekAll(h.store, stream)
	if err != nil {
		h.t.Fatal(err)
	}
	out := make([]event.Event, 0, len(items))
	for _, it := range items {
		var ev event.Event
		if err := json.Unmarshal(it.Event, &ev); err != nil {
			h.t.Fatalf("outbox item %d of %s is not an Event: %v", it.Seq, stream, err)
		}
		out = append(out, ev)
	}
	return out
}

func (h *harness) eventsOfType(stream, typ string) []event.Event {
	var out []event.Event
	for _, ev := range h.events(stream) {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

func (h *harness) deadLetters() []store.DeadLetter {
	h.t.Helper()
	dl, err := h.store.DeadLetters(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	return dl
}

func eventIDs(evs []event.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.ID
	}
	return out
}

// peekAll reads every event waiting in stream's outbox under a lease, without acknowledging.
func peekAll(o store.Outbox, stream string) ([]store.OutboxItem, error) {
	l, ok, err := o.Lease(context.Background(), stream)
	if err != nil || !ok {
		return nil, cmp.Or(err, fmt.Errorf("the outbox of %s is leased", stream))
	}
	defer l.Release()
	return l.Peek(context.Background(), 1<<20)
}
