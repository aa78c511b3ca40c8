// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

// Package relay delivers each CoexNumber's outbox to its tenant's endpoint: POSTs of the
// events the dispatcher stored, signed (sign.go), in order per number, at least once, until
// the endpoint answers 2xx. It reads the store's outbox and nothing else of the receiver: the
// events are bytes to it (their document is package event), and where a number's events go
// is asked of an EndpointFunc, which the receiver answers from the cluster.
package relay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"

	"github.com/coex-operator/coex-operator/internal/receiver/store"
)

// Defaults of Options.
const (
	DefaultTimeout       = 10 * time.Second
	DefaultBatchSize     = 500
	DefaultMaxBatchBytes = 4 << 20
	DefaultWorkers       = 8
	DefaultBackoffBase   = time.Second
	DefaultBackoffMax    = 2 * time.Minute
	DefaultPollInterval  = time.Second
)

// maxRetryAfter caps an endpoint's Retry-After, so a wrong header cannot park a stream for
// days (or overflow a Duration).
const maxRetryAfter = time.Hour

// userAgent names the receiver to the tenants' endpoints.
const userAgent = "coex-operator-receiver"

// maxDrain bounds how much of an answer is read (and thrown away) to reuse the connection.
const maxDrain = 64 << 10

// Outbox is what the relay drains: store.Outbox. Each stream is relayed under a lease, so
// with several receivers on one store a stream is relayed in order by one at a time.
type Outbox interface {
	Streams(ctx context.Context) ([]string, error)
	Lease(ctx context.Context, stream string) (store.Lease, bool, error)
	Emitted() <-chan struct{}
}

// Endpoint is where a stream's events go and the key that signs them.
type Endpoint struct {
	URL    string
	Secret []byte
}

// EndpointFunc resolves a stream's endpoint from the CoexNumber's spec.relay, or its
// MetaApp's. ok is false when none is configured (or its Secret cannot be read yet).
type EndpointFunc func(stream string) (ep Endpoint, ok bool, err error)

// Options configure a Relay. Outbox and Endpoints are required; every other field has
// a default.
type Options struct {
	// Outbox is drained: an event leaves it only once an endpoint answered 2xx for it.
	Outbox Outbox
	// Endpoints resolves where each stream's events go.
	Endpoints EndpointFunc
	// Client sends the POSTs; nil means one with DefaultTimeout. Redirects are never
	// followed (a copy of the client is used): a 301/302 would turn the POST into a GET whose
	// 2xx would acknowledge events that never arrived.
	Client *http.Client
	// BatchSize is the most events per POST (DefaultBatchSize).
	BatchSize int
	// MaxBatchBytes bounds a POST's body (DefaultMaxBatchBytes); a single event larger
	// than it is still sent, alone.
	MaxBatchBytes int
	// Workers is how many streams are delivered in parallel (DefaultWorkers).
	Workers int
	// BackoffBase and BackoffMax bound the wait of a failing stream: a uniform draw from
	// [0, ceiling), the ceiling doubling from BackoffBase to BackoffMax per consecutive
	// failure (full jitter). A longer Retry-After on 429/503 wins.
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// PollInterval is how often the outbox is listed besides its Appended signal, which is
	// also when streams whose backoff ended are retried at the latest
	// (DefaultPollInterval).
	PollInterval time.Duration
	// Now is the clock of backoffs and signature timestamps; tests use a fake one.
	Now func() time.Time
	// Rand returns a number in [0, 1) for the backoff jitter; tests make it fixed.
	Rand func() float64
	// Logger gets one line per change of a stream's state (failing, recovered), and every
	// attempt at V(1). Never a secret, an event or a URL's query string.
	Logger logr.Logger
	// Metrics, when not nil, is updated.
	Metrics *Metrics
}

// withDefaults returns o with every empty field set to its default.
func (o Options) withDefaults() Options {
	if o.Client == nil {
		o.Client = &http.Client{Timeout: DefaultTimeout}
	}
	c := *o.Client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	o.Client = &c
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.MaxBatchBytes <= 0 {
		o.MaxBatchBytes = DefaultMaxBatchBytes
	}
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers
	}
	if o.BackoffBase <= 0 {
		o.BackoffBase = DefaultBackoffBase
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = DefaultBackoffMax
	}
	o.BackoffMax = max(o.BackoffMax, o.BackoffBase)
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Float64
	}
	return o
}

// Relay delivers the outbox's events to each stream's endpoint over HTTP, at least once and
// in order per stream:
//
//   - a stream is handed to at most one worker at a time, and a worker sends the oldest
//     events of its stream (Peek), so batch n+1 never leaves before batch n is acknowledged;
//   - events leave the outbox (Ack through the batch's last seq) only after a 2xx answer, so
//     a failure, a timeout or a crash means the same batch is sent again: the tenant
//     de-duplicates on event.Event.ID.
//
// A failing stream backs off alone; the others keep going. Nothing is ever dropped: events
// of a stream without an endpoint, or whose endpoint rejects them, wait in the outbox.
type Relay struct {
	opts    Options
	log     logr.Logger
	running atomic.Bool
	// onBackoff, when set (by tests), is told every backoff chosen, on the Start goroutine.
	onBackoff func(stream string, d time.Duration)
}

// New returns a Relay; Start runs it.
func New(opts Options) *Relay {
	// The caller names the logger (the receiver passes its "relay" child).
	return &Relay{opts: opts.withDefaults(), log: opts.Logger}
}

// NeedLeaderElection tells controller-runtime's manager to run the relay on every replica:
// each receiver drains its own (local, durable) outbox, which no other replica can.
func (r *Relay) NeedLeaderElection() bool { return false }

// Start delivers until ctx is done, then waits for the POSTs in flight (cancelled with ctx)
// and returns nil. Events being delivered when ctx ends stay in the outbox unless their 2xx
// arrived. It implements controller-runtime's manager.Runnable.
func (r *Relay) Start(ctx context.Context) error {
	if r.opts.Outbox == nil || r.opts.Endpoints == nil {
		return errors.New("relay: Outbox and Endpoints are required")
	}
	// Two loops on one outbox would deliver a stream twice in parallel, out of order.
	if !r.running.CompareAndSwap(false, true) {
		return errors.New("relay: already started")
	}
	defer r.running.Store(false)
	s := &scheduler{
		r:       r,
		ctx:     ctx,
		streams: map[string]*streamState{}, endpointFailures: map[string]int{},
		// Each worker sends exactly one outcome and at most Workers run: never blocks.
		results: make(chan outcome, r.opts.Workers),
	}
	s.run()
	return nil
}

// streamState is what the scheduler knows of one stream.
type streamState struct {
	queued bool // in the ready queue
	busy   bool // a worker has it
	// failures counts consecutive failed attempts; the backoff grows with it.
	failures  int
	notBefore time.Time // no attempt before then (backoff)
	endpoint  string    // the URL of its last attempt
	// toldToWait is set when the endpoint's last answer had a Retry-After: that wait is
	// the tenant's to end, not another stream's success.
	toldToWait bool
	// problem is the kind of the last failure ("" when the last attempt worked), logged
	// only when it changes, not per attempt.
	problem string
}

// scheduler is the single goroutine that owns every stream's state: it lists the outbox,
// queues the streams that may be tried, hands them to workers and settles their outcomes.
// Owning the state on one goroutine is what makes "one worker per stream" need no lock.
type scheduler struct {
	r        *Relay
	ctx      context.Context
	streams  map[string]*streamState
	ready    []string // streams to try, oldest first (round-robin between busy streams)
	inflight int
	results  chan outcome
	wg       sync.WaitGroup
	// nextRetry is the earliest end of a backoff of a stream waiting in the outbox: the
	// scheduler wakes then rather than at the next poll.
	nextRetry   time.Time
	listProblem string
	// endpointFailures counts, per endpoint URL, the failed attempts since its last
	// success, whatever the stream. Two or more mean the endpoint itself was failing, not
	// one stream's events: its first success then ends the backoff of every stream that
	// waits for it, so a backlog drains as soon as a tenant is back, not up to
	// BackoffMax later. One stream failing alone among succeeding ones never gets there,
	// so it keeps its backoff.
	endpointFailures map[string]int
}

func (s *scheduler) run() {
	defer s.wg.Wait()
	timer := time.NewTimer(0)
	defer timer.Stop()
	list := true // at once, for what waited before Start
	for {
		if list {
			s.list()
		}
		s.dispatch()
		timer.Reset(s.wait())
		select {
		case <-s.ctx.Done():
			return
		case <-s.r.opts.Outbox.Emitted():
			list = true
		case <-timer.C:
			list = true
		case o := <-s.results:
			s.inflight--
			s.settle(o)
			list = false
		}
	}
}

// wait is how long to sleep before listing again: the poll interval, or less when a
// stream's backoff ends earlier.
func (s *scheduler) wait() time.Duration {
	d := s.r.opts.PollInterval
	if !s.nextRetry.IsZero() {
		d = min(d, max(s.nextRetry.Sub(s.r.opts.Now()), 0))
	}
	return d
}

// list queues the streams with events waiting that are neither busy nor backing off, and
// forgets streams that no longer have events.
func (s *scheduler) list() {
	names, err := s.r.opts.Outbox.Streams(s.ctx)
	if err != nil {
		if s.listProblem == "" {
			s.r.log.Error(err, "cannot list the outbox; retrying")
		}
		s.listProblem = "list"
		return
	}
	if s.listProblem != "" {
		s.r.log.Info("listing the outbox again")
		s.listProblem = ""
	}
	s.r.opts.Metrics.listed(len(names))
	now := s.r.opts.Now()
	s.nextRetry = time.Time{}
	waiting := make(map[string]bool, len(names))
	for _, name := range names {
		waiting[name] = true
		st := s.streams[name]
		if st == nil {
			st = &streamState{}
			s.streams[name] = st
		}
		switch {
		case st.busy || st.queued:
		case now.Before(st.notBefore):
			if s.nextRetry.IsZero() || st.notBefore.Before(s.nextRetry) {
				s.nextRetry = st.notBefore
			}
		default:
			st.queued = true
			s.ready = append(s.ready, name)
		}
	}
	// A stream drained (or removed) elsewhere: its state is only its last backoff.
	for name, st := range s.streams {
		if !waiting[name] && !st.busy && !st.queued {
			delete(s.streams, name)
		}
	}
}

// dispatch hands queued streams to workers while some are free.
func (s *scheduler) dispatch() {
	for s.inflight < s.r.opts.Workers && len(s.ready) > 0 {
		name := s.ready[0]
		s.ready[0] = ""
		s.ready = s.ready[1:]
		st := s.streams[name]
		st.queued, st.busy = false, true
		s.inflight++
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.results <- s.r.deliver(s.ctx, name)
		}()
	}
}

// settle records a worker's outcome: a stream that delivered is queued again at the back
// (it may have more, and the others get their turn); one that failed backs off.
func (s *scheduler) settle(o outcome) {
	st := s.streams[o.stream] // busy, so never forgotten
	st.busy = false
	log := s.r.log.WithValues("stream", o.stream)
	if o.problem == "" {
		if st.problem != "" {
			log.Info("delivering again", "after", st.problem, "failedAttempts", st.failures)
		}
		st.problem, st.failures, st.notBefore = "", 0, time.Time{}
		if o.events > 0 {
			st.queued = true
			s.ready = append(s.ready, o.stream)
		}
		s.endpointBack(o.endpoint)
		return
	}
	if s.ctx.Err() != nil {
		return // cancelled, not failed: nothing to log or wait for
	}
	st.failures++
	st.endpoint, st.toldToWait = o.endpoint, o.retryAfter > 0
	if o.endpoint != "" {
		s.endpointFailures[o.endpoint]++
	}
	d := s.r.backoff(st.failures, o.retryAfter)
	st.notBefore = s.r.opts.Now().Add(d)
	if s.nextRetry.IsZero() || st.notBefore.Before(s.nextRetry) {
		s.nextRetry = st.notBefore
	}
	if s.r.onBackoff != nil {
		s.r.onBackoff(o.stream, d)
	}
	kv := append([]any{"retryIn", d.String(), "failedAttempts", st.failures}, o.kv...)
	if o.problem != st.problem {
		st.problem = o.problem
		if o.quiet {
			log.Info(o.problem+"; events wait in the outbox", kv...)
		} else {
			log.Error(o.err, o.problem+"; retrying", kv...)
		}
	}
	kv = append(kv, "problem", o.problem)
	if o.err != nil {
		kv = append(kv, "error", o.err.Error())
	}
	log.V(1).Info("delivery failed", kv...)
}

// backoff is the wait after the failures-th consecutive failure: a uniform draw from
// [0, ceiling) where the ceiling doubles from BackoffBase up to BackoffMax ("full jitter"),
// so streams that failed together (one endpoint down) do not retry together; a longer
// Retry-After from the endpoint wins.
func (r *Relay) backoff(failures int, retryAfter time.Duration) time.Duration {
	ceiling := r.opts.BackoffBase
	for i := 1; i < failures && ceiling < r.opts.BackoffMax; i++ {
		ceiling *= 2
	}
	ceiling = min(ceiling, r.opts.BackoffMax)
	d := time.Duration(r.opts.Rand() * float64(ceiling))
	return max(d, min(retryAfter, maxRetryAfter))
}

// endpointBack records a success at endpoint and, if the endpoint had been failing for
// more than one attempt, ends the backoff of the streams waiting for it (except those it
// told to wait with Retry-After): the next listing (made at once) queues them.
func (s *scheduler) endpointBack(endpoint string) {
	if endpoint == "" {
		return
	}
	failing := s.endpointFailures[endpoint] >= 2
	delete(s.endpointFailures, endpoint)
	if !failing {
		return
	}
	now, woken := s.r.opts.Now(), 0
	for _, st := range s.streams {
		if st.endpoint == endpoint && !st.toldToWait && !st.busy && !st.queued && now.Before(st.notBefore) {
			st.notBefore = time.Time{}
			woken++
		}
	}
	if woken > 0 {
		s.nextRetry = now
		s.r.log.Info("relay endpoint delivers again; retrying the streams that waited for it",
			"url", redactURL(endpoint), "streams", woken)
	}
}

// outcome is what one attempt at a stream came to.
type outcome struct {
	stream   string
	endpoint string // the URL tried, once resolved
	events   int    // events acknowledged by the endpoint; 0 when the stream was empty
	// problem is "" on success (or an empty stream), else the kind of failure: fixed text
	// (with the status code), so a change of kind is logged once.
	problem    string
	quiet      bool  // an expected state (no endpoint yet), logged at Info, not as an error
	err        error // the cause, when there is one beyond the problem itself
	retryAfter time.Duration
	kv         []any // what to log with the problem: url, delivery, status
}

// deliver makes one attempt at stream: its oldest batch, POSTed once.
func (r *Relay) deliver(ctx context.Context, stream string) outcome {
	m := r.opts.Metrics
	o := outcome{stream: stream}
	lease, ok, err := r.opts.Outbox.Lease(ctx, stream)
	if err != nil {
		m.attempt(resultFailed)
		return o.failed("cannot lease the stream", err)
	}
	if !ok {
		// Another receiver relays this stream now; it is listed again later.
		o = o.failed("relayed by another receiver", nil)
		o.quiet = true
		return o
	}
	defer lease.Release()
	items, err := lease.Peek(ctx, r.opts.BatchSize)
	if err != nil {
		m.attempt(resultFailed)
		return o.failed("cannot read the outbox", err)
	}
	if len(items) == 0 {
		return o // drained since it was listed
	}
	ep, ok, err := r.opts.Endpoints(stream)
	switch {
	case err != nil:
		m.attempt(resultFailed)
		return o.failed("cannot resolve the endpoint", err)
	case !ok || ep.URL == "":
		m.attempt(resultNoEndpoint)
		o = o.failed("no relay endpoint configured", nil)
		o.quiet = true
		return o
	case len(ep.Secret) == 0:
		// Never send a tenant's data with a signature anyone could forge.
		m.attempt(resultNoEndpoint)
		o = o.failed("relay endpoint has no signing secret", nil)
		o.kv = []any{"url", redactURL(ep.URL)}
		return o
	}

	o.endpoint = ep.URL
	items, body := batchBody(items, r.opts.MaxBatchBytes)
	delivery := fmt.Sprintf("%s:%d-%d", stream, items[0].Seq, items[len(items)-1].Seq)
	o.kv = []any{"url", redactURL(ep.URL), "delivery", delivery, "events", len(items)}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		m.attempt(resultFailed)
		// Not err: it quotes the whole URL, query string included.
		return o.failed("relay endpoint URL is invalid", nil)
	}
	ts := strconv.FormatInt(r.opts.Now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, Sign(ep.Secret, ts, body))
	req.Header.Set(HeaderDelivery, delivery)

	start := r.opts.Now()
	resp, err := r.opts.Client.Do(req)
	m.posted(r.opts.Now().Sub(start))
	if err != nil {
		m.attempt(resultFailed)
		return o.failed("cannot reach the relay endpoint", redactErr(err))
	}
	// Read a bounded part of the answer (never logged: it may echo the events) so the
	// connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
	_ = resp.Body.Close()
	o.kv = append(o.kv, "status", resp.StatusCode)

	if resp.StatusCode/100 != 2 {
		m.attempt(resultFailed)
		switch resp.StatusCode {
		case http.StatusTooManyRequests, http.StatusServiceUnavailable:
			o.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), r.opts.Now())
		}
		switch {
		case resp.StatusCode/100 == 3:
			return o.failed(fmt.Sprintf("relay endpoint redirects (HTTP %d), which the relay does not follow: "+
				"configure the final URL", resp.StatusCode), nil)
		case rejecting(resp.StatusCode):
			return o.failed(fmt.Sprintf("the tenant's endpoint rejects the events (HTTP %d)", resp.StatusCode), nil)
		}
		return o.failed(fmt.Sprintf("relay endpoint failed (HTTP %d)", resp.StatusCode), nil)
	}
	m.attempt(resultDelivered)
	m.acknowledged(len(items))
	if err := lease.Ack(ctx, items[len(items)-1].Seq); err != nil {
		// Delivered but still in the outbox: sent again later, which at least once allows.
		return o.failed("delivered but cannot acknowledge in the outbox", err)
	}
	o.events = len(items)
	r.log.V(1).Info("delivered", append([]any{"stream", stream}, o.kv...)...)
	return o
}

// failed returns o as a failure of kind problem, caused by err when there is one.
func (o outcome) failed(problem string, err error) outcome {
	o.problem, o.err = problem, err
	return o
}

// rejecting reports whether status is the endpoint refusing the events themselves (a 4xx
// that retrying unchanged will not fix) rather than a transient state. The events are
// retried all the same, since nothing is dropped, but the tenant has to act.
func rejecting(status int) bool {
	switch status {
	case http.StatusRequestTimeout, http.StatusConflict, http.StatusTooEarly, http.StatusTooManyRequests:
		return false
	}
	return status >= 400 && status < 500
}

// batchBody takes the longest prefix of items whose body fits in maxBytes (at least one
// item) and returns it with the body: {"events":[...]} with each event's stored JSON as is,
// so the signature covers exactly the bytes the outbox holds.
func batchBody(items []store.OutboxItem, maxBytes int) ([]store.OutboxItem, []byte) {
	const head, tail = `{"events":[`, `]}`
	size := len(head) + len(tail)
	n := 0
	for i, it := range items {
		add := len(it.Event)
		if i > 0 {
			add++ // the comma
		}
		if i > 0 && size+add > maxBytes {
			break
		}
		size += add
		n++
	}
	items = items[:n]
	body := make([]byte, 0, size)
	body = append(body, head...)
	for i, it := range items {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, it.Event...)
	}
	return items, append(body, tail...)
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP-date (RFC 9110
// 10.2.3). It returns 0 when absent or unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, int64(maxRetryAfter/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), maxRetryAfter)
	}
	return 0
}

// redactURL returns raw without its user info, query string and fragment, which may hold
// credentials, so it can be logged.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<invalid URL>"
	}
	u.User = nil
	u.RawQuery, u.ForceQuery = "", false
	u.Fragment, u.RawFragment = "", ""
	return u.String()
}

// redactErr removes the URL that net/http puts in its errors (query string included).
func redactErr(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return fmt.Errorf("%s %s: %w", ue.Op, redactURL(ue.URL), ue.Err)
	}
	return err
}
