// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graphsim

import (
	"sync"
	"time"
)

// Clock is the simulator's time: the 24 h sync window, onboarding times, message and webhook
// timestamps all read it, so a test can jump a day ahead without waiting. A frozen clock
// only moves on Set or Advance (deterministic tests); a ticking one also follows wall time
// (the standalone simulator).
type Clock struct {
	mu      sync.Mutex
	base    time.Time // sim time at wallRef
	wallRef time.Time
	ticking bool
}

// NewClock returns a frozen clock reading start.
func NewClock(start time.Time) *Clock {
	return &Clock{base: start.UTC(), wallRef: time.Now()}
}

// NewTickingClock returns a clock reading start now and advancing with wall time.
func NewTickingClock(start time.Time) *Clock {
	c := NewClock(start)
	c.ticking = true
	return c
}

// Now is the current simulated time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nowLocked()
}

func (c *Clock) nowLocked() time.Time {
	if !c.ticking {
		return c.base
	}
	return c.base.Add(time.Since(c.wallRef))
}

// Set moves the clock to t (backwards too: tests may need it).
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.base, c.wallRef = t.UTC(), time.Now()
}

// Advance moves the clock forward by d and returns the new time.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.base, c.wallRef = c.nowLocked().Add(d), time.Now()
	return c.base
}
