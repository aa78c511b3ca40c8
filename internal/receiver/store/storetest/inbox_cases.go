// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coex-operator/coex-operator/internal/receiver/store"
)

// Append assigns increasing seqs, never reused, and the records survive a reopen intact.
func appendSeqSurvivesReopen(h *harness) {
	s := h.open()
	var recs []*store.Record
	for i := range 5 {
		recs = append(recs, h.rec("ns", []string{"a", "b"}[i%2], fmt.Sprintf("body-%d", i)))
	}
	h.append(s, recs...)
	for i := 1; i < len(recs); i++ {
		if recs[i].Seq <= recs[i-1].Seq {
			h.t.Fatalf("Append gave seq %d after %d", recs[i].Seq, recs[i-1].Seq)
		}
	}
	s = h.reopen(s)
	if n := h.depth(s); n != 5 {
		h.t.Errorf("Depth after reopen = %d, want 5", n)
	}
	got := h.drain(s, 100, anyBytes, nil)
	slices.SortFunc(got, func(a, b store.Record) int { return int(a.Seq) - int(b.Seq) })
	if len(got) != len(recs) {
		h.t.Fatalf("after reopen claimed %d records, want %d", len(got), len(recs))
	}
	for i, r := range recs {
		if !sameRecord(got[i], *r) {
			h.t.Errorf("record %d after reopen = %+v, want %+v", i, got[i], *r)
		}
	}
	next := h.rec("ns", "a", "after")
	h.append(s, next)
	if next.Seq <= recs[len(recs)-1].Seq {
		h.t.Errorf("Append after reopen gave seq %d, not after %d", next.Seq, recs[len(recs)-1].Seq)
	}
}

// Concurrent appends are all kept, each once, with distinct seqs.
func concurrentAppends(h *harness) {
	s := h.open()
	const goroutines, each = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*each)
	seqCh := make(chan uint64, goroutines*each)
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				r := h.rec("ns", fmt.Sprintf("app%d", g%2), fmt.Sprintf("g%d-%d", g, i))
				if err := s.Append(h.ctx, r); err != nil {
					errs <- err
					return
				}
				seqCh <- r.Seq
			}
		})
	}
	wg.Wait()
	close(errs)
	close(seqCh)
	for err := range errs {
		h.t.Fatalf("Append: %v", err)
	}
	seen := map[uint64]bool{}
	for q := range seqCh {
		if seen[q] {
			h.t.Errorf("seq %d given twice", q)
		}
		seen[q] = true
	}
	if n := h.depth(s); n != goroutines*each {
		h.t.Errorf("Depth = %d, want %d", n, goroutines*each)
	}
	got := map[string]int{}
	for _, r := range h.drain(s, 37, anyBytes, nil) {
		got[string(r.Body)]++
	}
	for g := range goroutines {
		for i := range each {
			if b := fmt.Sprintf("g%d-%d", g, i); got[b] != 1 {
				h.t.Errorf("body %s claimed %d times, want once", b, got[b])
			}
		}
	}
	if len(got) != goroutines*each {
		h.t.Errorf("claimed %d distinct bodies, want %d", len(got), goroutines*each)
	}
}

// Claim returns records in seq order per MetaApp, at most maxRecords, and about maxBytes:
// it stops once maxBytes is reached, but returns one record even larger than that.
func claimOrderAndLimits(h *harness) {
	s := h.open()
	if b := h.claim(s, 10, anyBytes); b != nil {
		h.t.Fatalf("Claim on an empty store returned %d records", len(b.Records()))
	}
	var appended []*store.Record
	for i := range 7 {
		r := h.rec("ns", []string{"a", "b"}[i%2], fmt.Sprintf("r%d", i))
		appended = append(appended, r)
	}
	h.append(s, appended...)
	last := map[string]uint64{}
	n := 0
	for i := 0; ; i++ {
		b := h.claim(s, 3, anyBytes)
		if b == nil {
			break
		}
		if i == len(appended) {
			h.t.Fatalf("still claiming after %d batches of 7 records", i)
		}
		recs := b.Records()
		if len(recs) == 0 || len(recs) > 3 {
			h.t.Fatalf("Claim(3) returned %d records", len(recs))
		}
		for _, r := range recs {
			if r.Seq <= last[r.App] {
				h.t.Errorf("app %s: seq %d claimed after %d", r.App, r.Seq, last[r.App])
			}
			last[r.App] = r.Seq
		}
		n += len(recs)
		h.apply(b, func(store.Tx) error { return nil })
	}
	if n != len(appended) {
		h.t.Fatalf("claimed %d records, want %d", n, len(appended))
	}

	// One app waiting: maxRecords is reached exactly.
	for i := range 5 {
		h.append(s, h.rec("ns", "c", fmt.Sprintf("ten-bytes%d", i)))
	}
	b := h.claim(s, 3, 1<<20)
	if b == nil || len(b.Records()) != 3 {
		h.t.Fatalf("Claim(3, 1MiB) with 5 small records waiting returned %v, want 3 records", b)
	}
	b.Release()
	// maxBytes 25 over 10-byte bodies: it stops once 25 is reached (3 records), not before.
	b = h.claim(s, 10, 25)
	if b == nil {
		h.t.Fatalf("Claim returned nothing")
	}
	recs := b.Records()
	size := 0
	for _, r := range recs[:len(recs)-1] {
		size += len(r.Body)
	}
	if size >= 25 {
		h.t.Errorf("Claim(10, 25) went on past 25 bytes: %d records", len(recs))
	}
	if size+len(recs[len(recs)-1].Body) < 25 && len(recs) < 5 {
		h.t.Errorf("Claim(10, 25) stopped at %d bytes with records left", size+len(recs[len(recs)-1].Body))
	}
	b.Release()
	h.drain(s, 100, anyBytes, nil)

	big := h.rec("ns", "d", strings.Repeat("x", 1000))
	h.append(s, big, h.rec("ns", "d", "small"))
	b = h.claim(s, 10, 10)
	if b == nil || len(b.Records()) != 1 || b.Records()[0].Seq != big.Seq {
		h.t.Fatalf("Claim(10, 10) with a 1000-byte record first: want exactly that record, got %v", b)
	}
	b.Release()
}

// Apply commits fn's effects and removes the records, for good.
func applyCommitsAndRemoves(h *harness) {
	s := h.open()
	h.append(s, h.rec("ns", "a", "one"), h.rec("ns", "a", "two"))
	b := h.claim(s, 10, anyBytes)
	if b == nil || len(b.Records()) != 2 {
		h.t.Fatalf("Claim: want the 2 records")
	}
	h.apply(b, func(tx store.Tx) error {
		if err := h.want("FirstBody(h1)", true)(tx.FirstBody([]byte("h1"), h.base)); err != nil {
			return err
		}
		if err := h.want("FirstSeen(n1, k1)", true)(tx.FirstSeen("ns/n1", []byte("k1"))); err != nil {
			return err
		}
		n, err := tx.Number("ns/n1", "u1")
		if err != nil {
			return err
		}
		n.Messages = 2
		return tx.Emit("ns/n1", []byte("e1"))
	})
	check := func(when string) {
		if b := h.claim(s, 10, anyBytes); b != nil {
			h.t.Errorf("%s: Claim returned %v, applied records again", when, seqs(b.Records()))
			b.Release()
		}
		if n := h.depth(s); n != 0 {
			h.t.Errorf("%s: Depth = %d, want 0", when, n)
		}
		h.wantCounts(s, "ns/n1", store.NumberCounts{UID: "u1", Messages: 2})
		if st := h.streams(s); !slices.Equal(st, []string{"ns/n1"}) {
			h.t.Errorf("%s: Streams = %v", when, st)
		}
	}
	check("after Apply")
	s = h.reopen(s)
	check("after reopen")
	l, _ := h.lease(s, "ns/n1")
	if ev := events(h.peek(l, 10)); !slices.Equal(ev, []string{"e1"}) {
		h.t.Errorf("outbox after reopen = %q, want [e1]", ev)
	}
	l.Release()
	h.inTx(s, func(tx store.Tx) error {
		if err := h.want("FirstBody(h1) after reopen", false)(tx.FirstBody([]byte("h1"), h.base)); err != nil {
			return err
		}
		return h.want("FirstSeen(n1, k1) after reopen", false)(tx.FirstSeen("ns/n1", []byte("k1")))
	})
}

// An Apply whose fn fails commits nothing, and its records come again.
func failedApplyCommitsNothing(h *harness) {
	s := h.open()
	h.inTx(s, func(tx store.Tx) error {
		n, err := tx.Number("ns/n1", "u1")
		if err != nil {
			return err
		}
		n.Messages = 1
		if _, err := tx.FirstSeen("ns/n1", []byte("k1")); err != nil {
			return err
		}
		return tx.Emit("ns/n1", []byte("e1"))
	})
	r := h.rec("ns", "a", "fails")
	h.append(s, r)
	b := h.claim(s, 10, anyBytes)
	if b == nil || len(b.Records()) != 1 {
		h.t.Fatalf("Claim: want the record")
	}
	err := h.applyJudged(b, func(tx store.Tx) error {
		n, err := tx.Number("ns/n1", "u1")
		if err != nil {
			return err
		}
		n.Messages = 99
		if n, err = tx.Number("ns/n2", "u2"); err != nil {
			return err
		}
		n.Messages = 5
		for _, f := range []func() (bool, error){
			func() (bool, error) { return tx.FirstBody([]byte("h2"), h.base) },
			func() (bool, error) { return tx.FirstSeen("ns/n1", []byte("k2")) },
		} {
			if _, err := f(); err != nil {
				return err
			}
		}
		if err := tx.Emit("ns/n1", []byte("e2")); err != nil {
			return err
		}
		if err := tx.DeadLetter(*r, []byte("h3"), "dead"); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		h.t.Fatalf("Apply with a failing fn = %v, want %v", err, errBoom)
	}
	b.Release() // harmless whether or not the failed Apply gave the records back already
	h.wantCounts(s, "ns/n1", store.NumberCounts{UID: "u1", Messages: 1})
	if _, ok := h.counts(s, "ns/n2"); ok {
		h.t.Errorf("Counts(ns/n2) exist after a failed Apply")
	}
	if n := h.outboxDepth(s); n != 1 {
		h.t.Errorf("OutboxDepth = %d after a failed Apply, want 1", n)
	}
	if dl, err := s.DeadLetters(h.ctx); err != nil || len(dl) != 0 {
		h.t.Errorf("DeadLetters after a failed Apply = %d, %v; want none", len(dl), err)
	}
	b = h.claim(s, 10, anyBytes)
	if b == nil || len(b.Records()) != 1 || b.Records()[0].Seq != r.Seq {
		h.t.Fatalf("after a failed Apply the record is not claimable again")
	}
	h.apply(b, func(tx store.Tx) error {
		if err := h.want("FirstBody(h2)", true)(tx.FirstBody([]byte("h2"), h.base)); err != nil {
			return err
		}
		if err := h.want("FirstSeen(n1, k2)", true)(tx.FirstSeen("ns/n1", []byte("k2"))); err != nil {
			return err
		}
		return h.want("FirstSeen(n1, k1)", false)(tx.FirstSeen("ns/n1", []byte("k1")))
	})
	if n := h.depth(s); n != 0 {
		h.t.Errorf("Depth = %d, want 0", n)
	}
}

// Release gives the records back; after Apply it does nothing.
func releaseGivesBack(h *harness) {
	s := h.open()
	for i := range 3 {
		h.append(s, h.rec("ns", "a", fmt.Sprint(i)))
	}
	b := h.claim(s, 10, anyBytes)
	if b == nil {
		h.t.Fatalf("Claim returned nothing")
	}
	want := seqs(b.Records())
	b.Release()
	b.Release()
	b = h.claim(s, 10, anyBytes)
	if b == nil || !slices.Equal(seqs(b.Records()), want) {
		h.t.Fatalf("after Release, Claim returned %v, want %v", b, want)
	}
	h.apply(b, func(store.Tx) error { return nil })
	b.Release()
	if b := h.claim(s, 10, anyBytes); b != nil {
		h.t.Errorf("Release after Apply gave back %v", seqs(b.Records()))
	}
	if n := h.depth(s); n != 0 {
		h.t.Errorf("Depth = %d, want 0", n)
	}
}

// A batch claimed while an earlier one is held follows it; it cannot be applied first, and
// is void once the earlier one is released.
func pipelinedClaims(h *harness) {
	s := h.open()
	for i := range 6 {
		h.append(s, h.rec("ns", "a", fmt.Sprint(i)))
	}
	count := func(b store.Batch) func(store.Tx) error {
		return func(tx store.Tx) error {
			n, err := tx.Number("ns/n", "")
			if err != nil {
				return err
			}
			n.Messages += int64(len(b.Records()))
			return nil
		}
	}
	b1 := h.claim(s, 2, anyBytes)
	b2 := h.claim(s, 2, anyBytes)
	if b1 == nil || b2 == nil {
		h.t.Fatalf("two claims with 6 records waiting: %v, %v", b1, b2)
	}
	if slices.Max(seqs(b1.Records())) >= slices.Min(seqs(b2.Records())) {
		h.t.Fatalf("second batch %v does not follow the first %v", seqs(b2.Records()), seqs(b1.Records()))
	}
	if err := b2.Apply(h.ctx, count(b2)); err == nil {
		h.t.Fatalf("Apply of the second batch before the first succeeded")
	}
	if _, ok := h.counts(s, "ns/n"); ok {
		h.t.Errorf("the refused Apply committed counts")
	}
	h.apply(b1, count(b1))
	h.apply(b2, count(b2))

	b3 := h.claim(s, 1, anyBytes)
	b4 := h.claim(s, 1, anyBytes)
	if b3 == nil || b4 == nil {
		h.t.Fatalf("two claims with 2 records waiting: %v, %v", b3, b4)
	}
	held := b3.Records()[0].Seq
	b3.Release()
	if err := b4.Apply(h.ctx, count(b4)); err == nil {
		h.t.Errorf("Apply of a batch claimed after a released one succeeded: it would skip record %d", held)
	}
	b4.Release()
	rest := h.drain(s, 10, anyBytes, func(tx store.Tx, _ store.Record) error {
		n, err := tx.Number("ns/n", "")
		if err == nil {
			n.Messages++
		}
		return err
	})
	if len(rest) != 2 || rest[0].Seq != held || rest[1].Seq <= held {
		h.t.Errorf("after the release, applied %v; want %d then the last", seqs(rest), held)
	}
	h.wantCounts(s, "ns/n", store.NumberCounts{Messages: 6})
}

// Depth counts the records not yet applied; OutboxDepth the events not yet acknowledged.
func depths(h *harness) {
	s := h.open()
	if h.depth(s) != 0 || h.outboxDepth(s) != 0 {
		h.t.Fatalf("a new store has depth")
	}
	for i := range 4 {
		h.append(s, h.rec("ns", "a", fmt.Sprint(i)))
	}
	if n := h.depth(s); n != 4 {
		h.t.Errorf("Depth = %d, want 4", n)
	}
	b := h.claim(s, 2, anyBytes)
	h.apply(b, func(tx store.Tx) error {
		for _, e := range []string{"e1", "e2", "e3"} {
			if err := tx.Emit("ns/s", []byte(e)); err != nil {
				return err
			}
		}
		return nil
	})
	if n := h.depth(s); n != 2 {
		h.t.Errorf("Depth after applying 2 of 4 = %d, want 2", n)
	}
	if n := h.outboxDepth(s); n != 3 {
		h.t.Errorf("OutboxDepth = %d, want 3", n)
	}
	l, _ := h.lease(s, "ns/s")
	if err := l.Ack(h.ctx, h.peek(l, 1)[0].Seq); err != nil {
		h.t.Fatalf("Ack: %v", err)
	}
	l.Release()
	if n := h.outboxDepth(s); n != 2 {
		h.t.Errorf("OutboxDepth after one Ack = %d, want 2", n)
	}
}

// Appended fires after an Append, Emitted after an Apply that emitted.
func signals(h *harness) {
	s := h.open()
	drained(s.Appended())
	h.append(s, h.rec("ns", "a", "x"))
	if !signalled(s.Appended(), 5*time.Second) {
		h.t.Errorf("Appended did not fire after Append")
	}
	h.drain(s, 10, anyBytes, nil)
	drained(s.Emitted())
	h.inTx(s, func(tx store.Tx) error { return tx.Emit("ns/s", []byte("e")) })
	if !signalled(s.Emitted(), 5*time.Second) {
		h.t.Errorf("Emitted did not fire after an Apply that emitted")
	}
}
