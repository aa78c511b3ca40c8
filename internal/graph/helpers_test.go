// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graph

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"
)

// fakeClock is the injected clock and sleep: Sleep records the wait and moves the clock on at
// once, so retry tests never wait for real time. It starts at the real time so that contexts
// with real deadlines compare sensibly against it.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

// Whole seconds, so HTTP-dates (second precision) convert exactly.
func newFakeClock() *fakeClock { return &fakeClock{now: time.Now().Truncate(time.Second)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return nil
}

func (c *fakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// seenRequest is what a test server recorded of one request.
type seenRequest struct {
	Method      string
	Path        string // escaped
	Query       url.Values
	Auth        string
	ContentType string
	Body        string
}

// recorder is an http.Handler that records each request and answers with the next of its
// responses (the last one repeats).
type recorder struct {
	mu        sync.Mutex
	seen      []seenRequest
	responses []response
}

type response struct {
	status int
	header map[string]string
	body   string
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec.mu.Lock()
	rec.seen = append(rec.seen, seenRequest{
		Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.Query(),
		Auth: r.Header.Get("Authorization"), ContentType: r.Header.Get("Content-Type"), Body: string(body),
	})
	resp := rec.responses[min(len(rec.seen), len(rec.responses))-1]
	rec.mu.Unlock()
	for k, v := range resp.header {
		w.Header().Set(k, v)
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	}
	w.WriteHeader(resp.status)
	_, _ = io.WriteString(w, resp.body)
}

func (rec *recorder) Seen() []seenRequest {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]seenRequest(nil), rec.seen...)
}

// respond builds a recorder answering the given responses in turn.
func respond(rs ...response) *recorder { return &recorder{responses: rs} }

// ok is a 200 with body.
func ok(body string) response { return response{status: http.StatusOK, body: body} }

// testClient serves h and returns a client for it with a fake clock (unless opts brings its
// own Sleep or Now) and a fixed jitter of one half; opts may set anything else.
func testClient(t *testing.T, h http.Handler, opts Options) (*HTTPClient, *fakeClock) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	clk := newFakeClock()
	opts.BaseURL = srv.URL
	if opts.Sleep == nil {
		opts.Sleep = clk.Sleep
	}
	if opts.Now == nil {
		opts.Now = clk.Now
	}
	if opts.Rand == nil {
		opts.Rand = func() float64 { return 0.5 }
	}
	return New(opts), clk
}

// asError returns err as a *Error or fails the test.
func asError(t *testing.T, err error) *Error {
	t.Helper()
	ge, ok := err.(*Error)
	if !ok {
		t.Fatalf("error %v (%T) is not a *graph.Error", err, err)
	}
	return ge
}

var testApp = App{ID: "1234567890", Secret: "s3cr3t"}

// closedServerClient returns a client for a server that was closed: connection refused.
func closedServerClient(t *testing.T, opts Options) *HTTPClient {
	t.Helper()
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	clk := newFakeClock()
	opts.BaseURL = srv.URL
	opts.Sleep, opts.Now = clk.Sleep, clk.Now
	return New(opts)
}
