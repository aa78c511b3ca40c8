// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"hash/fnv"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Defaults of Options.
const (
	// DefaultSubscriptionRecheck is how often a number's WABA subscription and a MetaApp's
	// webhook fields are read again from Meta, to notice someone removing them (drift). It is
	// the operator's only steady-state Graph traffic: one call per number per period.
	DefaultSubscriptionRecheck = 10 * time.Minute
	// DefaultAppInactivityWarning: no message sent from the Business app (echo) for this long
	// raises a warning, ahead of Meta's ~14-day disconnection of numbers whose app goes unused.
	DefaultAppInactivityWarning = 10 * 24 * time.Hour
)

// DefaultUnsupportedCallingCodes are the countries every source says coexistence is not
// available in: Nigeria (+234) and South Africa (+27).
var DefaultUnsupportedCallingCodes = []string{"234", "27"}

// Options are what every reconciler shares.
type Options struct {
	// Client reads and writes Kubernetes objects.
	Client client.Client
	// APIReader reads past the cache: a status write refused for a stale object is rebased
	// on what the API server has now (default: the manager's API reader).
	APIReader client.Reader
	// Graph hands out the Graph API client of a MetaApp.
	Graph GraphFactory
	// Clock is the time the 24 h sync window and every period are measured with; tests
	// move a fake one.
	Clock clock.PassiveClock
	// Events records a Kubernetes Event for every transition.
	Events events.EventRecorder
	// UnsupportedCallingCodes are country calling codes (without '+') where coexistence is
	// unavailable; a number in one is stalled with reason UnsupportedCountry.
	UnsupportedCallingCodes []string
	// SubscriptionRecheck is the drift-check period (DefaultSubscriptionRecheck when zero),
	// spread by up to 10% jitter so thousands of numbers do not call Meta at once.
	SubscriptionRecheck time.Duration
	// AppInactivityWarning (DefaultAppInactivityWarning when zero).
	AppInactivityWarning time.Duration
	// MaxConcurrentReconciles bounds the numbers reconciled at once
	// (DefaultMaxConcurrentReconciles when zero). A reconcile mostly waits on Meta, so
	// onboarding thousands of numbers within their 24 h windows wants many at once; the
	// per-app token bucket still protects the app's quota.
	MaxConcurrentReconciles int
	// ReceiverCredentials names the Secret (in the operator's namespace) the manager projects
	// the receiver's credentials into; with no namespace, nothing is projected.
	ReceiverCredentials client.ObjectKey
	// RotationGrace keeps a replaced app secret in that Secret (DefaultRotationGrace when zero).
	RotationGrace time.Duration
}

// DefaultMaxConcurrentReconciles is Options.MaxConcurrentReconciles' default.
const DefaultMaxConcurrentReconciles = 16

func (o Options) withDefaults() Options {
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.UnsupportedCallingCodes == nil {
		o.UnsupportedCallingCodes = DefaultUnsupportedCallingCodes
	}
	if o.SubscriptionRecheck <= 0 {
		o.SubscriptionRecheck = DefaultSubscriptionRecheck
	}
	if o.AppInactivityWarning <= 0 {
		o.AppInactivityWarning = DefaultAppInactivityWarning
	}
	if o.MaxConcurrentReconciles <= 0 {
		o.MaxConcurrentReconciles = DefaultMaxConcurrentReconciles
	}
	return o
}

// jittered is period plus up to 10% more, fixed per object (a hash of its UID): thousands of
// numbers or apps applied together spread their periodic checks instead of calling Meta at
// once, and an object keeps the same period across reconciles and restarts.
func jittered(period time.Duration, uid types.UID) time.Duration {
	h := fnv.New32a()
	_, _ = h.Write([]byte(uid))
	return period + time.Duration(uint64(period/10)*uint64(h.Sum32())/(1<<32))
}

// secretReader reads Secrets past the cache: the manager keeps only Secrets' metadata in its
// cache (it never lists or watches Secret data), and reads a value when it needs one.
func (o Options) secretReader() client.Reader {
	if o.APIReader != nil {
		return o.APIReader
	}
	return o.Client
}
