// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package ingest

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics of the webhook server, served on the receiver's metrics endpoint:
//
//	coex_receiver_requests_total{result}             webhook POSTs and handshakes by outcome:
//	                                                 accepted, bad_signature, too_large,
//	                                                 unknown_app, no_secret, spool_error,
//	                                                 handshake_ok, handshake_refused
//	coex_receiver_signature_failures_total           POSTs refused for a missing or wrong
//	                                                 X-Hub-Signature-256 (nothing stored)
//	coex_receiver_bytes_total                        bytes of accepted bodies
//	coex_receiver_ack_duration_seconds               receipt to 200, fsync included
type Metrics struct {
	Requests          *prometheus.CounterVec
	SignatureFailures prometheus.Counter
	Bytes             prometheus.Counter
	AckDuration       prometheus.Histogram
}

// NewMetrics creates the webhook server's metrics and registers them on reg (if not nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "coex_receiver_requests_total", Help: "Webhook requests by outcome.",
		}, []string{"result"}),
		SignatureFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "coex_receiver_signature_failures_total",
			Help: "Webhook POSTs refused for a missing or wrong X-Hub-Signature-256.",
		}),
		Bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "coex_receiver_bytes_total", Help: "Bytes of accepted webhook bodies.",
		}),
		AckDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "coex_receiver_ack_duration_seconds", Help: "Time from receipt to the 200, fsync included.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
	}
	if reg != nil {
		reg.MustRegister(m.Requests, m.SignatureFailures, m.Bytes, m.AckDuration)
	}
	return m
}
