// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graph

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	unavailable = `{"error":{"message":"Service temporarily unavailable","type":"OAuthException","is_transient":true,"code":2}}`
	badParam    = `{"error":{"message":"(#100) Invalid parameter","type":"OAuthException","code":100}}`
)

// transient503 answers 503 with a distinct fbtrace_id per request, so a test can tell which
// attempt an error came from.
type transient503 struct {
	mu sync.Mutex
	n  int
}

func (h *transient503) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.n++
	n := h.n
	h.mu.Unlock()
	w.WriteHeader(http.StatusServiceUnavailable)
	fmt.Fprintf(w, `{"error":{"message":"Service unavailable","type":"OAuthException","code":2,"fbtrace_id":"trace-%d"}}`, n)
}

func (h *transient503) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}

func TestRetryStopsAtMaxAttempts(t *testing.T) {
	h := &transient503{}
	var outcomes []string
	c, clk := testClient(t, h, Options{
		Retry:    RetryPolicy{MaxAttempts: 5, BaseDelay: 500 * time.Millisecond, MaxDelay: time.Second},
		Observer: func(call, outcome string, _ time.Duration) { outcomes = append(outcomes, call+":"+outcome) },
	})
	_, err := c.GetPhoneNumber(context.Background(), "tok", "42")
	ge := asError(t, err)
	if h.count() != 5 || ge.FBTraceID != "trace-5" || ge.Class != ClassTransient {
		t.Errorf("server saw %d requests, error %v; want 5 and the 5th attempt's error", h.count(), err)
	}
	// Full jitter with Rand = 0.5: half of 500ms, 1s, then the 1s cap.
	want := []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, 500 * time.Millisecond, 500 * time.Millisecond}
	if got := clk.Sleeps(); !reflect.DeepEqual(got, want) {
		t.Errorf("sleeps %v, want %v", got, want)
	}
	if len(outcomes) != 5 || outcomes[0] != "GetPhoneNumber:Transient" {
		t.Errorf("observer saw %v, want 5 transient attempts", outcomes)
	}
}

func TestBackoffJitterBounds(t *testing.T) {
	c := New(Options{Retry: RetryPolicy{BaseDelay: time.Second, MaxDelay: 8 * time.Second}})
	for _, r := range []float64{0, 0.999999} {
		c.opts.Rand = func() float64 { return r }
		for attempt, ceiling := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second} {
			d := c.backoff(attempt+1, 0)
			if d < 0 || d >= ceiling || (r == 0 && d != 0) || (r > 0 && d < ceiling*99/100) {
				t.Errorf("backoff(%d) with rand %v = %v, want in [0, %v)", attempt+1, r, d, ceiling)
			}
		}
	}
	if d := c.backoff(1, time.Minute); d != time.Minute {
		t.Errorf("a longer Retry-After must win: got %v", d)
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	rec := respond(
		response{status: 429, header: map[string]string{"Retry-After": "7"}, body: `{"error":{"message":"(#80007) Rate limit issues","type":"OAuthException","code":80007}}`},
		ok(`{"id":"42","is_on_biz_app":true,"platform_type":"CLOUD_API"}`),
	)
	c, clk := testClient(t, rec, Options{})
	pn, err := c.GetPhoneNumber(context.Background(), "tok", "42")
	if err != nil || !pn.IsCoexistence() {
		t.Fatalf("got %+v, %v", pn, err)
	}
	if got := clk.Sleeps(); !reflect.DeepEqual(got, []time.Duration{7 * time.Second}) {
		t.Errorf("sleeps %v, want [7s]", got)
	}
	if n := len(rec.Seen()); n != 2 {
		t.Errorf("server saw %d requests, want 2", n)
	}
}

func TestRetryAfterBeyondBudgetReturnsAtOnce(t *testing.T) {
	rec := respond(response{status: 429, header: map[string]string{"Retry-After": "3600"}, body: unavailable})
	c, clk := testClient(t, rec, Options{})
	err := c.UnsubscribeApp(context.Background(), "tok", "42")
	if ge := asError(t, err); ge.RetryAfter != time.Hour {
		t.Errorf("RetryAfter %v, want 1h so the caller can requeue after it", ge.RetryAfter)
	}
	if len(rec.Seen()) != 1 || len(clk.Sleeps()) != 0 {
		t.Errorf("%d requests, sleeps %v; want 1 request and no sleep", len(rec.Seen()), clk.Sleeps())
	}
}

func TestMaxElapsedBoundsRetries(t *testing.T) {
	h := &transient503{}
	c, clk := testClient(t, h, Options{Retry: RetryPolicy{MaxAttempts: 10, BaseDelay: 10 * time.Second, MaxDelay: 10 * time.Second, MaxElapsed: 12 * time.Second}})
	err := c.UnsubscribeApp(context.Background(), "tok", "42")
	// Sleeps of 5s: attempts at 0s, 5s, 10s; the next would start at 15s > 12s.
	if ge := asError(t, err); h.count() != 3 || ge.FBTraceID != "trace-3" {
		t.Errorf("server saw %d requests, error %v; want 3", h.count(), err)
	}
	if n := len(clk.Sleeps()); n != 2 {
		t.Errorf("%d sleeps, want 2", n)
	}
}

func TestContextDeadlineBoundsRetries(t *testing.T) {
	h := &transient503{}
	c, clk := testClient(t, h, Options{Retry: RetryPolicy{MaxAttempts: 10, BaseDelay: 10 * time.Second, MaxDelay: 10 * time.Second, MaxElapsed: time.Hour}})
	// The fake clock only moves by sleeps, so the deadline is reached by them, never by the wall.
	ctx, cancel := context.WithDeadline(context.Background(), clk.Now().Add(12*time.Second))
	defer cancel()
	err := c.UnsubscribeApp(ctx, "tok", "42")
	if ge := asError(t, err); h.count() != 3 || ge.FBTraceID != "trace-3" || ge.Class != ClassTransient {
		t.Errorf("server saw %d requests, error %v; want 3 and the last *Error", h.count(), err)
	}
	for _, d := range clk.Sleeps() {
		if d > 5*time.Second {
			t.Errorf("slept %v", d)
		}
	}
}

func TestPermanentErrorsAreNotRetried(t *testing.T) {
	for name, body := range map[string]string{
		"invalid parameter": badParam,
		"auth":              `{"error":{"message":"Error validating access token","type":"OAuthException","code":190}}`,
	} {
		t.Run(name, func(t *testing.T) {
			rec := respond(response{status: 400, body: body})
			c, clk := testClient(t, rec, Options{})
			if err := c.SubscribeApp(context.Background(), "tok", "42", SubscribeOptions{}); err == nil {
				t.Fatal("no error")
			}
			if len(rec.Seen()) != 1 || len(clk.Sleeps()) != 0 {
				t.Errorf("%d requests, %d sleeps; want 1 and 0", len(rec.Seen()), len(clk.Sleeps()))
			}
		})
	}
}

func TestTransientThenSuccess(t *testing.T) {
	rec := respond(response{status: 503, body: unavailable}, ok(`{"id":"42","display_phone_number":"+1 555"}`))
	var outcomes []string
	c, _ := testClient(t, rec, Options{Observer: func(_, o string, _ time.Duration) { outcomes = append(outcomes, o) }})
	pn, err := c.GetPhoneNumber(context.Background(), "tok", "42")
	if err != nil || pn.ID != "42" {
		t.Fatalf("got %+v, %v", pn, err)
	}
	if n := len(rec.Seen()); n != 2 {
		t.Errorf("server saw %d requests, want 2", n)
	}
	if !reflect.DeepEqual(outcomes, []string{"Transient", OutcomeOK}) {
		t.Errorf("observer outcomes %v", outcomes)
	}
}

// A one-shot sync is not idempotent and Meta's answer to a repeat is undocumented: after an
// answer that leaves the outcome unknown (5xx, a reset connection) the client does not ask
// again; the error goes back to the caller, which settles it from webhooks first.
func TestOneShotNotRetriedAfterUnknownOutcome(t *testing.T) {
	for name, first := range map[string]response{
		"502 from a proxy":   {status: 502, body: `<html>Bad Gateway</html>`},
		"503 from Graph":     {status: 503, body: unavailable},
		"500 code 1":         {status: 500, body: `{"error":{"message":"An unknown error has occurred.","code":1}}`},
		"5xx saying already": {status: 503, body: `{"error":{"message":"already requested","code":2}}`},
	} {
		t.Run(name, func(t *testing.T) {
			rec := respond(first, ok(`{"request_id":"r2"}`))
			c, clk := testClient(t, rec, Options{})
			_, err := c.RequestHistorySync(context.Background(), "tok", "42")
			if !IsTransient(err) || NotTaken(err) {
				t.Errorf("got %v (not taken %v), want a transient error whose outcome is unknown", err, NotTaken(err))
			}
			if len(rec.Seen()) != 1 || len(clk.Sleeps()) != 0 {
				t.Errorf("%d requests, %d sleeps; want 1 and 0", len(rec.Seen()), len(clk.Sleeps()))
			}
		})
	}
}

// A throttled one-shot was refused before Meta acted on it: asking again is a first ask, so
// the client retries it like any call.
func TestOneShotRetriedAfterThrottle(t *testing.T) {
	for name, first := range map[string]response{
		"429":            {status: 429, header: map[string]string{"Retry-After": "1"}, body: `{"error":{"message":"slow down","code":4}}`},
		"400 code 80007": {status: 400, body: `{"error":{"message":"rate limit","code":80007}}`},
	} {
		t.Run(name, func(t *testing.T) {
			rec := respond(first, ok(`{"request_id":"r2"}`))
			c, _ := testClient(t, rec, Options{})
			sr, err := c.RequestContactsSync(context.Background(), "tok", "42")
			if err != nil || sr.RequestID != "r2" || len(rec.Seen()) != 2 {
				t.Errorf("got %+v, %v after %d requests; want r2 after 2", sr, err, len(rec.Seen()))
			}
		})
	}
}

// A 2xx is Meta taking the request: an answer whose request id cannot be read is still a
// success, never an error that would lead to a second ask.
func TestOneShotSuccessWithoutReadableID(t *testing.T) {
	for body, want := range map[string]string{
		`{"request_id":"r1"}`:  "r1",
		`{"request_id":12345}`: "12345",
		`{"success":true}`:     "",
		`<html>OK</html>`:      "",
		``:                     "",
	} {
		rec := respond(ok(body))
		c, _ := testClient(t, rec, Options{})
		sr, err := c.RequestHistorySync(context.Background(), "tok", "42")
		if err != nil || sr.RequestID != want || len(rec.Seen()) != 1 {
			t.Errorf("body %q: got %+v, %v after %d requests; want id %q after 1", body, sr, err, len(rec.Seen()), want)
		}
	}
}

func TestCancelDuringBackoff(t *testing.T) {
	h := &transient503{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, _ := testClient(t, h, Options{Sleep: func(ctx context.Context, _ time.Duration) error {
		cancel()
		return ctx.Err()
	}})
	err := c.UnsubscribeApp(ctx, "tok", "42")
	var ge *Error
	if !errors.Is(err, context.Canceled) || !errors.As(err, &ge) || ge.HTTPStatus != 503 || h.count() != 1 {
		t.Errorf("got %v after %d requests; want the 503 and context.Canceled after 1", err, h.count())
	}
}

// blocking answers nothing until the request's context ends or the test releases it.
type blocking struct {
	started chan struct{}
	release chan struct{}
	once    sync.Once
	mu      sync.Mutex
	n       int
}

func newBlocking(t *testing.T) *blocking {
	b := &blocking{started: make(chan struct{}), release: make(chan struct{})}
	t.Cleanup(func() { close(b.release) }) // runs before the server's Close
	return b
}

func (b *blocking) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Read the body first: until it is read, the server does not watch the connection, and
	// the request's context would not end when the client gives up.
	_, _ = io.Copy(io.Discard, r.Body)
	b.mu.Lock()
	b.n++
	b.mu.Unlock()
	b.once.Do(func() { close(b.started) })
	select {
	case <-r.Context().Done():
	case <-b.release:
	case <-time.After(10 * time.Second): // a safety net against a hung test, never reached
	}
}

func (b *blocking) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n
}

func TestCallerCancelStopsAtOnce(t *testing.T) {
	b := newBlocking(t)
	c, clk := testClient(t, b, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-b.started
		cancel()
	}()
	err := c.UnsubscribeApp(ctx, "tok", "42")
	if !errors.Is(err, context.Canceled) || b.count() != 1 || len(clk.Sleeps()) != 0 {
		t.Errorf("got %v after %d requests and %d sleeps; want context.Canceled after 1 and none", err, b.count(), len(clk.Sleeps()))
	}
	asError(t, err)
}

func TestAttemptTimeoutIsTransientAndRetried(t *testing.T) {
	b := newBlocking(t)
	c, _ := testClient(t, b, Options{AttemptTimeout: 20 * time.Millisecond, Retry: RetryPolicy{MaxAttempts: 2}})
	err := c.UnsubscribeApp(context.Background(), "tok", "42")
	ge := asError(t, err)
	if ge.Class != ClassTransient || !errors.Is(err, context.DeadlineExceeded) || b.count() != 2 {
		t.Errorf("got %v (%v) after %d requests; want a transient deadline after 2", err, ge.Class, b.count())
	}
}

// roundTripFunc lets a test play the transport.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestTransportErrorsAreTransient(t *testing.T) {
	for name, terr := range map[string]error{
		"EOF":      io.EOF,
		"reset":    errors.New("read tcp 10.0.0.1:1234->31.13.0.1:443: read: connection reset by peer"),
		"deadline": context.DeadlineExceeded,
	} {
		t.Run(name, func(t *testing.T) {
			n := 0
			rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
				n++
				if n == 1 {
					return nil, terr
				}
				return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(`{"success":true}`)), Header: http.Header{}, Request: r}, nil
			})
			c, _ := testClient(t, http.NotFoundHandler(), Options{HTTPClient: &http.Client{Transport: rt}})
			if err := c.UnsubscribeApp(context.Background(), "tok", "42"); err != nil || n != 2 {
				t.Errorf("got %v after %d attempts, want success after 2", err, n)
			}
		})
	}
}

func TestConnectionRefusedIsTransient(t *testing.T) {
	c := closedServerClient(t, Options{Retry: RetryPolicy{MaxAttempts: 3}})
	err := c.UnsubscribeApp(context.Background(), "tok", "42")
	if ge := asError(t, err); ge.Class != ClassTransient || ge.HTTPStatus != 0 || ge.Err == nil {
		t.Errorf("got %#v", ge)
	}
}

// A refused connection never reached Meta, so a one-shot sync may be asked again at once;
// the caller gets an error that says so.
func TestOneShotRetriedWhenNeverSent(t *testing.T) {
	var attempts int
	c := closedServerClient(t, Options{Retry: RetryPolicy{MaxAttempts: 3},
		Observer: func(string, string, time.Duration) { attempts++ }})
	_, err := c.RequestContactsSync(context.Background(), "tok", "42")
	if !IsTransient(err) || !NotTaken(err) {
		t.Errorf("got %v (not taken %v), want a transient error that certainly was not taken", err, NotTaken(err))
	}
	if attempts != 3 {
		t.Errorf("%d attempts, want 3", attempts)
	}
}

func TestNotTaken(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&Error{HTTPStatus: 429, Class: ClassTransient}, true},
		{&Error{HTTPStatus: 400, Code: 131056, Class: ClassTransient}, true},
		{&Error{HTTPStatus: 401, Class: ClassAuth}, true},
		{&Error{HTTPStatus: 500, Code: 1, Class: ClassTransient}, false},
		{&Error{HTTPStatus: 503, Class: ClassTransient}, false},
		{&Error{Class: ClassTransient, Err: context.DeadlineExceeded}, false},
		{&Error{HTTPStatus: 400, Code: 100, Class: ClassPermanent}, false},
		{errors.New("not a graph error"), false},
	} {
		if got := NotTaken(tc.err); got != tc.want {
			t.Errorf("NotTaken(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
