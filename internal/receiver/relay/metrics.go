// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package relay

/*
Relay metrics, for the registry given to NewMetrics (controller-runtime's
metrics.Registry in the receiver, so they are served with the others):

	coex_receiver_relay_deliveries_total{result}
	    Counter: attempts to deliver one batch of a stream. result: delivered (the endpoint
	    answered 2xx), failed (transport error, timeout, non-2xx answer, outbox or endpoint
	    lookup error), no_endpoint (no endpoint, or one without a URL or secret, is configured
	    for the stream: its events wait in the outbox). Every series starts at 0.
	coex_receiver_relay_events_total
	    Counter: events the tenants' endpoints acknowledged with a 2xx. A batch retried after a
	    failure counts once, when it is acknowledged (twice in the rare case the outbox could
	    not record the acknowledgement, since the batch is then sent again).
	coex_receiver_relay_delivery_duration_seconds
	    Histogram: duration of each POST to an endpoint, failed ones included, up to the
	    client's timeout (10 s by default).
	coex_receiver_relay_backlog_streams
	    Gauge: streams (CoexNumbers) with events waiting in the outbox at the relay's last
	    listing, about once a second. Growing or stuck above 0 means endpoints are down,
	    missing or slower than the events arrive.

They count what this receiver's relay did: each receiver drains its own outbox, so sum
them across pods.
*/

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Results of one delivery attempt, the result label of coex_receiver_relay_deliveries_total.
const (
	resultDelivered  = "delivered"
	resultFailed     = "failed"
	resultNoEndpoint = "no_endpoint"
)

// Metrics are the relay's Prometheus metrics. A nil *Metrics records nothing.
type Metrics struct {
	deliveries *prometheus.CounterVec
	events     prometheus.Counter
	duration   prometheus.Histogram
	backlog    prometheus.Gauge
}

// NewMetrics creates the relay's metrics and registers them on reg (not registered when
// reg is nil, which tests use). It panics if they are already registered on reg, like
// MustRegister: build them once per process.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "coex_receiver_relay_deliveries_total",
			Help: "Attempts to deliver a batch of events to a tenant's endpoint, by result (delivered, failed, no_endpoint).",
		}, []string{"result"}),
		events: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "coex_receiver_relay_events_total",
			Help: "Events acknowledged (2xx) by tenants' endpoints.",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "coex_receiver_relay_delivery_duration_seconds",
			Help: "Duration of each POST of a batch to a tenant's endpoint, failed ones included.",
			// Up to the default client's 10 s timeout.
			Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
		}),
		backlog: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "coex_receiver_relay_backlog_streams",
			Help: "Streams with events waiting in the outbox at the relay's last listing.",
		}),
	}
	// Every series starts at 0, so rate() and increase() see the first attempt.
	for _, r := range []string{resultDelivered, resultFailed, resultNoEndpoint} {
		m.deliveries.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.deliveries, m.events, m.duration, m.backlog)
	}
	return m
}

// attempt counts one delivery attempt with result.
func (m *Metrics) attempt(result string) {
	if m != nil {
		m.deliveries.WithLabelValues(result).Inc()
	}
}

// acknowledged counts n events an endpoint answered 2xx for.
func (m *Metrics) acknowledged(n int) {
	if m != nil {
		m.events.Add(float64(n))
	}
}

// posted records how long one POST took.
func (m *Metrics) posted(d time.Duration) {
	if m != nil {
		m.duration.Observe(d.Seconds())
	}
}

// listed records how many streams had events waiting.
func (m *Metrics) listed(streams int) {
	if m != nil {
		m.backlog.Set(float64(streams))
	}
}
