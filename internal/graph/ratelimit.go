// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graph

import (
	"sync"

	"golang.org/x/time/rate"
)

// Limiters holds one token bucket per Meta app. Graph throttles per app, so every client of
// one app, whichever reconciler or number it serves, must draw from the same bucket: build
// one Limiters per process and pass it to every HTTPClient. It is safe for concurrent use.
type Limiters struct {
	limit rate.Limit
	burst int

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

// NewLimiters returns a registry whose buckets refill at rps calls per second and hold up to
// burst calls. rps <= 0 means no limit; burst < 1 is taken as 1.
func NewLimiters(rps float64, burst int) *Limiters {
	limit := rate.Limit(rps)
	if rps <= 0 {
		limit = rate.Inf
	}
	if burst < 1 {
		burst = 1
	}
	return &Limiters{limit: limit, burst: burst, buckets: map[string]*rate.Limiter{}}
}

// For returns appID's bucket, creating it on first use. The same appID always gets the same
// *rate.Limiter.
func (l *Limiters) For(appID string) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[appID]
	if !ok {
		b = rate.NewLimiter(l.limit, l.burst)
		l.buckets[appID] = b
	}
	return b
}
