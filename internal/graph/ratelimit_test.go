// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graph

import (
	"context"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

func TestLimitersSharePerApp(t *testing.T) {
	l := NewLimiters(1, 3)
	a1, a2, b := l.For("app-a"), l.For("app-a"), l.For("app-b")
	if a1 != a2 {
		t.Fatal("the same app got two buckets")
	}
	if a1 == b {
		t.Fatal("two apps share a bucket")
	}
	// Explicit times make the bucket arithmetic exact: no refill happens between the calls.
	t0 := time.Now()
	if !a1.AllowN(t0, 3) {
		t.Fatal("a fresh bucket refused its burst")
	}
	if a2.AllowN(t0, 1) {
		t.Error("app-a's bucket is empty, yet its other handle allowed a call")
	}
	if got := b.TokensAt(t0); got != 3 {
		t.Errorf("app-b has %v tokens after app-a's calls, want 3", got)
	}
	if got := a1.TokensAt(t0.Add(time.Second)); got != 1 {
		t.Errorf("app-a has %v tokens a second later, want 1 (1 rps)", got)
	}
}

func TestLimitersDefaults(t *testing.T) {
	b := NewLimiters(0, 0).For("x")
	if b.Limit() != rate.Inf || b.Burst() != 1 {
		t.Errorf("limit %v burst %d, want Inf and 1", b.Limit(), b.Burst())
	}
}

func TestLimitersConcurrent(t *testing.T) {
	l := NewLimiters(10, 1)
	want := l.For("app")
	var wg sync.WaitGroup
	got := make([]*rate.Limiter, 50)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = l.For("app")
			l.For(string(rune('a' + i%5)))
		}()
	}
	wg.Wait()
	for i, g := range got {
		if g != want {
			t.Fatalf("goroutine %d got another bucket", i)
		}
	}
}

// Clients of one app draw from one bucket; another app's client is unaffected. The bucket
// refills once in ~30 years, so "empty" stays empty for the whole test.
func TestClientsShareTheAppBucket(t *testing.T) {
	l := NewLimiters(1e-9, 2)
	rec := respond(ok(`{"success":true}`))
	c1, _ := testClient(t, rec, Options{AppID: "app-a", Limiters: l})
	c2 := New(Options{BaseURL: c1.opts.BaseURL, AppID: "app-a", Limiters: l})
	c3 := New(Options{BaseURL: c1.opts.BaseURL, AppID: "app-b", Limiters: l})
	ctx := context.Background()
	if err := c1.UnsubscribeApp(ctx, "tok", "1"); err != nil {
		t.Fatal(err)
	}
	if err := c2.UnsubscribeApp(ctx, "tok", "2"); err != nil {
		t.Fatal(err)
	}
	if tok := l.For("app-a").Tokens(); tok >= 1 {
		t.Errorf("app-a bucket has %v tokens after two calls from two clients, want < 1", tok)
	}
	// With a deadline, Wait refuses at once rather than block until the refill.
	dctx, cancel := context.WithTimeout(ctx, time.Hour)
	defer cancel()
	err := c2.UnsubscribeApp(dctx, "tok", "3")
	if ge := asError(t, err); ge.Class != ClassTransient || len(rec.Seen()) != 2 {
		t.Errorf("got %v with %d requests sent; want a transient refusal before sending", err, len(rec.Seen()))
	}
	if err := c3.UnsubscribeApp(ctx, "tok", "4"); err != nil {
		t.Errorf("app-b call: %v", err)
	}
	if tok := l.For("app-b").Tokens(); tok < 0.99 || tok >= 2 {
		t.Errorf("app-b bucket has %v tokens after one call, want 1", tok)
	}
}
