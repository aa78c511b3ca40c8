// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package storetest

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coex-operator/coex-operator/internal/receiver/store"
)

// multiCases need a second instance on the same storage (Options.Second).
var multiCases = []testCase{
	{"MultiClaimsExclusive", multiClaimsExclusive},
	{"MultiLeaseExclusive", multiLeaseExclusive},
	{"MultiClosedFrees", func(h *harness) { multiFrees(h, false) }},
	{"MultiCrashedFrees", func(h *harness) { multiFrees(h, true) }},
	{"MultiSignals", multiSignals},
	{"MultiSeenShared", multiSeenShared},
}

// Item keys stored by one instance are known to the other at its next transaction, however
// the instances keep them meanwhile (a copy in memory must notice it is stale), and a new
// CoexNumber of the same name drops them for both.
func multiSeenShared(h *harness) {
	s1 := h.open()
	s2 := h.second(s1)
	step := func(s store.Store, name string, uid string, seen map[string]bool) {
		h.t.Helper()
		h.inTx(s, func(tx store.Tx) error {
			if _, err := tx.Number("ns/n", uid); err != nil {
				return err
			}
			for _, k := range slices.Sorted(maps.Keys(seen)) {
				if err := h.want(fmt.Sprintf("%s: FirstSeen(n, %s)", name, k), !seen[k])(tx.FirstSeen("ns/n", []byte(k))); err != nil {
					return err
				}
			}
			return nil
		})
	}
	step(s1, "first", "u1", map[string]bool{"k1": false})
	step(s2, "second", "u1", map[string]bool{"k1": true, "k2": false})
	step(s1, "first again", "u1", map[string]bool{"k1": true, "k2": true, "k3": false})
	step(s2, "second again", "u1", map[string]bool{"k2": true, "k3": true})
	// A failed transaction leaves the keys as they were, in both.
	if err := h.tryTx(s1, func(tx store.Tx) error {
		if _, err := tx.FirstSeen("ns/n", []byte("k4")); err != nil {
			return err
		}
		return errors.New("refused")
	}); err == nil {
		h.t.Fatalf("a transaction whose fn failed was applied")
	}
	step(s2, "after a rollback", "u1", map[string]bool{"k4": false})
	step(s1, "after the other stored it", "u1", map[string]bool{"k4": true})
	// Another CoexNumber of the same name, seen by the second: its keys start afresh.
	step(s2, "new UID", "u2", map[string]bool{"k1": false})
	step(s1, "new UID, other instance", "u2", map[string]bool{"k1": true, "k2": false})
}

// Two instances claiming and applying at once never get the same record, never hold
// batches of one MetaApp at the same time, and apply each app's records in seq order, each
// once. One of them claims ahead, as the dispatcher does.
func multiClaimsExclusive(h *harness) {
	s1 := h.open()
	s2 := h.second(s1)
	const apps, each, early = 3, 60, 4
	var wg sync.WaitGroup
	// app0's first records are the oldest: while the first instance holds some of them, the
	// second must pass over the rest, though they wait longest.
	for i := range early {
		h.append(s1, h.rec("ns", "app0", fmt.Sprintf("app0-%03d", i)))
	}
	for a := range apps {
		wg.Go(func() {
			for i := range each {
				if a == 0 && i < early {
					continue
				}
				s := []store.Store{s1, s2}[i%2]
				if err := s.Append(h.ctx, h.rec("ns", fmt.Sprintf("app%d", a), fmt.Sprintf("app%d-%03d", a, i))); err != nil {
					h.t.Errorf("Append: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if h.t.Failed() {
		return
	}
	if b := h.claim(s1, 2, anyBytes); b == nil || appsOf(b)[0] != "ns/app0" {
		h.t.Fatalf("Claim did not start with the oldest records")
	} else {
		b2 := h.claim(s2, 7, anyBytes)
		if b2 != nil && slices.Contains(appsOf(b2), "ns/app0") {
			h.t.Errorf("the second instance claimed records of a MetaApp the first holds: %v", seqs(b2.Records()))
		}
		if b2 != nil {
			b2.Release()
		}
		b.Release()
	}

	var (
		mu      sync.Mutex
		holders = map[string]map[string]int{} // app -> instance -> batches held
		applied = map[string][]uint64{}       // app -> seqs in the order applied
		times   = map[string]int{}            // body -> times applied
		total   atomic.Int64
	)
	hold := func(who string, b store.Batch) {
		mu.Lock()
		defer mu.Unlock()
		for _, app := range appsOf(b) {
			for other, n := range holders[app] {
				if other != who && n > 0 {
					h.t.Errorf("%s and %s hold batches of %s at the same time", who, other, app)
				}
			}
			if holders[app] == nil {
				holders[app] = map[string]int{}
			}
			holders[app][who]++
		}
	}
	unhold := func(who string, b store.Batch) {
		mu.Lock()
		defer mu.Unlock()
		for _, app := range appsOf(b) {
			holders[app][who]--
		}
	}
	claim := func(who string, s store.Store) store.Batch {
		b, err := s.Claim(h.ctx, 7, anyBytes)
		if err != nil {
			h.t.Errorf("%s: Claim: %v", who, err)
			return nil
		}
		if b != nil {
			hold(who, b)
		}
		return b
	}
	apply := func(who string, b store.Batch) error {
		return b.Apply(h.ctx, func(tx store.Tx) error {
			mu.Lock()
			for _, r := range b.Records() {
				applied[r.App] = append(applied[r.App], r.Seq)
				times[string(r.Body)]++
			}
			mu.Unlock()
			n, err := tx.Number("ns/total", "")
			if err != nil {
				return err
			}
			n.Messages += int64(len(b.Records()))
			total.Add(int64(len(b.Records())))
			// Given up before the commit: another instance can claim the app only after it.
			unhold(who, b)
			return nil
		})
	}
	deadline := time.Now().Add(60 * time.Second)
	worker := func(who string, s store.Store, ahead bool) {
		var next store.Batch
		defer func() {
			if next != nil {
				unhold(who, next)
				next.Release()
			}
		}()
		for total.Load() < apps*each && !h.t.Failed() {
			if time.Now().After(deadline) {
				h.t.Errorf("%s: gave up with %d of %d applied", who, total.Load(), apps*each)
				return
			}
			cur := next
			next = nil
			if cur == nil {
				cur = claim(who, s)
			}
			if cur == nil {
				if n, err := s.Depth(h.ctx); err == nil && n == 0 {
					return // nothing waits anywhere: the checks below tell what went wrong
				}
				time.Sleep(2 * time.Millisecond)
				continue
			}
			if ahead {
				next = claim(who, s)
			}
			if err := apply(who, cur); err != nil {
				h.t.Errorf("%s: Apply: %v", who, err)
				return
			}
		}
	}
	wg.Go(func() { worker("first", s1, true) })
	wg.Go(func() { worker("second", s2, false) })
	wg.Wait()

	for a := range apps {
		app := fmt.Sprintf("app%d", a)
		if !slices.IsSorted(applied[app]) {
			h.t.Errorf("%s applied out of seq order: %v", app, applied[app])
		}
		for i := range each {
			if b := fmt.Sprintf("app%d-%03d", a, i); times[b] != 1 {
				h.t.Errorf("%s applied %d times, want once", b, times[b])
			}
		}
	}
	h.wantCounts(s1, "ns/total", store.NumberCounts{Messages: apps * each})
	if n := h.depth(s2); n != 0 {
		h.t.Errorf("Depth = %d, want 0", n)
	}
}

func appsOf(b store.Batch) []string {
	var out []string
	for _, r := range b.Records() {
		out = append(out, r.Namespace+"/"+r.App)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// A lease held by one instance keeps the stream from the other.
func multiLeaseExclusive(h *harness) {
	s1 := h.open()
	s2 := h.second(s1)
	l1, _ := h.lease(s1, "ns/s")
	if _, ok := h.lease(s2, "ns/s"); ok {
		h.t.Fatalf("the second instance leased a stream the first holds")
	}
	l1.Release()
	l2, ok := h.lease(s2, "ns/s")
	if !ok {
		h.t.Fatalf("the second instance cannot lease a released stream")
	}
	if _, ok := h.lease(s1, "ns/s"); ok {
		h.t.Fatalf("the first instance leased a stream the second holds")
	}
	l2.Release()
}

// An instance closed (or crashed) while holding a claim and a lease frees them for the
// other within FreeWithin, and the claimed records are then applied exactly once.
func multiFrees(h *harness, crash bool) {
	if crash && h.o.Crash == nil {
		h.t.Skip("no Crash for this backend")
	}
	s1 := h.open()
	s2 := h.second(s1)
	for i := range 3 {
		h.append(s1, h.rec("ns", "a", fmt.Sprint(i)))
	}
	b := h.claim(s1, 10, anyBytes)
	if b == nil || len(b.Records()) != 3 {
		h.t.Fatalf("Claim: want the 3 records")
	}
	want := seqs(b.Records())
	l, _ := h.lease(s1, "ns/s")
	if b2 := h.claim(s2, 10, anyBytes); b2 != nil {
		h.t.Fatalf("the second instance claimed %v while the first holds them", seqs(b2.Records()))
	}
	if _, ok := h.lease(s2, "ns/s"); ok {
		h.t.Fatalf("the second instance leased a held stream")
	}
	count := func(tx store.Tx) error {
		n, err := tx.Number("ns/n", "")
		if err == nil {
			n.Messages += 3
		}
		return err
	}
	if crash {
		h.crash(s1)
	} else {
		h.close(s1)
	}
	deadline := time.Now().Add(h.o.FreeWithin)
	var b2 store.Batch
	for b2 == nil {
		if time.Now().After(deadline) {
			h.t.Fatalf("the records were not claimable by the other instance within %v", h.o.FreeWithin)
		}
		time.Sleep(50 * time.Millisecond)
		b2 = h.claim(s2, 10, anyBytes)
	}
	if got := seqs(b2.Records()); !slices.Equal(got, want) {
		h.t.Errorf("the other instance claimed %v, want %v", got, want)
	}
	h.apply(b2, count)
	var l2 store.Lease
	for ok := false; !ok; {
		if time.Now().After(deadline) {
			h.t.Fatalf("the stream was not leasable by the other instance within %v", h.o.FreeWithin)
		}
		l2, ok = h.lease(s2, "ns/s")
		if !ok {
			time.Sleep(50 * time.Millisecond)
		}
	}
	l2.Release()
	// The first instance's claim is gone: applying it now must not count the records again.
	_ = b.Apply(h.ctx, count)
	b.Release()
	l.Release()
	h.wantCounts(s2, "ns/n", store.NumberCounts{Messages: 3})
	if n := h.depth(s2); n != 0 {
		h.t.Errorf("Depth = %d, want 0", n)
	}
}

// Each instance hears of the other's appends and emits.
func multiSignals(h *harness) {
	s1 := h.open()
	s2 := h.second(s1)
	// Let both settle (a backend may signal once at start, or on connecting).
	time.Sleep(200 * time.Millisecond)
	drained(s2.Appended())
	h.append(s1, h.rec("ns", "a", "x"))
	if !signalled(s2.Appended(), 5*time.Second) {
		h.t.Errorf("Appended of the other instance did not fire after an Append")
	}
	h.drain(s1, 10, anyBytes, nil)
	time.Sleep(100 * time.Millisecond)
	drained(s2.Emitted())
	h.inTx(s1, func(tx store.Tx) error { return tx.Emit("ns/s", []byte("e")) })
	if !signalled(s2.Emitted(), 5*time.Second) {
		h.t.Errorf("Emitted of the other instance did not fire after an Apply that emitted")
	}
}
