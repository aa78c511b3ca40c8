// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package receiver

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
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
	// BatchRecords and BatchBytes bound one transaction (defaults 256 and 32 MiB). Bigger
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
}

// NewDispatcher returns a dispatcher; Start runs it.
func NewDispatcher(o DispatcherOptions) *Dispatcher {
	if o.BatchRecords <= 0 {
		o.BatchRecords = 256
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = 32 << 20
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

// step applies one batch and reports how many records it held.
func (d *Dispatcher) step() (int, error) {
	recs, err := d.o.Spool.Read(d.applied.Load(), d.o.BatchRecords, d.o.BatchBytes)
	if err != nil || len(recs) == 0 {
		return 0, err
	}
	stats := newDispatchStats()
	var touched []string
	dups, dead := 0, 0
	last := recs[len(recs)-1].Seq
	err = d.o.State.Apply(func(tx *StateTx) error {
		for _, rec := range recs {
			dup, isDead, err := d.applyRecord(tx, rec, stats)
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

// applyRecord applies one record's changes. A payload seen before is skipped whole; one that
// cannot be parsed, or names a number nobody manages, is kept as a dead letter.
func (d *Dispatcher) applyRecord(tx *StateTx, rec Record, stats *dispatchStats) (dup, dead bool, err error) {
	first, err := tx.FirstBody(bodyHash(rec), rec.ReceivedAt)
	if err != nil || !first {
		return !first, false, err
	}
	env, err := webhook.ParseEnvelope(rec.Body)
	if err != nil {
		return false, true, tx.DeadLetter(rec, "cannot parse: "+err.Error())
	}
	a := &applier{tx: tx, resolver: d.o.Resolver, rec: rec, stats: stats}
	if err := a.apply(env); err != nil {
		return false, false, err
	}
	if len(a.unmatched) > 0 {
		slices.Sort(a.unmatched)
		return false, true, tx.DeadLetter(rec, strings.Join(slices.Compact(a.unmatched), "; "))
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
