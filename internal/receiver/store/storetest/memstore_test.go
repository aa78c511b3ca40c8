// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package storetest_test

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/coex-operator/coex-operator/internal/receiver/store"
)

// memStore is an in-memory store.Store, as simple as possible, that keeps every promise of
// the interface (several instances share one memData, as receivers share a database). It
// exists to run the suite against something known to be right, and, with a mutant named in
// $STORETEST_MUTANT, against something known to be wrong in one way.
var mutant = os.Getenv("STORETEST_MUTANT")

type memData struct {
	mu        sync.Mutex
	appends   int
	lastSeq   uint64
	inbox     map[uint64]store.Record
	claimed   map[uint64]*memStore
	bodies    map[string]time.Time
	seen      map[string]map[string]bool
	numbers   map[string][]byte // JSON
	outbox    map[string][]store.OutboxItem
	outSeq    map[string]uint64
	dead      map[string]store.DeadLetter
	leases    map[string]*memStore
	instances map[*memStore]bool
}

func newMemData() *memData {
	return &memData{inbox: map[uint64]store.Record{}, claimed: map[uint64]*memStore{}, bodies: map[string]time.Time{},
		seen: map[string]map[string]bool{}, numbers: map[string][]byte{}, outbox: map[string][]store.OutboxItem{},
		outSeq: map[string]uint64{}, dead: map[string]store.DeadLetter{}, leases: map[string]*memStore{},
		instances: map[*memStore]bool{}}
}

type memStore struct {
	d                 *memData
	appended, emitted chan struct{}
	closed            bool
	batches           []*memBatch // outstanding, in claim order
}

var _ store.Store = (*memStore)(nil)

func (d *memData) open() *memStore {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := &memStore{d: d, appended: make(chan struct{}, 1), emitted: make(chan struct{}, 1)}
	d.instances[s] = true
	return s
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// signalAll wakes every instance, as NOTIFY does. Callers hold d.mu.
func (d *memData) signalAll(self *memStore, emitted bool) {
	for s := range d.instances {
		if mutant == "no-signal" || mutant == "no-cross-signal" && s != self {
			continue
		}
		if emitted {
			signal(s.emitted)
		} else {
			signal(s.appended)
		}
	}
}

func (s *memStore) Append(_ context.Context, rec *store.Record) error {
	d := s.d
	d.mu.Lock()
	defer d.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	d.appends++
	d.lastSeq++
	rec.Seq = d.lastSeq
	if mutant == "append-drops" && d.appends%100 == 0 {
		return nil
	}
	r := *rec
	r.Body = slices.Clone(rec.Body)
	d.inbox[r.Seq] = r
	d.signalAll(s, false)
	return nil
}

func (s *memStore) Appended() <-chan struct{} { return s.appended }
func (s *memStore) Emitted() <-chan struct{}  { return s.emitted }

func (s *memStore) Depth(context.Context) (int64, error) {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	return int64(len(s.d.inbox)), nil
}

func appOf(r store.Record) string { return r.Namespace + "/" + r.App }

func (s *memStore) Claim(_ context.Context, maxRecords, maxBytes int) (store.Batch, error) {
	d := s.d
	d.mu.Lock()
	defer d.mu.Unlock()
	if s.closed {
		return nil, store.ErrClosed
	}
	holder := map[string]*memStore{}
	for q, who := range d.claimed {
		holder[appOf(d.inbox[q])] = who
	}
	poisoned := map[string]bool{}
	for _, b := range s.batches {
		if b.poisoned {
			poisoned[b.app] = true
		}
	}
	var waiting []store.Record
	for q, r := range d.inbox {
		if d.claimed[q] == nil {
			waiting = append(waiting, r)
		}
	}
	slices.SortFunc(waiting, func(a, b store.Record) int { return cmp.Compare(a.Seq, b.Seq) })
	for _, first := range waiting {
		app := appOf(first)
		if h := holder[app]; h != nil && h != s && mutant != "app-shared" || poisoned[app] {
			continue
		}
		b := &memBatch{s: s, app: app}
		size := 0
		for _, r := range waiting {
			if appOf(r) != app {
				continue
			}
			if len(b.recs) == maxRecords && mutant != "claim-ignores-max" || maxBytes > 0 && size >= maxBytes {
				break
			}
			b.recs = append(b.recs, r)
			size += len(r.Body)
		}
		if mutant == "claim-unordered" {
			slices.Reverse(b.recs)
		}
		for _, r := range b.recs {
			d.claimed[r.Seq] = s
		}
		s.batches = append(s.batches, b)
		return b, nil
	}
	return nil, nil
}

type memBatch struct {
	s        *memStore
	app      string
	recs     []store.Record
	done     bool
	poisoned bool
}

func (b *memBatch) Records() []store.Record { return b.recs }

func (b *memBatch) Apply(_ context.Context, fn func(store.Tx) error) error {
	s, d := b.s, b.s.d
	d.mu.Lock()
	defer d.mu.Unlock()
	if b.done || s.closed {
		return errors.New("mem: batch is over")
	}
	if mutant != "no-order-check" {
		for _, e := range s.batches {
			if e == b {
				break
			}
			if e.app == b.app {
				return errors.New("mem: an earlier batch is not applied")
			}
		}
		if b.poisoned {
			b.finish(false)
			return errors.New("mem: an earlier batch was released")
		}
	}
	tx := &memTx{d: d, bodies: maps.Clone(d.bodies), seen: map[string]map[string]bool{},
		numbers: map[string]*store.NumberCounts{}, dropped: map[string]bool{}, dead: maps.Clone(d.dead)}
	for k, v := range d.seen {
		tx.seen[k] = maps.Clone(v)
	}
	if err := fn(tx); err != nil {
		if mutant == "failed-apply-commits" {
			tx.commit(s)
		}
		b.finish(false)
		return err
	}
	tx.commit(s)
	if mutant != "apply-keeps-records" {
		for _, r := range b.recs {
			delete(d.inbox, r.Seq)
		}
	}
	b.finish(true)
	return nil
}

// finish ends the batch. Callers hold d.mu.
func (b *memBatch) finish(ok bool) {
	s, d := b.s, b.s.d
	b.done = true
	i := slices.Index(s.batches, b)
	if !ok {
		for _, later := range s.batches[i+1:] {
			if later.app == b.app {
				later.poisoned = true
			}
		}
	}
	s.batches = slices.Delete(s.batches, i, i+1)
	for _, r := range b.recs {
		delete(d.claimed, r.Seq)
		if !ok && mutant == "release-drops" {
			delete(d.inbox, r.Seq)
		}
	}
}

func (b *memBatch) Release() {
	d := b.s.d
	d.mu.Lock()
	defer d.mu.Unlock()
	if !b.done {
		b.finish(false)
	}
}

type memTx struct {
	d       *memData
	bodies  map[string]time.Time
	seen    map[string]map[string]bool
	numbers map[string]*store.NumberCounts
	dropped map[string]bool // streams whose seen keys were dropped
	emits   []store.OutboxItem
	streams []string
	dead    map[string]store.DeadLetter
}

func (t *memTx) FirstBody(hash []byte, at time.Time) (bool, error) {
	if _, ok := t.bodies[string(hash)]; ok && mutant != "no-body-dedup" {
		return false, nil
	}
	t.bodies[string(hash)] = at
	return true, nil
}

func (t *memTx) FirstSeen(stream string, key []byte) (bool, error) {
	if mutant == "touched-all" {
		t.Number(stream, "")
	}
	if t.seen[stream] == nil {
		t.seen[stream] = map[string]bool{}
	}
	if t.seen[stream][string(key)] {
		return false, nil
	}
	t.seen[stream][string(key)] = true
	return true, nil
}

func (t *memTx) Number(stream, uid string) (*store.NumberCounts, error) {
	c, ok := t.numbers[stream]
	if !ok || mutant == "tx-number-fresh" {
		c = &store.NumberCounts{}
		if v, ok := t.d.numbers[stream]; ok {
			if err := json.Unmarshal(v, c); err != nil {
				return nil, err
			}
		}
		t.numbers[stream] = c
	}
	if uid != "" && c.UID != uid {
		if c.UID != "" {
			if mutant != "uid-keeps-seen" {
				delete(t.seen, stream)
				t.dropped[stream] = true
			}
			if mutant == "uid-drops-outbox" {
				t.d.outbox[stream] = nil
			}
			*c = store.NumberCounts{}
		}
		c.UID = uid
	}
	return c, nil
}

func (t *memTx) Touched() []string { return slices.Collect(maps.Keys(t.numbers)) }

func (t *memTx) Emit(stream string, event []byte) error {
	t.emits = append(t.emits, store.OutboxItem{Event: slices.Clone(event)})
	t.streams = append(t.streams, stream)
	return nil
}

func (t *memTx) DeadLetter(rec store.Record, hash []byte, reason string) error {
	if mutant != "dead-keeps-hash" {
		delete(t.bodies, string(hash))
	}
	key := string(hash)
	if mutant == "dead-dup" {
		key = string(rune(rec.Seq))
	}
	if _, ok := t.dead[key]; !ok {
		t.dead[key] = store.DeadLetter{Seq: rec.Seq, Namespace: rec.Namespace, App: rec.App,
			ReceivedAt: rec.ReceivedAt, Reason: reason, Body: slices.Clone(rec.Body)}
	}
	return nil
}

// commit saves the transaction. Callers hold d.mu.
func (t *memTx) commit(s *memStore) {
	d := t.d
	d.bodies, d.seen, d.dead = t.bodies, t.seen, t.dead
	for st, c := range t.numbers {
		d.numbers[st], _ = json.Marshal(c)
	}
	for i, ev := range t.emits {
		st := t.streams[i]
		d.outSeq[st]++
		ev.Seq = d.outSeq[st]
		if mutant == "outbox-seq-reuse" {
			ev.Seq = uint64(len(d.outbox[st]) + 1)
		}
		d.outbox[st] = append(d.outbox[st], ev)
	}
	if len(t.emits) > 0 {
		d.signalAll(s, true)
	}
}

func (s *memStore) Counts(_ context.Context, stream string) (store.NumberCounts, bool, error) {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	var c store.NumberCounts
	v, ok := s.d.numbers[stream]
	if !ok {
		return c, false, nil
	}
	return c, true, json.Unmarshal(v, &c)
}

func (s *memStore) Numbers(context.Context) ([]string, error) {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	out := slices.Sorted(maps.Keys(s.d.numbers))
	if mutant == "numbers-missing" && len(out) > 1 {
		out = out[:1]
	}
	return out, nil
}

func (s *memStore) PruneBodies(_ context.Context, cutoff time.Time) (int, error) {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	n := 0
	for h, at := range s.d.bodies {
		if at.Before(cutoff) || mutant == "prune-all" {
			delete(s.d.bodies, h)
			n++
		}
	}
	return n, nil
}

func (s *memStore) DeadLetters(context.Context) ([]store.DeadLetter, error) {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	out := slices.Collect(maps.Values(s.d.dead))
	slices.SortFunc(out, func(a, b store.DeadLetter) int { return cmp.Compare(a.Seq, b.Seq) })
	return out, nil
}

func (s *memStore) ReplayDeadLetters(ctx context.Context) (int, error) {
	letters, _ := s.DeadLetters(ctx)
	for _, l := range letters {
		if err := s.Append(ctx, &store.Record{Namespace: l.Namespace, App: l.App, ReceivedAt: l.ReceivedAt, Body: l.Body}); err != nil {
			return 0, err
		}
	}
	if mutant != "replay-keeps" {
		s.d.mu.Lock()
		clear(s.d.dead)
		s.d.mu.Unlock()
	}
	return len(letters), nil
}

func (s *memStore) Streams(context.Context) ([]string, error) {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	var out []string
	for st, evs := range s.d.outbox {
		if len(evs) > 0 || mutant == "streams-all" {
			out = append(out, st)
		}
	}
	return out, nil
}

func (s *memStore) OutboxDepth(context.Context) (int64, error) {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	n := 0
	for _, evs := range s.d.outbox {
		n += len(evs)
	}
	if mutant == "outbox-depth-zero" {
		n = 0
	}
	return int64(n), nil
}

func (s *memStore) Lease(_ context.Context, stream string) (store.Lease, bool, error) {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	if s.closed {
		return nil, false, store.ErrClosed
	}
	if s.d.leases[stream] != nil && mutant != "lease-shared" {
		return nil, false, nil
	}
	s.d.leases[stream] = s
	return &memLease{s: s, stream: stream}, true, nil
}

type memLease struct {
	s      *memStore
	stream string
}

func (l *memLease) Peek(_ context.Context, max int) ([]store.OutboxItem, error) {
	d := l.s.d
	d.mu.Lock()
	defer d.mu.Unlock()
	evs := d.outbox[l.stream]
	return slices.Clone(evs[:min(max, len(evs))]), nil
}

func (l *memLease) Ack(_ context.Context, seq uint64) error {
	d := l.s.d
	d.mu.Lock()
	defer d.mu.Unlock()
	d.outbox[l.stream] = slices.DeleteFunc(d.outbox[l.stream], func(it store.OutboxItem) bool {
		return it.Seq <= seq || mutant == "ack-all"
	})
	return nil
}

func (l *memLease) Release() {
	d := l.s.d
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.leases[l.stream] == l.s {
		delete(d.leases, l.stream)
	}
}

// drop ends the instance: its batches and leases go, unless a mutant keeps them.
func (s *memStore) drop(keep bool) {
	d := s.d
	d.mu.Lock()
	defer d.mu.Unlock()
	s.closed = true
	delete(d.instances, s)
	if keep {
		return
	}
	for len(s.batches) > 0 {
		s.batches[0].finish(false)
	}
	for st, who := range d.leases {
		if who == s {
			delete(d.leases, st)
		}
	}
}

func (s *memStore) Close() error {
	s.drop(mutant == "close-keeps")
	return nil
}
