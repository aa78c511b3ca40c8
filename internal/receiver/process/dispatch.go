// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

// Package process turns the inbox into counts and events: the dispatcher claims batches of
// verified webhook bodies from the store, parses them on every core, and applies each batch in
// one store transaction together with its removal from the inbox: whole payloads and every
// message, chunk, thread, contact and account event de-duplicated, each number's counts
// updated, normalized events (package event) appended to the number's outbox, and what cannot
// be read or matched kept as a dead letter. A crash repeats a batch or none of it, never half.
//
// Which CoexNumber a webhook is about is asked of a Resolver (the receiver answers it from
// the cluster); after each commit the Applied hook tells the status writer (package project)
// which numbers changed. It writes nothing to Kubernetes itself.
package process

import (
	"context"
	"crypto/sha256"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"

	"github.com/coex-operator/coex-operator/internal/receiver/store"
	"github.com/coex-operator/coex-operator/internal/webhook"
)

// Options configure a Dispatcher.
type Options struct {
	Store    store.Store
	Resolver Resolver
	Metrics  *Metrics // may be nil
	Logger   logr.Logger
	// Applied is called after each committed batch with the streams whose counts changed and,
	// per stream, how many 131060 messages arrived. It must not block for long.
	Applied func(streams []string, unsupported map[string]int)
	// BatchRecords and BatchBytes bound one transaction (defaults 256 and 4 MiB). Bigger
	// batches amortize the fsync; smaller ones bound the work a crash repeats.
	BatchRecords int
	BatchBytes   int
	Now          func() time.Time
}

// Dispatcher drains the store's inbox: each claimed batch of records is parsed,
// de-duplicated, counted and turned into relay events in one store transaction that also
// removes the records (store.Batch.Apply). A crash repeats at most the batch in flight, whole.
type Dispatcher struct {
	o       Options
	applied atomic.Uint64 // records applied since Start
	next    chan batch    // the batch after the one being applied, being claimed and parsed
}

// NewDispatcher returns a dispatcher; Start runs it.
func NewDispatcher(o Options) *Dispatcher {
	if o.BatchRecords <= 0 {
		o.BatchRecords = 256
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = 4 << 20
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Applied == nil {
		o.Applied = func([]string, map[string]int) {}
	}
	return &Dispatcher{o: o}
}

// AppliedRecords is how many records this dispatcher has applied.
func (d *Dispatcher) AppliedRecords() uint64 { return d.applied.Load() }

// Start applies records until ctx ends. Errors are retried with a growing pause: a record is
// never skipped because the API server or the disk had a bad moment.
func (d *Dispatcher) Start(ctx context.Context) error {
	defer d.releaseNext()
	prune := time.NewTicker(time.Hour)
	defer prune.Stop()
	pause := 100 * time.Millisecond
	for {
		n, err := d.step(ctx)
		switch {
		case err != nil:
			d.o.Logger.Error(err, "applying spooled webhooks failed; retrying", "pause", pause)
			if !sleepCtx(ctx, pause) {
				return nil
			}
			pause = min(2*pause, 30*time.Second)
			continue
		case n > 0:
			pause = 100 * time.Millisecond
			if ctx.Err() != nil {
				return nil
			}
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-d.o.Store.Appended():
		case <-prune.C:
			// Meta retries for seven days; a payload hash older than eight can go.
			if _, err := d.o.Store.PruneBodies(ctx, d.o.Now().Add(-8*24*time.Hour)); err != nil {
				d.o.Logger.Error(err, "pruning payload hashes failed")
			}
		case <-time.After(time.Second):
		}
	}
}

// batch is a claimed batch, parsed.
type batch struct {
	b      store.Batch // nil when nothing was waiting
	parsed []parsedRecord
	err    error
}

func (d *Dispatcher) claim(ctx context.Context) batch {
	b, err := d.o.Store.Claim(ctx, d.o.BatchRecords, d.o.BatchBytes)
	if err != nil || b == nil {
		return batch{err: err}
	}
	return batch{b: b, parsed: parseRecords(b.Records())}
}

// releaseNext gives back a batch claimed ahead and not applied.
func (d *Dispatcher) releaseNext() {
	if d.next == nil {
		return
	}
	if b := <-d.next; b.b != nil {
		b.b.Release()
	}
	d.next = nil
}

// step applies one batch and reports how many records it held. While its transaction runs,
// the next batch is claimed and parsed, so parsing and committing overlap.
func (d *Dispatcher) step(ctx context.Context) (int, error) {
	var b batch
	if d.next != nil {
		b = <-d.next
		d.next = nil
	}
	if b.b == nil || b.err != nil {
		b = d.claim(ctx)
	}
	if b.err != nil || b.b == nil {
		return 0, b.err
	}
	recs, parsed := b.b.Records(), b.parsed
	next := make(chan batch, 1)
	go func() { next <- d.claim(ctx) }()
	d.next = next
	var stats *dispatchStats
	var touched []string
	dups, dead := 0, 0
	err := b.b.Apply(ctx, func(tx store.Tx) error {
		stats = newDispatchStats()
		for i, rec := range recs {
			dup, isDead, err := d.applyRecord(tx, rec, parsed[i], stats)
			if err != nil {
				return fmt.Errorf("record %d: %w", rec.Seq, err)
			}
			if dup {
				dups++
			}
			if isDead {
				dead++
			}
		}
		touched = tx.Touched()
		return nil
	})
	if err != nil {
		// Nothing of the batch was applied: give it back, and the one claimed after it,
		// which a store may void (bolt claims in sequence).
		b.b.Release()
		d.releaseNext()
		return 0, err
	}
	d.applied.Add(uint64(len(recs)))
	d.record(recs, stats, dups, dead)
	slices.Sort(touched)
	d.o.Applied(touched, stats.unsupported)
	return len(recs), nil
}

// parsedRecord is a record decoded ahead of its transaction.
type parsedRecord struct {
	hash    []byte
	changes []parsedChange
	err     error // unparseable: a dead letter
}

// parseRecords decodes a batch on every core: parsing is most of the work and needs no
// state, so only the de-duplication and counting run inside the (serial) transaction.
func parseRecords(recs []store.Record) []parsedRecord {
	out := make([]parsedRecord, len(recs))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(recs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < len(recs); i = int(next.Add(1) - 1) {
				p := &out[i]
				p.hash = bodyHash(recs[i])
				b, err := webhook.ParseBody(recs[i].Body)
				if err != nil {
					p.err = err
					continue
				}
				p.changes = parseChanges(b)
			}
		}()
	}
	wg.Wait()
	return out
}

// applyRecord applies one record's changes. A payload seen before is skipped whole; one that
// cannot be parsed, or names a number nobody manages, is kept as a dead letter.
func (d *Dispatcher) applyRecord(tx store.Tx, rec store.Record, p parsedRecord, stats *dispatchStats) (dup, dead bool, err error) {
	first, err := tx.FirstBody(p.hash, rec.ReceivedAt)
	if err != nil || !first {
		return !first, false, err
	}
	if p.err != nil {
		return false, true, tx.DeadLetter(rec, p.hash, "cannot parse: "+p.err.Error())
	}
	a := &applier{tx: tx, resolver: d.o.Resolver, rec: rec, stats: stats}
	if err := a.apply(p.changes); err != nil {
		return false, false, err
	}
	if len(a.unmatched) > 0 {
		slices.Sort(a.unmatched)
		return false, true, tx.DeadLetter(rec, p.hash, strings.Join(slices.Compact(a.unmatched), "; "))
	}
	return false, false, nil
}

func (d *Dispatcher) record(recs []store.Record, stats *dispatchStats, dups, dead int) {
	m := d.o.Metrics
	if m == nil {
		return
	}
	now := d.o.Now()
	for _, r := range recs {
		m.ProcessingLag.Observe(now.Sub(r.ReceivedAt).Seconds())
	}
	for field, results := range stats.changes {
		for result, n := range results {
			m.Changes.WithLabelValues(field, result).Add(float64(n))
		}
	}
	m.Duplicates.Add(float64(dups))
	m.DeadLetters.Add(float64(dead))
	m.HistoryMessages.Add(float64(stats.historyMessages))
}

// bodyHash identifies a payload per MetaApp: Meta's duplicate deliveries are byte-identical.
func bodyHash(rec store.Record) []byte {
	h := sha256.New()
	h.Write([]byte(rec.Namespace))
	h.Write([]byte{0})
	h.Write([]byte(rec.App))
	h.Write([]byte{0})
	h.Write(rec.Body)
	return h.Sum(nil)[:16]
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
