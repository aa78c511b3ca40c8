// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package receiver

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

	"github.com/coex-operator/coex-operator/internal/webhook"
)

// DispatcherOptions configure a Dispatcher.
type DispatcherOptions struct {
	Spool    *Spool
	State    *State
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

// Dispatcher drains the spool into the state: each batch of records is parsed, de-duplicated,
// counted and turned into relay events in one state transaction that also records the last
// sequence applied; the spool is trimmed only after that commit. A crash replays at most the
// batch in flight, and the recorded sequence makes the replay a no-op.
type Dispatcher struct {
	o       DispatcherOptions
	applied atomic.Uint64
	next    chan batch // the batch after the one being applied, being read and parsed
}

// NewDispatcher returns a dispatcher; Start runs it.
func NewDispatcher(o DispatcherOptions) *Dispatcher {
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

// AppliedSeq is the spool sequence of the last record applied.
func (d *Dispatcher) AppliedSeq() uint64 { return d.applied.Load() }

// Start applies records until ctx ends. Errors are retried with a growing pause: a record is
// never skipped because the API server or the disk had a bad moment.
func (d *Dispatcher) Start(ctx context.Context) error {
	seq, err := d.o.State.Applied()
	if err != nil {
		return err
	}
	d.applied.Store(seq)
	// Records applied before a crash may still be in the spool: trim them.
	if err := d.o.Spool.DeleteThrough(seq); err != nil {
		return err
	}
	prune := time.NewTicker(time.Hour)
	defer prune.Stop()
	pause := 100 * time.Millisecond
	for {
		n, err := d.step()
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
		case <-d.o.Spool.Appended():
		case <-prune.C:
			// Meta retries for seven days; a payload hash older than eight can go.
			if _, err := d.o.State.PruneBodies(d.o.Now().Add(-8 * 24 * time.Hour)); err != nil {
				d.o.Logger.Error(err, "pruning payload hashes failed")
			}
		case <-time.After(time.Second):
		}
	}
}

// batch is records read from the spool after a sequence, parsed.
type batch struct {
	after  uint64
	recs   []Record
	parsed []parsedRecord
	err    error
}

func (d *Dispatcher) load(after uint64) batch {
	recs, err := d.o.Spool.Read(after, d.o.BatchRecords, d.o.BatchBytes)
	if err != nil || len(recs) == 0 {
		return batch{after: after, err: err}
	}
	return batch{after: after, recs: recs, parsed: parseRecords(recs)}
}

// step applies one batch and reports how many records it held. While its transaction runs,
// the next batch is read and parsed, so parsing and committing overlap.
func (d *Dispatcher) step() (int, error) {
	var b batch
	if d.next != nil {
		b = <-d.next
		d.next = nil
	}
	if b.after != d.applied.Load() || len(b.recs) == 0 || b.err != nil {
		b = d.load(d.applied.Load())
	}
	if b.err != nil || len(b.recs) == 0 {
		return 0, b.err
	}
	recs, parsed := b.recs, b.parsed
	last := recs[len(recs)-1].Seq
	next := make(chan batch, 1)
	go func() { next <- d.load(last) }()
	d.next = next
	stats := newDispatchStats()
	var touched []string
	dups, dead := 0, 0
	err := d.o.State.Apply(func(tx *StateTx) error {
		for i, rec := range recs {
			dup, isDead, err := d.applyRecord(tx, rec, parsed[i], stats)
			if err != nil {
				return fmt.Errorf("spool record %d: %w", rec.Seq, err)
			}
			if dup {
				dups++
			}
			if isDead {
				dead++
			}
		}
		touched = tx.Touched()
		return tx.SetApplied(last)
	})
	if err != nil {
		return 0, err
	}
	d.applied.Store(last)
	if err := d.o.Spool.DeleteThrough(last); err != nil {
		// Harmless: the sequence is recorded, so these records are skipped and trimmed later.
		d.o.Logger.Error(err, "trimming the spool failed")
	}
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
func parseRecords(recs []Record) []parsedRecord {
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
				env, err := webhook.ParseEnvelope(recs[i].Body)
				if err != nil {
					p.err = err
					continue
				}
				p.changes = parseChanges(env)
			}
		}()
	}
	wg.Wait()
	return out
}

// applyRecord applies one record's changes. A payload seen before is skipped whole; one that
// cannot be parsed, or names a number nobody manages, is kept as a dead letter.
func (d *Dispatcher) applyRecord(tx *StateTx, rec Record, p parsedRecord, stats *dispatchStats) (dup, dead bool, err error) {
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

func (d *Dispatcher) record(recs []Record, stats *dispatchStats, dups, dead int) {
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
	m.SpoolDepth.Set(float64(d.o.Spool.Depth()))
}

// bodyHash identifies a payload per MetaApp: Meta's duplicate deliveries are byte-identical.
func bodyHash(rec Record) []byte {
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
