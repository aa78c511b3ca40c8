// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graphsim

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"sync"
	"time"

	"github.com/coex-operator/coex-operator/internal/webhook"
)

// DeliveryOptions shape webhook delivery. Meta retries any non-200 answer with growing delays
// for days and sometimes delivers twice; the simulator does the same on a shorter leash so
// tests run in milliseconds.
type DeliveryOptions struct {
	// MaxInFlight bounds concurrent deliveries, retries included (default 4). It also bounds
	// memory: a sync's emitter waits while all slots are busy.
	MaxInFlight int
	// RetryBase is the first retry delay, doubled per attempt up to RetryMax (defaults 1s, 1m).
	RetryBase time.Duration
	RetryMax  time.Duration
	// MaxAttempts bounds attempts per webhook (default 8); MaxRetryTime, when set, bounds the
	// time from the first attempt. Then the delivery counts as failed.
	MaxAttempts  int
	MaxRetryTime time.Duration
	// DuplicateShare (0..1) of successful deliveries is sent a second time, chosen from the
	// seed and the body, so a run replays.
	DuplicateShare float64
	// Timeout bounds one attempt (default 10s).
	Timeout time.Duration
	// SyncDelay is waited (wall time) after an accepted sync request before its webhooks
	// start, as Meta takes a moment.
	SyncDelay time.Duration
}

func (o *DeliveryOptions) defaults() {
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 4
	}
	if o.RetryBase <= 0 {
		o.RetryBase = time.Second
	}
	if o.RetryMax <= 0 {
		o.RetryMax = time.Minute
	}
	o.RetryMax = max(o.RetryMax, o.RetryBase)
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 8
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
}

// Stats counts webhook deliveries.
type Stats struct {
	// Delivered webhooks were answered 200 (their duplicates are not counted again).
	Delivered int64 `json:"delivered"`
	// Retried counts retry attempts after a non-200 answer or a connection error.
	Retried int64 `json:"retried"`
	// Duplicated counts second sends of already delivered webhooks.
	Duplicated int64 `json:"duplicated"`
	// Failed webhooks ran out of attempts or time.
	Failed int64 `json:"failed"`
	// Undeliverable webhooks were dropped because no app was subscribed to the WABA, to the
	// field, or had a callback URL (one per app and webhook).
	Undeliverable int64 `json:"undeliverable"`
	// Attempts and BytesSent count every POST, duplicates and retries included.
	Attempts  int64 `json:"attempts"`
	BytesSent int64 `json:"bytes_sent"`
	// Pending is the number of webhooks queued or in flight, plus running sync emitters.
	Pending              int64            `json:"pending"`
	DeliveredByField     map[string]int64 `json:"delivered_by_field"`
	UndeliverableByField map[string]int64 `json:"undeliverable_by_field"`
}

// job is one webhook to one app. next, if any, is delivered by the same worker right after
// (a media follow-up after its chunk), so "later" holds as it does at Meta.
type job struct {
	field, appID, url string
	body              []byte
	signature         string
	next              *job
}

// idleTracker counts pending work and lets callers wait for none.
type idleTracker struct {
	mu   sync.Mutex
	n    int64
	done chan struct{} // closed while n == 0
}

func newIdleTracker() *idleTracker {
	t := &idleTracker{done: make(chan struct{})}
	close(t.done)
	return t
}

func (t *idleTracker) add(d int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.n == 0 && d > 0 {
		t.done = make(chan struct{})
	}
	t.n += d
	if t.n == 0 && d < 0 {
		close(t.done)
	}
}

func (t *idleTracker) pending() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n
}

func (t *idleTracker) wait(ctx context.Context) error {
	t.mu.Lock()
	done := t.done
	t.mu.Unlock()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// deliverer posts webhooks with bounded concurrency, retries and duplicates.
type deliverer struct {
	opts   DeliveryOptions
	seed   uint64
	client *http.Client
	queue  chan *job
	idle   *idleTracker
	ctx    context.Context
	log    *slog.Logger
	wg     sync.WaitGroup

	mu    sync.Mutex
	stats Stats
}

func newDeliverer(ctx context.Context, opts DeliveryOptions, seed uint64, client *http.Client,
	idle *idleTracker, log *slog.Logger) *deliverer {
	d := &deliverer{
		opts: opts, seed: seed, client: client, idle: idle, ctx: ctx, log: log,
		queue: make(chan *job, opts.MaxInFlight),
		stats: Stats{DeliveredByField: map[string]int64{}, UndeliverableByField: map[string]int64{}},
	}
	for range opts.MaxInFlight {
		d.wg.Add(1)
		go d.worker()
	}
	return d
}

// enqueue hands j (and its follow-ups) to the workers, waiting while they are all busy.
func (d *deliverer) enqueue(ctx context.Context, j *job) error {
	var n int64
	for cur := j; cur != nil; cur = cur.next {
		n++
	}
	d.idle.add(n)
	select {
	case d.queue <- j:
		return nil
	case <-ctx.Done():
		d.idle.add(-n)
		return ctx.Err()
	}
}

func (d *deliverer) worker() {
	defer d.wg.Done()
	for {
		select {
		case <-d.ctx.Done():
			return
		case j := <-d.queue:
			for cur := j; cur != nil; cur = cur.next {
				d.deliver(cur)
				d.idle.add(-1)
			}
		}
	}
}

// stop waits for the workers (after the context is cancelled) and forgets queued work.
func (d *deliverer) stop() {
	d.wg.Wait()
	for {
		select {
		case j := <-d.queue:
			for cur := j; cur != nil; cur = cur.next {
				d.idle.add(-1)
			}
		default:
			return
		}
	}
}

// deliver posts j until it is answered 200 or attempts run out, then maybe once more.
func (d *deliverer) deliver(j *job) {
	start := time.Now()
	delay := d.opts.RetryBase
	for attempt := 1; ; attempt++ {
		status, err := d.post(j)
		if err == nil && status == http.StatusOK {
			d.count(func(s *Stats) { s.Delivered++; s.DeliveredByField[j.field]++ })
			if d.duplicate(j) {
				_, _ = d.post(j)
				d.count(func(s *Stats) { s.Duplicated++ })
			}
			return
		}
		if d.ctx.Err() != nil {
			return
		}
		outOfTime := d.opts.MaxRetryTime > 0 && time.Since(start)+delay > d.opts.MaxRetryTime
		if attempt >= d.opts.MaxAttempts || outOfTime {
			d.count(func(s *Stats) { s.Failed++ })
			d.log.Warn("webhook delivery failed", "field", j.field, "app", j.appID, "attempts", attempt,
				"status", status, "error", err)
			return
		}
		d.count(func(s *Stats) { s.Retried++ })
		t := time.NewTimer(delay)
		select {
		case <-d.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		delay = min(delay*2, d.opts.RetryMax)
	}
}

// duplicate decides from the seed, the body and the app, not from timing or ports, so a
// run replays.
func (d *deliverer) duplicate(j *job) bool {
	if d.opts.DuplicateShare <= 0 {
		return false
	}
	return unit(hash(d.seed, 0xd0, strHash(string(j.body)), strHash(j.appID))) < d.opts.DuplicateShare
}

func (d *deliverer) post(j *job) (int, error) {
	ctx, cancel := context.WithTimeout(d.ctx, d.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, j.url, bytes.NewReader(j.body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(webhook.SignatureHeader, j.signature)
	req.Header.Set("User-Agent", "facebookexternalua")
	d.count(func(s *Stats) { s.Attempts++; s.BytesSent += int64(len(j.body)) })
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

func (d *deliverer) undeliverable(field string, n int) {
	if n > 0 {
		d.count(func(s *Stats) { s.Undeliverable += int64(n); s.UndeliverableByField[field] += int64(n) })
	}
}

func (d *deliverer) count(f func(*Stats)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f(&d.stats)
}

func (d *deliverer) snapshot() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.stats
	s.DeliveredByField = maps.Clone(d.stats.DeliveredByField)
	s.UndeliverableByField = maps.Clone(d.stats.UndeliverableByField)
	s.Pending = d.idle.pending()
	return s
}
