// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package storetest

import (
	"fmt"
	"slices"
	"strings"

	"github.com/coex-operator/coex-operator/internal/receiver/store"
)

// Emitted events come out per stream in order; Ack removes exactly those up to its seq; a
// seq is never given twice; Streams lists the streams with events waiting.
func outboxOrderPeekAck(h *harness) {
	s := h.open()
	emit := func(pairs ...string) {
		h.inTx(s, func(tx store.Tx) error {
			for i := 0; i < len(pairs); i += 2 {
				if err := tx.Emit(pairs[i], []byte(pairs[i+1])); err != nil {
					return err
				}
			}
			return nil
		})
	}
	emit("ns/s", "e1", "ns/t", "f1", "ns/s", "e2", "ns/s", "e3")
	emit("ns/s", "e4", "ns/s", "e5")
	if st := h.streams(s); !slices.Equal(st, []string{"ns/s", "ns/t"}) {
		h.t.Errorf("Streams = %v", st)
	}
	if n := h.outboxDepth(s); n != 6 {
		h.t.Errorf("OutboxDepth = %d, want 6", n)
	}
	s = h.reopen(s)
	l, _ := h.lease(s, "ns/s")
	if ev := events(h.peek(l, 2)); !slices.Equal(ev, []string{"e1", "e2"}) {
		h.t.Errorf("Peek(2) = %q", ev)
	}
	items := h.peek(l, 10)
	if ev := events(items); !slices.Equal(ev, []string{"e1", "e2", "e3", "e4", "e5"}) {
		h.t.Fatalf("Peek(10) = %q", ev)
	}
	for i := 1; i < len(items); i++ {
		if items[i].Seq <= items[i-1].Seq {
			h.t.Fatalf("outbox seqs not increasing: %d after %d", items[i].Seq, items[i-1].Seq)
		}
	}
	if err := l.Ack(h.ctx, items[1].Seq); err != nil {
		h.t.Fatalf("Ack: %v", err)
	}
	rest := h.peek(l, 10)
	if !slices.Equal(events(rest), []string{"e3", "e4", "e5"}) || rest[0].Seq != items[2].Seq {
		h.t.Errorf("after Ack(%d): %q", items[1].Seq, events(rest))
	}
	if n := h.outboxDepth(s); n != 4 {
		h.t.Errorf("OutboxDepth after acknowledging 2 = %d, want 4", n)
	}
	if err := l.Ack(h.ctx, items[4].Seq); err != nil {
		h.t.Fatalf("Ack: %v", err)
	}
	if rest := h.peek(l, 10); len(rest) != 0 {
		h.t.Errorf("after acknowledging all: %q", events(rest))
	}
	if st := h.streams(s); !slices.Equal(st, []string{"ns/t"}) {
		h.t.Errorf("Streams after the stream was acknowledged = %v, want [ns/t]", st)
	}
	if n := h.outboxDepth(s); n != 1 {
		h.t.Errorf("OutboxDepth = %d, want 1", n)
	}
	l.Release()
	emit("ns/s", "e6")
	l, _ = h.lease(s, "ns/s")
	if got := h.peek(l, 10); len(got) != 1 || string(got[0].Event) != "e6" || got[0].Seq <= items[4].Seq {
		h.t.Errorf("after acknowledging through %d, a new event came as %+v", items[4].Seq, got)
	}
	l.Release()
	l, _ = h.lease(s, "ns/t")
	if ev := events(h.peek(l, 10)); !slices.Equal(ev, []string{"f1"}) {
		h.t.Errorf("other stream = %q", ev)
	}
	l.Release()
}

// Many events of one stream in one transaction (a history chunk's) come out whole and in
// order, however Peek and Ack cut them, and OutboxDepth counts what is left.
func outboxLongRuns(h *harness) {
	s := h.open()
	const n = 1000
	want := make([]string, n)
	h.inTx(s, func(tx store.Tx) error {
		for i := range want {
			want[i] = fmt.Sprintf("event-%04d-%s", i, strings.Repeat("x", i%700))
			if err := tx.Emit("ns/u", []byte(want[i])); err != nil {
				return err
			}
		}
		return nil
	})
	l, _ := h.lease(s, "ns/u")
	defer l.Release()
	var got []string
	for _, step := range []int{1, 255, 1, 100, 300, 7, 1000} {
		items := h.peek(l, step)
		if len(items) == 0 {
			break
		}
		if len(items) > step {
			h.t.Fatalf("Peek(%d) returned %d events", step, len(items))
		}
		for i := 1; i < len(items); i++ {
			if items[i].Seq != items[i-1].Seq+1 {
				h.t.Fatalf("Peek(%d): seq %d after %d", step, items[i].Seq, items[i-1].Seq)
			}
		}
		got = append(got, events(items)...)
		if err := l.Ack(h.ctx, items[len(items)-1].Seq); err != nil {
			h.t.Fatalf("Ack: %v", err)
		}
		if d := h.outboxDepth(s); d != int64(n-len(got)) {
			h.t.Errorf("OutboxDepth after %d acknowledged = %d, want %d", len(got), d, n-len(got))
		}
	}
	if !slices.Equal(got, want) {
		h.t.Errorf("got %d events back (first mismatch at %d), want the %d emitted in order", len(got), firstMismatch(got, want), n)
	}
}

func firstMismatch(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// A stream has one lease at a time.
func leaseExclusive(h *harness) {
	s := h.open()
	l1, _ := h.lease(s, "ns/s")
	if _, ok := h.lease(s, "ns/s"); ok {
		h.t.Fatalf("a second Lease of a held stream succeeded")
	}
	l2, ok := h.lease(s, "ns/t")
	if !ok {
		h.t.Fatalf("Lease of another stream failed")
	}
	l1.Release()
	l3, ok := h.lease(s, "ns/s")
	if !ok {
		h.t.Fatalf("Lease after Release failed")
	}
	l3.Release()
	l2.Release()
}
