// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package relay

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/coex-operator/coex-operator/internal/receiver/event"
	"github.com/coex-operator/coex-operator/internal/receiver/internal/receivertest"
	"github.com/coex-operator/coex-operator/internal/receiver/store"
)

// relayDeadline bounds every wait in these tests. It is only a deadline: no test passes or fails
// on how fast the relay is, only on what it did.
const relayDeadline = 5 * time.Second

var (
	relaySecret      = []byte("tenant-signing-secret")
	relayWrongSecret = []byte("someone-elses-secret")
)

// relayPrivateBody is in every event's data: it must never show up in a log line.
const relayPrivateBody = "private-body-text"

// relayMemOutbox is an in-memory Outbox. Events are stored in an unusual spacing, so a relay that
// re-encoded them would be caught.
type relayMemOutbox struct {
	mu       sync.Mutex
	items    map[string][]store.OutboxItem
	next     map[string]uint64
	stored   map[string][]byte // event id -> the bytes stored
	lists    int
	appended chan struct{}
}

func newRelayMemOutbox() *relayMemOutbox {
	return &relayMemOutbox{
		items:    map[string][]store.OutboxItem{},
		next:     map[string]uint64{},
		stored:   map[string][]byte{},
		appended: make(chan struct{}, 1),
	}
}

// relayEventJSON is an event of id padded with pad bytes; its id ends in its seq.
func relayEventJSON(id string, pad int) []byte {
	return fmt.Appendf(nil, `{"id": %q,  "type":"message","data":{"text":%q,"pad":"%s"}}`,
		id, relayPrivateBody, strings.Repeat("x", pad))
}

// add appends n events to stream, each size bytes long (or as short as they come when size
// is 0).
func (o *relayMemOutbox) add(stream string, n, size int) {
	o.mu.Lock()
	for range n {
		o.next[stream]++
		seq := o.next[stream]
		id := fmt.Sprintf("%s#%d", stream, seq)
		ev := relayEventJSON(id, max(0, size-len(relayEventJSON(id, 0))))
		o.items[stream] = append(o.items[stream], store.OutboxItem{Seq: seq, Event: ev})
		o.stored[id] = ev
	}
	o.mu.Unlock()
	select {
	case o.appended <- struct{}{}:
	default:
	}
}

func (o *relayMemOutbox) Streams(context.Context) ([]string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.lists++
	var names []string
	for name, items := range o.items {
		if len(items) > 0 {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names, nil
}

// Lease hands out the stream; the relay takes one lease per attempt, so exclusivity is not
// what these tests examine (the store conformance suite does).
func (o *relayMemOutbox) Lease(_ context.Context, stream string) (store.Lease, bool, error) {
	return memLease{o, stream}, true, nil
}

type memLease struct {
	o      *relayMemOutbox
	stream string
}

func (l memLease) Peek(_ context.Context, n int) ([]store.OutboxItem, error) {
	return l.o.Peek(l.stream, n)
}
func (l memLease) Ack(_ context.Context, seq uint64) error { return l.o.Ack(l.stream, seq) }
func (l memLease) Release()                                {}

func (o *relayMemOutbox) Peek(stream string, n int) ([]store.OutboxItem, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	items := o.items[stream]
	return slices.Clone(items[:min(n, len(items))]), nil
}

func (o *relayMemOutbox) Ack(stream string, seq uint64) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	items := o.items[stream]
	i := 0
	for i < len(items) && items[i].Seq <= seq {
		i++
	}
	o.items[stream] = items[i:]
	return nil
}

func (o *relayMemOutbox) Emitted() <-chan struct{} { return o.appended }

func (o *relayMemOutbox) pending(stream string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.items[stream])
}

func (o *relayMemOutbox) listings() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.lists
}

// relayRequest is one POST a relayTenant received.
type relayRequest struct {
	stream   string
	delivery string
	ids      []string
	raw      []json.RawMessage
	body     []byte
	status   int // 0 while being answered
}

// relayTenant is a tenant's endpoint: it checks every POST (signature, headers, delivery id) and
// records it. answer, when set, picks the status (and Retry-After) and may block.
type relayTenant struct {
	t        *testing.T
	srv      *httptest.Server
	answer   func(r *http.Request, req relayRequest) (status int, retryAfter string)
	mu       sync.Mutex
	requests []relayRequest
	inflight map[string]int
}

func newRelayTenant(t *testing.T, answer func(*http.Request, relayRequest) (int, string)) *relayTenant {
	tn := &relayTenant{t: t, answer: answer, inflight: map[string]int{}}
	tn.srv = httptest.NewServer(tn)
	t.Cleanup(tn.srv.Close)
	return tn
}

// endpoints routes each stream to its own path, with a query string that must never be logged.
func (tn *relayTenant) endpoints(stream string) (Endpoint, bool, error) {
	return Endpoint{URL: tn.srv.URL + "/" + stream + "?token=query-secret", Secret: relaySecret}, true, nil
}

func (tn *relayTenant) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t := tn.t
	stream := strings.TrimPrefix(r.URL.Path, "/")
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return // the relay gave up on this request
	}
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" ||
		r.Header.Get("User-Agent") != "coex-operator-receiver" {
		t.Errorf("%s: got %s, Content-Type %q, User-Agent %q", stream, r.Method,
			r.Header.Get("Content-Type"), r.Header.Get("User-Agent"))
	}
	ts, sig := r.Header.Get(HeaderTimestamp), r.Header.Get(HeaderSignature)
	if _, err := strconv.ParseInt(ts, 10, 64); err != nil {
		t.Errorf("%s: timestamp %q is not Unix seconds", stream, ts)
	}
	if !Verify(relaySecret, ts, body, sig) {
		t.Errorf("%s: signature %q does not verify", stream, sig)
	}
	if Verify(relayWrongSecret, ts, body, sig) {
		t.Errorf("%s: signature verifies with the wrong key", stream)
	}
	var parsed struct {
		Events []json.RawMessage `json:"events"`
	}
	if err := json.Unmarshal(body, &parsed); err != nil || len(parsed.Events) == 0 {
		t.Errorf("%s: body is not {\"events\":[...]}: %v", stream, err)
		return
	}
	req := relayRequest{stream: stream, delivery: r.Header.Get(HeaderDelivery), raw: parsed.Events, body: body}
	for _, raw := range parsed.Events {
		var ev event.Event
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Errorf("%s: event is not an Event: %v", stream, err)
		}
		req.ids = append(req.ids, ev.ID)
	}
	if want := fmt.Sprintf("%s:%s-%s", stream, relaySeqOf(req.ids[0]), relaySeqOf(req.ids[len(req.ids)-1])); req.delivery != want {
		t.Errorf("%s: delivery %q, want %q", stream, req.delivery, want)
	}

	tn.mu.Lock()
	tn.inflight[stream]++
	if tn.inflight[stream] > 1 {
		t.Errorf("%s: two POSTs of one stream in flight at once", stream)
	}
	i := len(tn.requests)
	tn.requests = append(tn.requests, req)
	tn.mu.Unlock()

	status, retryAfter := http.StatusOK, ""
	if tn.answer != nil {
		status, retryAfter = tn.answer(r, req)
	}
	tn.mu.Lock()
	tn.inflight[stream]--
	tn.requests[i].status = status
	tn.mu.Unlock()
	if retryAfter != "" {
		w.Header().Set("Retry-After", retryAfter)
	}
	w.WriteHeader(status)
}

func relaySeqOf(id string) string { return id[strings.LastIndexByte(id, '#')+1:] }

// got returns the requests for stream (all of them when stream is ""), answered or not.
func (tn *relayTenant) got(stream string) []relayRequest {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	var out []relayRequest
	for _, r := range tn.requests {
		if stream == "" || r.stream == stream {
			out = append(out, r)
		}
	}
	return out
}

// idle reports whether no POST of stream is being answered.
func (tn *relayTenant) idle(stream string) bool {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	return tn.inflight[stream] == 0
}

// ids returns every event id received for stream, failed requests included, in order.
func (tn *relayTenant) ids(stream string) []string {
	var ids []string
	for _, r := range tn.got(stream) {
		ids = append(ids, r.ids...)
	}
	return ids
}

func (tn *relayTenant) batchSizes(stream string) []int {
	var sizes []int
	for _, r := range tn.got(stream) {
		sizes = append(sizes, len(r.ids))
	}
	return sizes
}

// relayWantIDs is stream#from .. stream#to.
func relayWantIDs(stream string, from, to int) []string {
	var ids []string
	for i := from; i <= to; i++ {
		ids = append(ids, fmt.Sprintf("%s#%d", stream, i))
	}
	return ids
}

// relayFastOptions make failures retry after a millisecond or so on the real clock.
func relayFastOptions(ob Outbox, ep EndpointFunc) Options {
	return Options{
		Outbox: ob, Endpoints: ep,
		BackoffBase: time.Millisecond, BackoffMax: 4 * time.Millisecond,
		PollInterval: 5 * time.Millisecond,
	}
}

// startRelay runs r until the returned stop is called (or the test ends); stop waits for
// Start to return and fails the test if it does not before the deadline.
func startRelay(t *testing.T, r *Relay) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Start(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Start returned %v after cancel, want nil", err)
				}
			case <-time.After(relayDeadline):
				t.Errorf("Start did not return within %v of cancel", relayDeadline)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func relayWaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(relayDeadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// relayLogSink collects every log line, V(1) included.
type relayLogSink struct {
	mu    sync.Mutex
	lines []string
}

func (s *relayLogSink) logger() logr.Logger {
	return funcr.New(func(prefix, args string) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.lines = append(s.lines, prefix+" "+args)
	}, funcr.Options{Verbosity: 1})
}

func (s *relayLogSink) count(substr string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, l := range s.lines {
		if strings.Contains(l, substr) {
			n++
		}
	}
	return n
}

func (s *relayLogSink) all() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.lines, "\n")
}

func TestRelayDeliversEveryEventOnceInOrderPerStream(t *testing.T) {
	streams := []string{"ns/a", "ns/b", "ns/c"}
	// The first POST of each stream waits until all three are in flight: delivery is
	// parallel across streams, or this never happens.
	var first sync.Map
	allIn := make(chan struct{})
	var started atomic.Int32
	tn := newRelayTenant(t, func(r *http.Request, req relayRequest) (int, string) {
		if _, seen := first.LoadOrStore(req.stream, true); !seen {
			if started.Add(1) == int32(len(streams)) {
				close(allIn)
			}
			select {
			case <-allIn:
			case <-time.After(relayDeadline):
				t.Errorf("%s: the three streams were never delivered in parallel", req.stream)
			}
		}
		return http.StatusOK, ""
	})
	ob := newRelayMemOutbox()
	for _, s := range streams {
		ob.add(s, 250, 0)
	}
	opts := relayFastOptions(ob, tn.endpoints)
	opts.BatchSize = 40
	opts.Metrics = NewMetrics(prometheus.NewRegistry())
	startRelay(t, New(opts))

	// More events arrive while the relay delivers.
	relayWaitFor(t, "the first POSTs", func() bool { return len(tn.got("")) > 0 })
	for _, s := range streams {
		ob.add(s, 250, 0)
	}
	for _, s := range streams {
		relayWaitFor(t, s+" drained", func() bool { return ob.pending(s) == 0 })
	}
	for _, s := range streams {
		if got, want := tn.ids(s), relayWantIDs(s, 1, 500); !slices.Equal(got, want) {
			t.Errorf("%s: got %d events %v..., want each of %d once and in order", s, len(got), got[:min(5, len(got))], len(want))
		}
		for _, req := range tn.got(s) {
			for i, id := range req.ids {
				if string(req.raw[i]) != string(ob.stored[id]) {
					t.Fatalf("%s: event %s re-encoded:\n got %s\nwant %s", s, id, req.raw[i], ob.stored[id])
				}
			}
			if len(req.ids) > 40 {
				t.Errorf("%s: %d events in one POST, BatchSize is 40", s, len(req.ids))
			}
		}
	}

	m := opts.Metrics
	if got := testutil.ToFloat64(m.events); got != 1500 {
		t.Errorf("coex_receiver_relay_events_total = %v, want 1500", got)
	}
	if got, want := testutil.ToFloat64(m.deliveries.WithLabelValues("delivered")), float64(len(tn.got(""))); got != want {
		t.Errorf("deliveries{delivered} = %v, want %v (one per POST)", got, want)
	}
	if got := testutil.ToFloat64(m.deliveries.WithLabelValues("failed")); got != 0 {
		t.Errorf("deliveries{failed} = %v, want 0", got)
	}
	if got, want := testutil.CollectAndCount(m.duration), 1; got != want {
		t.Errorf("duration histogram series = %d, want %d", got, want)
	}
	relayWaitFor(t, "backlog gauge back to 0", func() bool { return testutil.ToFloat64(m.backlog) == 0 })
}

func TestRelaySignature(t *testing.T) {
	body := []byte(`{"events":[{"id":"x"}]}`)
	mac := hmac.New(sha256.New, relaySecret)
	mac.Write([]byte("1700000000." + string(body)))
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	if got := Sign(relaySecret, "1700000000", body); got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
	for name, tc := range map[string]struct {
		secret []byte
		ts     string
		body   string
		header string
		ok     bool
	}{
		"right":            {relaySecret, "1700000000", string(body), want, true},
		"upper-case hex":   {relaySecret, "1700000000", string(body), "sha256=" + strings.ToUpper(want[7:]), true},
		"wrong key":        {relayWrongSecret, "1700000000", string(body), want, false},
		"other timestamp":  {relaySecret, "1700000001", string(body), want, false},
		"other body":       {relaySecret, "1700000000", string(body) + " ", want, false},
		"no prefix":        {relaySecret, "1700000000", string(body), want[7:], false},
		"not hex":          {relaySecret, "1700000000", string(body), "sha256=zz", false},
		"truncated":        {relaySecret, "1700000000", string(body), want[:len(want)-2], false},
		"empty header":     {relaySecret, "1700000000", string(body), "", false},
		"sha1-style label": {relaySecret, "1700000000", string(body), "sha1=" + want[7:], false},
	} {
		if got := Verify(tc.secret, tc.ts, []byte(tc.body), tc.header); got != tc.ok {
			t.Errorf("%s: Verify = %v, want %v", name, got, tc.ok)
		}
	}

	// End to end: what the relay sends verifies with the endpoint's key only (the tenant
	// checks both on every POST), over the exact body and timestamp sent.
	clk := receivertest.NewClock()
	tn := newRelayTenant(t, nil)
	ob := newRelayMemOutbox()
	ob.add("ns/sig", 3, 0)
	opts := relayFastOptions(ob, tn.endpoints)
	opts.Now = clk.Now
	startRelay(t, New(opts))
	relayWaitFor(t, "delivery", func() bool { return ob.pending("ns/sig") == 0 })
	req := tn.got("ns/sig")[0]
	ts := strconv.FormatInt(clk.Now().Unix(), 10)
	if !Verify(relaySecret, ts, req.body, Sign(relaySecret, ts, req.body)) ||
		Verify(relayWrongSecret, ts, req.body, Sign(relaySecret, ts, req.body)) {
		t.Error("the delivered body does not verify as expected")
	}
}

func TestRelayEndpointDownThenUp(t *testing.T) {
	const stream = "ns/down"
	var down atomic.Bool
	down.Store(true)
	tn := newRelayTenant(t, func(*http.Request, relayRequest) (int, string) {
		if down.Load() {
			return http.StatusServiceUnavailable, ""
		}
		return http.StatusOK, ""
	})
	ob := newRelayMemOutbox()
	ob.add(stream, 100, 0)
	opts := relayFastOptions(ob, tn.endpoints)
	opts.BatchSize = 10
	opts.Metrics = NewMetrics(nil)
	startRelay(t, New(opts))

	relayWaitFor(t, "3 failed attempts", func() bool { return len(tn.got(stream)) >= 3 })
	down.Store(false)
	relayWaitFor(t, "drained", func() bool { return ob.pending(stream) == 0 })

	reqs := tn.got(stream)
	failed := 0
	for _, r := range reqs {
		if r.status == http.StatusServiceUnavailable {
			failed++
			if r.delivery != stream+":1-10" {
				t.Errorf("failed POST %q, want every failure to be of the first batch", r.delivery)
			}
		}
	}
	// Nothing lost, order kept, duplicates only of the batch that failed.
	var want []string
	for range failed + 1 {
		want = append(want, relayWantIDs(stream, 1, 10)...)
	}
	want = append(want, relayWantIDs(stream, 11, 100)...)
	if got := tn.ids(stream); !slices.Equal(got, want) {
		t.Errorf("got %d events, want %d: the first batch %d times, then 11..100 once", len(got), len(want), failed+1)
	}
	if failed < 3 || len(reqs) != failed+10 {
		t.Errorf("%d POSTs with %d failed, want the failures + 10", len(reqs), failed)
	}
	m := opts.Metrics
	for result, want := range map[string]float64{"failed": float64(failed), "delivered": 10, "no_endpoint": 0} {
		if got := testutil.ToFloat64(m.deliveries.WithLabelValues(result)); got != want {
			t.Errorf("deliveries{%s} = %v, want %v", result, got, want)
		}
	}
	if got := testutil.ToFloat64(m.events); got != 100 {
		t.Errorf("events_total = %v, want 100 (acknowledged ones only)", got)
	}
}

func TestRelayHonoursRetryAfter(t *testing.T) {
	const stream = "ns/ra"
	var n atomic.Int32
	tn := newRelayTenant(t, func(*http.Request, relayRequest) (int, string) {
		switch n.Add(1) {
		case 1:
			return http.StatusTooManyRequests, "30"
		case 2:
			return http.StatusServiceUnavailable, "2"
		}
		return http.StatusOK, ""
	})
	ob := newRelayMemOutbox()
	ob.add(stream, 5, 0)
	clk := receivertest.NewClock()
	opts := relayFastOptions(ob, tn.endpoints)
	opts.Now = clk.Now
	opts.Rand = func() float64 { return 0 } // without Retry-After, every retry would be at once
	r := New(opts)
	var mu sync.Mutex
	var waits []time.Duration
	r.onBackoff = func(_ string, d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		waits = append(waits, d)
	}
	backoffs := func() []time.Duration {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(waits)
	}
	// stillOne checks that, after the relay listed the outbox a few more times on the
	// current clock, it has not retried.
	stillOne := func(when string) {
		t.Helper()
		l := ob.listings()
		relayWaitFor(t, "more listings", func() bool { return ob.listings() >= l+5 })
		if got := len(tn.got(stream)); got != 1 {
			t.Fatalf("%s: %d POSTs, want 1", when, got)
		}
	}
	startRelay(t, r)

	relayWaitFor(t, "the 429 and its backoff", func() bool { return len(backoffs()) == 1 })
	if got := backoffs()[0]; got != 30*time.Second {
		t.Fatalf("backoff after 429 Retry-After: 30 = %v, want 30s", got)
	}
	stillOne("right after the 429")
	clk.Advance(29 * time.Second)
	stillOne("29 s after the 429")
	clk.Advance(time.Second)
	relayWaitFor(t, "the retry once 30 s passed, and its 503", func() bool { return len(backoffs()) == 2 })
	if got := backoffs()[1]; got != 2*time.Second {
		t.Fatalf("backoff after 503 Retry-After: 2 = %v, want 2s", got)
	}
	clk.Advance(2 * time.Second)
	relayWaitFor(t, "drained", func() bool { return ob.pending(stream) == 0 })
	if got := len(tn.got(stream)); got != 3 {
		t.Errorf("%d POSTs, want 3", got)
	}
}

func TestRelayBackoff(t *testing.T) {
	r := New(Options{BackoffBase: time.Second, BackoffMax: 10 * time.Second, Rand: func() float64 { return 0.5 }})
	for _, tc := range []struct {
		failures   int
		retryAfter time.Duration
		want       time.Duration
	}{
		{1, 0, 500 * time.Millisecond},
		{2, 0, time.Second},
		{3, 0, 2 * time.Second},
		{4, 0, 4 * time.Second},
		{5, 0, 5 * time.Second}, // ceiling capped at 10 s
		{50, 0, 5 * time.Second},
		{1, 3 * time.Second, 3 * time.Second}, // a longer Retry-After wins
		{4, 3 * time.Second, 4 * time.Second},
		{1, 48 * time.Hour, maxRetryAfter},
	} {
		if got := r.backoff(tc.failures, tc.retryAfter); got != tc.want {
			t.Errorf("backoff(%d, %v) = %v, want %v", tc.failures, tc.retryAfter, got, tc.want)
		}
	}

	now := time.Unix(1_800_000_000, 0)
	for v, want := range map[string]time.Duration{
		"":             0,
		"7":            7 * time.Second,
		" 7 ":          7 * time.Second,
		"-3":           0,
		"soon":         0,
		"999999999999": maxRetryAfter,
		now.Add(90 * time.Second).UTC().Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Minute).UTC().Format(http.TimeFormat):     0,
	} {
		if got := parseRetryAfter(v, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestRelayWithoutEndpointKeepsEvents(t *testing.T) {
	tn := newRelayTenant(t, nil)
	var configured atomic.Bool
	var lookups atomic.Int32
	endpoints := func(stream string) (Endpoint, bool, error) {
		if stream == "ns/none" {
			lookups.Add(1)
			if !configured.Load() {
				return Endpoint{}, false, nil
			}
		}
		return tn.endpoints(stream)
	}
	ob := newRelayMemOutbox()
	ob.add("ns/none", 10, 0)
	ob.add("ns/some", 10, 0)
	var logs relayLogSink
	opts := relayFastOptions(ob, endpoints)
	opts.Logger = logs.logger()
	opts.Metrics = NewMetrics(nil)
	startRelay(t, New(opts))

	relayWaitFor(t, "the stream with an endpoint delivered", func() bool { return ob.pending("ns/some") == 0 })
	relayWaitFor(t, "several attempts without an endpoint", func() bool { return lookups.Load() >= 5 })
	if got := ob.pending("ns/none"); got != 10 {
		t.Fatalf("stream without endpoint has %d events left, want all 10 kept", got)
	}
	if got := len(tn.got("ns/none")); got != 0 {
		t.Fatalf("%d POSTs for a stream without endpoint", got)
	}
	if got := logs.count(`"msg"="no relay endpoint configured`); got != 1 {
		t.Errorf("logged the missing endpoint %d times, want once however many attempts:\n%s", got, logs.all())
	}
	if got := testutil.ToFloat64(opts.Metrics.deliveries.WithLabelValues("no_endpoint")); got < 5 {
		t.Errorf("deliveries{no_endpoint} = %v, want one per attempt (>= 5)", got)
	}

	configured.Store(true)
	relayWaitFor(t, "delivery once configured", func() bool { return ob.pending("ns/none") == 0 })
	if got, want := tn.ids("ns/none"), relayWantIDs("ns/none", 1, 10); !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	// The events leave the outbox before the relay settles the attempt: wait for its log.
	relayWaitFor(t, "the recovery logged", func() bool { return logs.count(`"msg"="delivering again"`) > 0 })
	if got := logs.count(`"msg"="delivering again"`); got != 1 {
		t.Errorf("logged the recovery %d times, want once", got)
	}
}

func TestRelaySlowStreamDoesNotBlockOthers(t *testing.T) {
	release := make(chan struct{})
	tn := newRelayTenant(t, func(r *http.Request, req relayRequest) (int, string) {
		if req.stream == "ns/slow" {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		return http.StatusOK, ""
	})
	ob := newRelayMemOutbox()
	ob.add("ns/slow", 5, 0)
	ob.add("ns/fast", 100, 0)
	opts := relayFastOptions(ob, tn.endpoints)
	opts.Workers = 2
	opts.BatchSize = 10
	startRelay(t, New(opts))

	relayWaitFor(t, "the slow stream's POST hanging", func() bool { return len(tn.got("ns/slow")) == 1 })
	relayWaitFor(t, "the fast stream delivered while the slow one hangs", func() bool { return ob.pending("ns/fast") == 0 })
	if got := len(tn.got("ns/slow")); got != 1 || ob.pending("ns/slow") != 5 {
		t.Fatalf("slow stream: %d POSTs and %d events left, want 1 in flight and all 5 left", got, ob.pending("ns/slow"))
	}
	close(release)
	relayWaitFor(t, "the slow stream delivered", func() bool { return ob.pending("ns/slow") == 0 })
	if got, want := tn.ids("ns/fast"), relayWantIDs("ns/fast", 1, 100); !slices.Equal(got, want) {
		t.Errorf("fast stream got %d events, want 100 in order", len(got))
	}
}

func TestRelayBatchLimits(t *testing.T) {
	t.Run("BatchSize", func(t *testing.T) {
		tn := newRelayTenant(t, nil)
		ob := newRelayMemOutbox()
		ob.add("ns/n", 20, 0)
		opts := relayFastOptions(ob, tn.endpoints)
		opts.BatchSize = 7
		startRelay(t, New(opts))
		relayWaitFor(t, "drained", func() bool { return ob.pending("ns/n") == 0 })
		if got, want := tn.batchSizes("ns/n"), []int{7, 7, 6}; !slices.Equal(got, want) {
			t.Errorf("batches %v, want %v", got, want)
		}
	})
	t.Run("MaxBatchBytes", func(t *testing.T) {
		const size = 200
		// Exactly three events fit: the envelope, three events and two commas.
		limit := len(`{"events":[]}`) + 3*size + 2
		tn := newRelayTenant(t, nil)
		ob := newRelayMemOutbox()
		ob.add("ns/b", 4, size)
		ob.add("ns/b", 1, 3*limit) // larger than a batch: sent alone
		ob.add("ns/b", 3, size)
		opts := relayFastOptions(ob, tn.endpoints)
		opts.MaxBatchBytes = limit
		startRelay(t, New(opts))
		relayWaitFor(t, "drained", func() bool { return ob.pending("ns/b") == 0 })
		if got, want := tn.batchSizes("ns/b"), []int{3, 1, 1, 3}; !slices.Equal(got, want) {
			t.Errorf("batches %v, want %v", got, want)
		}
		for _, r := range tn.got("ns/b") {
			if len(r.body) > limit && len(r.ids) > 1 {
				t.Errorf("%s: %d bytes with %d events, limit %d", r.delivery, len(r.body), len(r.ids), limit)
			}
		}
		if got, want := tn.ids("ns/b"), relayWantIDs("ns/b", 1, 8); !slices.Equal(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})
}

// relayGoroutines lists the stacks of goroutines running the relay's code.
func relayGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "receiver.(*Relay)") || strings.Contains(g, "receiver.(*scheduler)") {
			out = append(out, g)
		}
	}
	return out
}

func TestRelayStartReturnsOnCancel(t *testing.T) {
	var up atomic.Bool
	tn := newRelayTenant(t, func(r *http.Request, req relayRequest) (int, string) {
		if !up.Load() {
			<-r.Context().Done() // hangs until the relay gives up on the request
		}
		return http.StatusOK, ""
	})
	ob := newRelayMemOutbox()
	ob.add("ns/stop", 3, 0)
	r := New(relayFastOptions(ob, tn.endpoints))
	stop := startRelay(t, r)

	relayWaitFor(t, "a POST in flight", func() bool { return len(tn.got("ns/stop")) == 1 })
	if err := r.Start(context.Background()); err == nil {
		t.Fatal("a second Start on a running relay returned nil, want an error")
	}
	stop()
	if t.Failed() {
		return
	}
	relayWaitFor(t, "no relay goroutine left", func() bool { return len(relayGoroutines()) == 0 })
	if got := ob.pending("ns/stop"); got != 3 {
		t.Fatalf("%d events left after a cancelled POST, want all 3 kept", got)
	}

	// Restarted, it sends the same batch again: at least once across restarts. (The server
	// notices the cancelled POST on its own time: wait, or the tenant would see an overlap.)
	relayWaitFor(t, "the tenant to see the POST cancelled", func() bool { return tn.idle("ns/stop") })
	up.Store(true)
	startRelay(t, r)
	relayWaitFor(t, "drained after restart", func() bool { return ob.pending("ns/stop") == 0 })
	if got, want := tn.ids("ns/stop"), append(relayWantIDs("ns/stop", 1, 3), relayWantIDs("ns/stop", 1, 3)...); !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestRelayNeverLogsSecretsOrBodies(t *testing.T) {
	rejecter := newRelayTenant(t, func(*http.Request, relayRequest) (int, string) { return http.StatusBadRequest, "" })
	redirecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, rejecter.srv.URL+"/ns/redirected", http.StatusFound)
	}))
	t.Cleanup(redirecting.Close)
	urls := map[string]string{
		"ns/reject":   rejecter.srv.URL + "/ns/reject?token=query-secret",
		"ns/redirect": redirecting.URL + "/?token=query-secret",
		// Unreachable: its dial fails (a closed local port could be reused by another test).
		"ns/gone": "http://user:pw-secret@gone.invalid/hook?token=query-secret",
	}
	ob := newRelayMemOutbox()
	for s := range urls {
		ob.add(s, 2, 0)
	}
	var attempts sync.Map
	endpoints := func(s string) (Endpoint, bool, error) {
		n, _ := attempts.LoadOrStore(s, new(atomic.Int32))
		n.(*atomic.Int32).Add(1)
		return Endpoint{URL: urls[s], Secret: relaySecret}, true, nil
	}
	var logs relayLogSink
	opts := relayFastOptions(ob, endpoints)
	opts.Logger = logs.logger()
	var dialer net.Dialer
	opts.Client = &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if strings.HasPrefix(addr, "gone.invalid:") {
				return nil, errors.New("connection refused (test)")
			}
			return dialer.DialContext(ctx, network, addr)
		},
	}}
	startRelay(t, New(opts))
	for s := range urls {
		relayWaitFor(t, s+" retried", func() bool {
			n, ok := attempts.Load(s)
			return ok && n.(*atomic.Int32).Load() >= 3
		})
	}

	for s := range urls {
		if got := ob.pending(s); got != 2 {
			t.Errorf("%s: %d events left, want both kept", s, got)
		}
	}
	if got := len(rejecter.got("ns/redirected")); got != 0 {
		t.Errorf("the redirect was followed (%d POSTs): a 302 must not acknowledge anything", got)
	}
	out := logs.all()
	for _, leak := range []string{"query-secret", "pw-secret", string(relaySecret), relayPrivateBody} {
		if strings.Contains(out, leak) {
			t.Errorf("the logs contain %q:\n%s", leak, out)
		}
	}
	if got := logs.count(`"msg"="the tenant's endpoint rejects the events (HTTP 400)`); got != 1 {
		t.Errorf("logged the 400 rejection %d times at error level, want once:\n%s", got, out)
	}
	for _, want := range []string{"relay endpoint redirects (HTTP 302)", "cannot reach the relay endpoint",
		rejecter.srv.URL + "/ns/reject", `"url"="http://gone.invalid/hook"`} {
		if !strings.Contains(out, want) {
			t.Errorf("the logs lack %q:\n%s", want, out)
		}
	}
}

// sharedEndpoint is one tenant URL for every stream (a MetaApp's relay): it answers
// with status(stream) and counts the POSTs per stream, read from X-Coex-Delivery. A 429 comes
// with Retry-After: 3600.
func sharedEndpoint(t *testing.T, status func(stream string) int) (EndpointFunc, func(stream string) int) {
	var mu sync.Mutex
	posts := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		stream, _, _ := strings.Cut(r.Header.Get(HeaderDelivery), ":")
		mu.Lock()
		posts[stream]++
		mu.Unlock()
		code := status(stream)
		if code == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "3600")
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(srv.Close)
	ep := func(string) (Endpoint, bool, error) {
		return Endpoint{URL: srv.URL + "/events", Secret: relaySecret}, true, nil
	}
	count := func(stream string) int {
		mu.Lock()
		defer mu.Unlock()
		return posts[stream]
	}
	return ep, count
}

// When a shared endpoint that failed for several streams delivers again, the streams that
// were backing off (here for an hour) are retried at once; those it told to wait (429 with
// Retry-After) keep waiting, since waking them all would hammer a throttling tenant.
func TestRelayWhenASharedEndpointIsBack(t *testing.T) {
	for _, c := range []struct {
		name     string
		failWith int
		posts    int // per waiting stream: the failure, then the retry if woken
	}{
		{"unavailable streams are retried at once", http.StatusServiceUnavailable, 2},
		{"throttled streams wait for their Retry-After", http.StatusTooManyRequests, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			var failing atomic.Bool
			failing.Store(true)
			ep, posts := sharedEndpoint(t, func(string) int {
				if failing.Load() {
					return c.failWith
				}
				return http.StatusOK
			})
			ob := newRelayMemOutbox()
			ob.add("ns/a", 5, 0)
			ob.add("ns/b", 5, 0)
			opts := relayFastOptions(ob, ep)
			opts.BackoffBase, opts.BackoffMax = time.Hour, time.Hour
			opts.Rand = func() float64 { return 0.99 }
			startRelay(t, New(opts))
			relayWaitFor(t, "both streams to fail once", func() bool { return posts("ns/a") == 1 && posts("ns/b") == 1 })

			failing.Store(false)
			ob.add("ns/c", 5, 0) // a new stream, not backing off: its delivery shows the endpoint is back
			relayWaitFor(t, "the new stream drained", func() bool { return ob.pending("ns/c") == 0 })
			if c.posts == 2 {
				relayWaitFor(t, "the waiting streams drained", func() bool { return ob.pending("ns/a") == 0 && ob.pending("ns/b") == 0 })
			} else {
				time.Sleep(20 * opts.PollInterval) // time enough for a wrong wake-up to show
			}
			if posts("ns/a") != c.posts || posts("ns/b") != c.posts {
				t.Errorf("POSTs a=%d b=%d, want %d each", posts("ns/a"), posts("ns/b"), c.posts)
			}
		})
	}
}

// One stream that its endpoint refuses while others on the same endpoint succeed keeps its
// backoff: the others' successes do not make it retry.
func TestRelayKeepsTheBackoffOfAStreamFailingAlone(t *testing.T) {
	ep, posts := sharedEndpoint(t, func(stream string) int {
		if stream == "ns/bad" {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	ob := newRelayMemOutbox()
	ob.add("ns/bad", 5, 0)
	opts := relayFastOptions(ob, ep)
	opts.BackoffBase, opts.BackoffMax = time.Hour, time.Hour
	opts.Rand = func() float64 { return 0.99 }
	opts.BatchSize = 1
	startRelay(t, New(opts))
	relayWaitFor(t, "the bad stream to fail", func() bool { return posts("ns/bad") == 1 })
	ob.add("ns/good", 50, 0)
	relayWaitFor(t, "the good stream drained", func() bool { return ob.pending("ns/good") == 0 })
	if got := posts("ns/bad"); got != 1 {
		t.Errorf("the failing stream was tried %d times while its backoff lasted, want 1", got)
	}
}
