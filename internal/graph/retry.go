// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graph

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// do runs r until it succeeds, fails for good, or a retry bound is reached: attempts,
// elapsed time, or the caller's deadline, which no backoff sleep may cross. Only transient
// errors are retried, after a full-jitter exponential backoff, or Graph's Retry-After when
// that is longer. After the bounds, the error is the last attempt's *Error.
//
// The one-shot smb_app_data requests are the exception: they are not idempotent, and Meta's
// answer to a repeat is undocumented (META_API.md). They are retried here only after an
// answer that proves Meta did not act (NotTaken: never sent, throttled, refused for its
// credentials). After a 5xx, a timeout or a reset connection the outcome is unknown and the
// error goes back to the caller, which settles it from webhooks before it ever asks again.
func (c *HTTPClient) do(ctx context.Context, r *request) error {
	if c.baseErr != nil {
		return &Error{Call: r.call, Class: ClassPermanent, Err: c.baseErr}
	}
	for _, s := range r.path {
		if s == "" {
			return &Error{Call: r.call, Class: ClassPermanent, Err: errors.New("cannot call Graph with an empty ID")}
		}
	}
	p := c.opts.Retry
	start := c.opts.Now()
	var last *Error
	for attempt := 1; ; attempt++ {
		if err := c.waitBucket(ctx, r.call); err != nil {
			if last != nil {
				return last
			}
			return err
		}
		t0 := c.opts.Now()
		err := c.attempt(ctx, r)
		c.observe(r.call, err, c.opts.Now().Sub(t0))
		if err == nil {
			return nil
		}
		last = err
		if err.Class != ClassTransient || ctx.Err() != nil || attempt >= p.MaxAttempts ||
			(isSyncCall(r.call) && !NotTaken(err)) {
			return err
		}
		d := c.backoff(attempt, err.RetryAfter)
		wake := c.opts.Now().Add(d)
		if wake.Sub(start) > p.MaxElapsed {
			return err
		}
		if dl, ok := ctx.Deadline(); ok && !wake.Before(dl) {
			return err
		}
		if serr := c.opts.Sleep(ctx, d); serr != nil {
			// Cancelled while waiting: the last answer, and why we stopped asking.
			return fmt.Errorf("%w; cannot retry: %w", err, serr)
		}
	}
}

// backoff is the wait before retry number attempt: a uniform draw from [0, ceiling) where
// the ceiling doubles from BaseDelay up to MaxDelay ("full jitter"), so clients that failed
// together do not retry together; a longer Retry-After from Graph wins.
func (c *HTTPClient) backoff(attempt int, retryAfter time.Duration) time.Duration {
	ceiling := c.opts.Retry.BaseDelay
	for i := 1; i < attempt && ceiling < c.opts.Retry.MaxDelay; i++ {
		ceiling *= 2
	}
	ceiling = min(ceiling, c.opts.Retry.MaxDelay)
	d := time.Duration(c.opts.Rand() * float64(ceiling))
	return max(d, retryAfter)
}

// waitBucket takes a token from the app's bucket, or fails when the caller's context ends
// first (or would end before a token comes).
func (c *HTTPClient) waitBucket(ctx context.Context, call string) error {
	if c.limiter == nil {
		return nil
	}
	if err := c.limiter.Wait(ctx); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return &Error{Call: call, Class: ClassTransient, Err: ctxErr, notSent: true}
		}
		return &Error{Call: call, Class: ClassTransient, notSent: true,
			Err: fmt.Errorf("cannot get a rate-limit token before the deadline: %w", context.DeadlineExceeded)}
	}
	return nil
}

// observe reports one attempt to the Observer.
func (c *HTTPClient) observe(call string, err *Error, d time.Duration) {
	if c.opts.Observer == nil {
		return
	}
	outcome := OutcomeOK
	if err != nil {
		outcome = err.Class.String()
	}
	c.opts.Observer(call, outcome, d)
}
