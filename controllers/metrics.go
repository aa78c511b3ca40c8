// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package controllers

/*
Metrics, served with controller-runtime's own on the manager's metrics endpoint:

	coex_numbers{phase}
	    Gauge: CoexNumbers per status.phase (Pending, Verifying, Syncing, Active,
	    ReonboardRequired, Offboarded, Failed; Unknown for an empty or unexpected phase).
	    Every phase is always reported, 0 when no number is in it.
	coex_sync_deadline_seconds{namespace, name}
	    Gauge: seconds left until the number's 24 h sync window closes (negative once it has).
	    Reported only for numbers with a wanted contacts or history sync not yet requested,
	    so the series exist only while the window matters.
	coex_sync_requests_total{type, result}
	    Counter: one-shot sync requests made to Meta. type: contacts, history. result:
	    requested, already_requested, window_expired, transient, auth, error.
	coex_graph_request_duration_seconds{call, outcome}
	    Histogram: each Graph API HTTP attempt, retries included; its _count counts them.
	    call: the graph.Client method (GetPhoneNumber, RequestHistorySync, ...). outcome: ok,
	    or the error class (Transient, Permanent, Auth, AlreadyRequested, WindowExpired).

coex_numbers and coex_sync_deadline_seconds are computed from the informer cache at scrape
time, so every replica reports them, and a deleted number leaves no stale series. The two
others count what this replica did: only the leader reconciles, so sum them across replicas.
*/

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	v1 "github.com/coex-operator/coex-operator/api/v1alpha1"
	"github.com/coex-operator/coex-operator/internal/graph"
)

// Results of a one-shot sync request, the result label of coex_sync_requests_total.
const (
	syncResultRequested        = "requested"
	syncResultAlreadyRequested = "already_requested"
	syncResultWindowExpired    = "window_expired"
	syncResultTransient        = "transient"
	syncResultAuth             = "auth"
	syncResultError            = "error"
)

// phaseUnknown is the phase label of a number without (or with an unexpected) status.phase.
const phaseUnknown = "Unknown"

// numberPhases are the phases coex_numbers always reports, so a phase emptying shows as 0
// rather than as a series that disappears.
var numberPhases = []v1.CoexNumberPhase{
	v1.PhasePending, v1.PhaseVerifying, v1.PhaseSyncing, v1.PhaseActive,
	v1.PhaseReonboardRequired, v1.PhaseOffboarded, v1.PhaseFailed,
}

var (
	syncRequests         = newSyncRequestsCounter()
	graphRequestDuration = newGraphRequestDurationHistogram()
	// numberMetrics is registered once per process; Setup points it at the latest manager's
	// client, because tests build several managers in one process and a collector can be
	// registered only once.
	numberMetrics = &numberCollector{}
)

func init() {
	metrics.Registry.MustRegister(syncRequests, graphRequestDuration, numberMetrics, receiverCredentialsBytes)
}

func newSyncRequestsCounter() *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "coex_sync_requests_total",
		Help: "One-shot sync requests made to Meta, by type (contacts, history) and result.",
	}, []string{"type", "result"})
	// Every series starts at 0, so rate() and increase() see the first request.
	for _, s := range oneShots {
		for _, r := range []string{syncResultRequested, syncResultAlreadyRequested, syncResultWindowExpired,
			syncResultTransient, syncResultAuth, syncResultError} {
			c.WithLabelValues(s.kind, r)
		}
	}
	return c
}

func newGraphRequestDurationHistogram() *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "coex_graph_request_duration_seconds",
		Help: "Duration of each Graph API HTTP attempt (retries included), by call and outcome (ok or the error class).",
		// Up to the client's 30 s attempt timeout.
		Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
	}, []string{"call", "outcome"})
}

// syncResult is the result label of a one-shot sync request that returned err, classified
// as requestOnce and graphFailed handle it.
func syncResult(err error) string {
	switch {
	case err == nil:
		return syncResultRequested
	case graph.IsAlreadyRequested(err):
		return syncResultAlreadyRequested
	case graph.IsWindowExpired(err):
		return syncResultWindowExpired
	case graph.IsAuth(err):
		return syncResultAuth
	case graph.IsTransient(err):
		return syncResultTransient
	default:
		return syncResultError
	}
}

// countSyncRequest counts a one-shot sync request of kind ("contacts", "history") that
// returned err.
func countSyncRequest(kind string, err error) {
	syncRequests.WithLabelValues(kind, syncResult(err)).Inc()
}

// GraphObserver feeds coex_graph_request_duration_seconds; pass it as graph.Options.Observer.
func GraphObserver() graph.Observer { return observeGraphInto(graphRequestDuration) }

func observeGraphInto(h *prometheus.HistogramVec) graph.Observer {
	return func(call, outcome string, d time.Duration) {
		h.WithLabelValues(call, outcome).Observe(d.Seconds())
	}
}

var (
	numbersDesc = prometheus.NewDesc("coex_numbers",
		"CoexNumbers by status.phase (Unknown when not yet set).", []string{"phase"}, nil)
	syncDeadlineDesc = prometheus.NewDesc("coex_sync_deadline_seconds",
		"Seconds until the 24 h sync window of a number closes (negative once closed); only for numbers "+
			"with a wanted sync not yet requested.", []string{"namespace", "name"}, nil)
)

// numberListTimeout bounds a scrape's List: the cache answers from memory once synced, and a
// scrape must not hang on a cache that is still syncing.
const numberListTimeout = 5 * time.Second

// numberCollector computes coex_numbers and coex_sync_deadline_seconds from the CoexNumbers
// at scrape time, so a deleted number or a number whose syncs are requested drops its series
// at once, with nothing to keep up to date from the reconciler.
type numberCollector struct {
	mu     sync.RWMutex
	reader client.Reader
	clock  clock.PassiveClock
}

// use makes the collector list with r and measure deadlines with clk.
func (c *numberCollector) use(r client.Reader, clk clock.PassiveClock) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reader, c.clock = r, clk
}

// Describe implements prometheus.Collector.
func (c *numberCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- numbersDesc
	ch <- syncDeadlineDesc
}

// Collect implements prometheus.Collector.
func (c *numberCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.RLock()
	r, clk := c.reader, c.clock
	c.mu.RUnlock()
	if r == nil {
		return // before Setup
	}
	ctx, cancel := context.WithTimeout(context.Background(), numberListTimeout)
	defer cancel()
	var list v1.CoexNumberList
	if err := r.List(ctx, &list); err != nil {
		// Not an invalid metric: controller-runtime's handler would then fail the whole
		// scrape, hiding every other metric while the cache syncs.
		logf.Log.WithName("metrics").V(1).Info("cannot list CoexNumbers for coex_numbers", "error", err.Error())
		return
	}

	counts := make(map[string]int, len(numberPhases)+1)
	for _, p := range numberPhases {
		counts[string(p)] = 0
	}
	counts[phaseUnknown] = 0
	now := clk.Now()
	for i := range list.Items {
		n := &list.Items[i]
		phase := string(n.Status.Phase)
		if _, known := counts[phase]; !known { // "" included
			phase = phaseUnknown
		}
		counts[phase]++
		if syncPending(n) {
			ch <- prometheus.MustNewConstMetric(syncDeadlineDesc, prometheus.GaugeValue,
				n.SyncDeadline().Sub(now).Seconds(), n.Namespace, n.Name)
		}
	}
	for phase, count := range counts {
		ch <- prometheus.MustNewConstMetric(numbersDesc, prometheus.GaugeValue, float64(count), phase)
	}
}

// syncPending reports whether a sync n wants has not been requested yet, which is when its
// deadline matters.
func syncPending(n *v1.CoexNumber) bool {
	st := n.Status // record() fills in nil sections: of this copy, not of n
	for _, s := range oneShots {
		if s.wanted(n.Spec.Sync) && s.record(&st).RequestedAt == nil {
			return true
		}
	}
	return false
}

// receiverCredentialsBytes is the size of the receiver's credentials Secret: the API server
// refuses one over 1 MiB, so an alert watches it approach receivercreds.MaxBytes.
var receiverCredentialsBytes = prometheus.NewGauge(prometheus.GaugeOpts{
	Name: "coex_receiver_credentials_bytes",
	Help: "Bytes of app secrets, verify tokens and relay keys projected into the receiver's credentials Secret (a Secret holds at most 1 MiB).",
})
