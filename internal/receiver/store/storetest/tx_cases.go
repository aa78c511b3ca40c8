// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package storetest

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/coex-operator/coex-operator/internal/receiver/store"
)

// FirstBody and FirstSeen answer true once: within a batch, across batches and reopens.
func dedup(h *harness) {
	s := h.open()
	h.inTx(s, func(tx store.Tx) error {
		for _, c := range []struct {
			what string
			f    func() (bool, error)
			want bool
		}{
			{"FirstBody(h)", func() (bool, error) { return tx.FirstBody([]byte("h"), h.base) }, true},
			{"FirstBody(h) again", func() (bool, error) { return tx.FirstBody([]byte("h"), h.base) }, false},
			{"FirstBody(h2)", func() (bool, error) { return tx.FirstBody([]byte("h2"), h.base) }, true},
			{"FirstSeen(s1, k)", func() (bool, error) { return tx.FirstSeen("ns/s1", []byte("k")) }, true},
			{"FirstSeen(s1, k) again", func() (bool, error) { return tx.FirstSeen("ns/s1", []byte("k")) }, false},
			{"FirstSeen(s2, k)", func() (bool, error) { return tx.FirstSeen("ns/s2", []byte("k")) }, true},
		} {
			if err := h.want(c.what, c.want)(c.f()); err != nil {
				return err
			}
		}
		return nil
	})
	h.inTx(s, func(tx store.Tx) error {
		if err := h.want("FirstBody(h), next batch", false)(tx.FirstBody([]byte("h"), h.base)); err != nil {
			return err
		}
		if err := h.want("FirstSeen(s1, k), next batch", false)(tx.FirstSeen("ns/s1", []byte("k"))); err != nil {
			return err
		}
		if err := h.want("FirstSeen(s2, k), next batch", false)(tx.FirstSeen("ns/s2", []byte("k"))); err != nil {
			return err
		}
		return h.want("FirstSeen(s1, k2)", true)(tx.FirstSeen("ns/s1", []byte("k2")))
	})
	s = h.reopen(s)
	h.inTx(s, func(tx store.Tx) error {
		if err := h.want("FirstBody(h2) after reopen", false)(tx.FirstBody([]byte("h2"), h.base)); err != nil {
			return err
		}
		if err := h.want("FirstSeen(s1, k2) after reopen", false)(tx.FirstSeen("ns/s1", []byte("k2"))); err != nil {
			return err
		}
		return h.want("FirstSeen(s1, k3) after reopen", true)(tx.FirstSeen("ns/s1", []byte("k3")))
	})
}

// Number's counts are one view for the transaction, saved when it commits, not otherwise.
func numberSavedOnCommit(h *harness) {
	s := h.open()
	if _, ok := h.counts(s, "ns/n"); ok {
		h.t.Fatalf("Counts of an unknown number exist")
	}
	want := store.NumberCounts{UID: "u1", Messages: 5, HistoryStartedAt: ptr(h.base), HistoryPhase: ptr(int32(1))}
	want.PhaseChunks[1].Add(3)
	h.inTx(s, func(tx store.Tx) error {
		n, err := tx.Number("ns/n", "u1")
		if err != nil {
			return err
		}
		n.Messages = 5
		n.HistoryStartedAt = ptr(h.base)
		n.HistoryPhase = ptr(int32(1))
		n.PhaseChunks[1].Add(3)
		again, err := tx.Number("ns/n", "u1")
		if err != nil {
			return err
		}
		if again.Messages != 5 {
			h.t.Errorf("Number again in the same transaction has Messages %d, want 5", again.Messages)
		}
		return nil
	})
	h.wantCounts(s, "ns/n", want)
	if err := h.tryTx(s, func(tx store.Tx) error {
		n, err := tx.Number("ns/n", "u1")
		if err != nil {
			return err
		}
		n.Messages = 100
		return errBoom
	}); !errors.Is(err, errBoom) {
		h.t.Fatalf("failing Apply = %v", err)
	}
	h.wantCounts(s, "ns/n", want)
	s = h.reopen(s)
	h.wantCounts(s, "ns/n", want)
	h.inTx(s, func(tx store.Tx) error {
		n, err := tx.Number("ns/n", "")
		if err == nil && (n.Messages != 5 || n.UID != "u1") {
			h.t.Errorf("Number(n, \"\") = %s, want the saved counts", js(n))
		}
		return err
	})
}

// A different non-empty UID drops the old counts and seen keys of the stream, not its
// outbox events nor any other stream's keys; counts without a UID are adopted.
func numberNewUID(h *harness) {
	s := h.open()
	h.inTx(s, func(tx store.Tx) error {
		n, err := tx.Number("ns/s", "u1")
		if err != nil {
			return err
		}
		n.Messages = 7
		if n, err = tx.Number("ns/other", "o1"); err != nil {
			return err
		}
		n.Messages = 1
		if _, err := tx.FirstSeen("ns/s", []byte("k")); err != nil {
			return err
		}
		if _, err := tx.FirstSeen("ns/other", []byte("k")); err != nil {
			return err
		}
		return tx.Emit("ns/s", []byte("e1"))
	})
	h.inTx(s, func(tx store.Tx) error {
		n, err := tx.Number("ns/s", "u2")
		if err != nil {
			return err
		}
		if n.Messages != 0 || n.UID != "u2" {
			h.t.Errorf("Number(s, u2) = %s, want fresh counts of u2", js(n))
		}
		if err := h.want("FirstSeen(s, k) for the new UID", true)(tx.FirstSeen("ns/s", []byte("k"))); err != nil {
			return err
		}
		if err := h.want("FirstSeen(other, k)", false)(tx.FirstSeen("ns/other", []byte("k"))); err != nil {
			return err
		}
		return tx.Emit("ns/s", []byte("e2"))
	})
	h.wantCounts(s, "ns/s", store.NumberCounts{UID: "u2"})
	h.wantCounts(s, "ns/other", store.NumberCounts{UID: "o1", Messages: 1})
	l, _ := h.lease(s, "ns/s")
	if ev := events(h.peek(l, 10)); !slices.Equal(ev, []string{"e1", "e2"}) {
		h.t.Errorf("outbox of the re-created number = %q, want [e1 e2]", ev)
	}
	l.Release()

	h.inTx(s, func(tx store.Tx) error {
		n, err := tx.Number("ns/x", "")
		if err != nil {
			return err
		}
		n.Messages = 3
		_, err = tx.FirstSeen("ns/x", []byte("k"))
		return err
	})
	h.inTx(s, func(tx store.Tx) error {
		n, err := tx.Number("ns/x", "u9")
		if err != nil {
			return err
		}
		if n.Messages != 3 || n.UID != "u9" {
			h.t.Errorf("Number(x, u9) over counts without a UID = %s, want them adopted", js(n))
		}
		return h.want("FirstSeen(x, k) after adoption", false)(tx.FirstSeen("ns/x", []byte("k")))
	})
}

// Touched lists the streams whose counts the transaction loaded.
func touched(h *harness) {
	s := h.open()
	h.inTx(s, func(tx store.Tx) error {
		if got := tx.Touched(); len(got) != 0 {
			h.t.Errorf("Touched before any Number = %v", got)
		}
		for _, st := range []string{"ns/b", "ns/a", "ns/b"} {
			if _, err := tx.Number(st, ""); err != nil {
				return err
			}
		}
		if _, err := tx.FirstSeen("ns/c", []byte("k")); err != nil {
			return err
		}
		if err := tx.Emit("ns/d", []byte("e")); err != nil {
			return err
		}
		got := slices.Clone(tx.Touched())
		slices.Sort(got)
		if !slices.Equal(got, []string{"ns/a", "ns/b"}) {
			h.t.Errorf("Touched = %v, want [ns/a ns/b]", got)
		}
		return nil
	})
}

// DeadLetter keeps one letter per hash and forgets the hash; DeadLetters lists them oldest
// first; ReplayDeadLetters moves them back into the inbox, applied again.
func deadLetters(h *harness) {
	s := h.open()
	r1, r2, r3 := h.rec("ns", "a", "same"), h.rec("ns", "a", "same"), h.rec("ns", "a", "broken")
	h.append(s, r1, r2, r3)
	hash := func(r store.Record) []byte { return []byte("hash-" + string(r.Body)) }
	h.drain(s, 10, anyBytes, func(tx store.Tx, r store.Record) error {
		if err := h.want(fmt.Sprintf("FirstBody of record %d", r.Seq), true)(tx.FirstBody(hash(r), r.ReceivedAt)); err != nil {
			return err
		}
		return tx.DeadLetter(r, hash(r), "no number for "+string(r.Body))
	})
	check := func(when string) {
		dl, err := s.DeadLetters(h.ctx)
		if err != nil {
			h.t.Fatalf("DeadLetters: %v", err)
		}
		if len(dl) != 2 {
			h.t.Fatalf("%s: %d dead letters, want 2 (one per hash)", when, len(dl))
		}
		if dl[0].Seq >= dl[1].Seq || string(dl[0].Body) != "same" || string(dl[1].Body) != "broken" {
			h.t.Errorf("%s: dead letters not oldest first: %+v", when, dl)
		}
		if d := dl[1]; d.Seq != r3.Seq || d.Namespace != "ns" || d.App != "a" || !d.ReceivedAt.Equal(r3.ReceivedAt) || d.Reason == "" {
			h.t.Errorf("%s: dead letter = %+v, want record %d with a reason", when, d, r3.Seq)
		}
	}
	check("after Apply")
	s = h.reopen(s)
	check("after reopen")
	n, err := s.ReplayDeadLetters(h.ctx)
	if err != nil || n != 2 {
		h.t.Fatalf("ReplayDeadLetters = %d, %v; want 2", n, err)
	}
	if dl, err := s.DeadLetters(h.ctx); err != nil || len(dl) != 0 {
		h.t.Errorf("DeadLetters after replay = %d, %v; want none", len(dl), err)
	}
	got := h.drain(s, 10, anyBytes, func(tx store.Tx, r store.Record) error {
		return h.want("FirstBody of a replayed body", true)(tx.FirstBody(hash(r), r.ReceivedAt))
	})
	if !slices.Equal(bodies(got), []string{"same", "broken"}) {
		h.t.Errorf("replayed records = %q, want [same broken]", bodies(got))
	}
	for _, r := range got {
		if r.Namespace != "ns" || r.App != "a" {
			h.t.Errorf("replayed record %+v lost its route", r)
		}
	}
	if len(got) == 2 && (!got[0].ReceivedAt.Equal(r1.ReceivedAt) && !got[0].ReceivedAt.Equal(r2.ReceivedAt) || !got[1].ReceivedAt.Equal(r3.ReceivedAt)) {
		h.t.Errorf("replayed records lost their ReceivedAt")
	}
	if n, err := s.ReplayDeadLetters(h.ctx); err != nil || n != 0 {
		h.t.Errorf("second ReplayDeadLetters = %d, %v; want 0", n, err)
	}
}

// PruneBodies forgets the hashes first seen before the cutoff, and only those.
func pruneBodies(h *harness) {
	s := h.open()
	old, recent := h.base, h.base.Add(48*time.Hour)
	h.inTx(s, func(tx store.Tx) error {
		if _, err := tx.FirstBody([]byte("old"), old); err != nil {
			return err
		}
		_, err := tx.FirstBody([]byte("recent"), recent)
		return err
	})
	n, err := s.PruneBodies(h.ctx, h.base.Add(24*time.Hour))
	if err != nil || n != 1 {
		h.t.Fatalf("PruneBodies = %d, %v; want 1", n, err)
	}
	h.inTx(s, func(tx store.Tx) error {
		if err := h.want("FirstBody(old) after pruning", true)(tx.FirstBody([]byte("old"), recent)); err != nil {
			return err
		}
		return h.want("FirstBody(recent) after pruning", false)(tx.FirstBody([]byte("recent"), recent))
	})
}

// Counts and Numbers report what was committed.
func countsAndNumbers(h *harness) {
	s := h.open()
	want := map[string]store.NumberCounts{
		"ns/b": {UID: "ub", Messages: 2, Offboarding: &store.OffboardingRecord{Event: "x", At: h.base}},
		"ns/a": {UID: "ua", Threads: 3, Echoes: 1, EchoLastAt: ptr(h.base)},
		"ns/c": {Declined: true},
	}
	h.inTx(s, func(tx store.Tx) error {
		for st, c := range want {
			n, err := tx.Number(st, c.UID)
			if err != nil {
				return err
			}
			*n = c
		}
		return nil
	})
	nums, err := s.Numbers(h.ctx)
	if err != nil {
		h.t.Fatalf("Numbers: %v", err)
	}
	slices.Sort(nums)
	if !slices.Equal(nums, []string{"ns/a", "ns/b", "ns/c"}) {
		h.t.Errorf("Numbers = %v", nums)
	}
	for st, c := range want {
		h.wantCounts(s, st, c)
	}
}
