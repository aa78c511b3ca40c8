// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graph

import (
	"context"
	"math/rand/v2"
	"net/http"
	"time"
)

// Defaults of Options.
const (
	DefaultBaseURL    = "https://graph.facebook.com"
	DefaultAPIVersion = "v23.0"
	// DefaultTimeout bounds one HTTP attempt of the default http.Client, so a hung connection
	// becomes a transient error instead of a stuck reconciler.
	DefaultTimeout = 30 * time.Second
)

// OutcomeOK is the Observer outcome of a successful attempt; a failed one reports its Class.
const OutcomeOK = "ok"

// Observer is told about every HTTP attempt (retries included): the Client method (one of the
// Call constants), OutcomeOK or the attempt's Class as a string, and how long the attempt
// took. It is meant for Prometheus metrics; its arguments are constants and a duration, never
// a token, an ID or a message.
type Observer func(call, outcome string, d time.Duration)

// RetryPolicy bounds the retries of transient errors. A call stops at whichever bound comes
// first: MaxAttempts, MaxElapsed, or the caller's context deadline.
type RetryPolicy struct {
	// MaxAttempts counts the first attempt: 1 disables retries. Default 5.
	MaxAttempts int
	// BaseDelay is the backoff ceiling before the first retry; it doubles per retry. Default 500ms.
	BaseDelay time.Duration
	// MaxDelay caps the backoff ceiling. A larger Retry-After from Graph still wins. Default 30s.
	MaxDelay time.Duration
	// MaxElapsed bounds the time from the first attempt to the start of the last. Default 1m.
	MaxElapsed time.Duration
}

// DefaultRetryPolicy is the policy used for Options.Retry's zero fields.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MaxAttempts: 5, BaseDelay: 500 * time.Millisecond, MaxDelay: 30 * time.Second, MaxElapsed: time.Minute}
}

// Options configure an HTTPClient. Every field is optional.
//
// One HTTPClient serves one Meta app: AppID picks the app's token bucket in Limiters, so all
// clients built for the same app with the same Limiters share one bucket.
type Options struct {
	// BaseURL is Graph's address, DefaultBaseURL when empty; tests and the simulator set theirs.
	BaseURL string
	// APIVersion is the path prefix of every call, DefaultAPIVersion when empty.
	APIVersion string
	// HTTPClient sends the requests; when nil, a client with DefaultTimeout.
	HTTPClient *http.Client
	// AttemptTimeout, when positive, bounds each attempt on top of the caller's context. An
	// attempt that runs out of it is transient and retried; a caller's context that is done is not.
	AttemptTimeout time.Duration
	// Retry bounds retries; zero fields take DefaultRetryPolicy's values.
	Retry RetryPolicy

	// AppID names the Meta app whose bucket in Limiters every call waits on.
	AppID string
	// Limiters holds the per-app token buckets; nil means no client-side rate limit.
	Limiters *Limiters

	// Observer, when set, is called once per HTTP attempt.
	Observer Observer

	// Sleep waits d or until ctx is done, returning ctx.Err() then. Tests inject one that
	// records d and returns at once, so no test waits for real time.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock for backoff budgets, Retry-After dates and Observer durations. It is
	// compared with context deadlines, so a test clock must start at the real time.
	Now func() time.Time
	// Rand returns a number in [0, 1) for the backoff jitter; tests make it fixed.
	Rand func() float64
}

// withDefaults returns o with every empty field set to its default.
func (o Options) withDefaults() Options {
	if o.BaseURL == "" {
		o.BaseURL = DefaultBaseURL
	}
	if o.APIVersion == "" {
		o.APIVersion = DefaultAPIVersion
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: DefaultTimeout}
	}
	d := DefaultRetryPolicy()
	if o.Retry.MaxAttempts < 1 {
		o.Retry.MaxAttempts = d.MaxAttempts
	}
	if o.Retry.BaseDelay <= 0 {
		o.Retry.BaseDelay = d.BaseDelay
	}
	if o.Retry.MaxDelay <= 0 {
		o.Retry.MaxDelay = d.MaxDelay
	}
	if o.Retry.MaxElapsed <= 0 {
		o.Retry.MaxElapsed = d.MaxElapsed
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Float64
	}
	return o
}

// sleep waits d on a real timer, or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
