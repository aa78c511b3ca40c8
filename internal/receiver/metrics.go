// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package receiver

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics of the receiver, served on its metrics endpoint:
//
//	coex_receiver_requests_total{result}             webhook POSTs and handshakes by outcome:
//	                                                 accepted, bad_signature, too_large,
//	                                                 unknown_app, no_secret, spool_error,
//	                                                 handshake_ok, handshake_refused
//	coex_receiver_signature_failures_total           POSTs refused for a missing or wrong
//	                                                 X-Hub-Signature-256 (nothing stored)
//	coex_receiver_bytes_total                        bytes of accepted bodies
//	coex_receiver_ack_duration_seconds               receipt to 200, fsync included
//	coex_receiver_spool_depth                        records spooled and not yet applied
//	coex_receiver_changes_total{field,result}        changes applied by the dispatcher:
//	                                                 applied, unmatched, malformed, unknown_field
//	coex_receiver_duplicates_total                   whole payloads Meta delivered again
//	coex_receiver_dead_letters_total                 signed payloads kept unapplied
//	coex_receiver_history_messages_total             distinct history messages applied
//	coex_receiver_processing_lag_seconds             receipt to applied (spool wait included)
//	coex_receiver_outbox_events                      events waiting for the relay
//	coex_receiver_status_writes_total{result}        CoexNumber status applies: ok, error
type Metrics struct {
	Requests          *prometheus.CounterVec
	SignatureFailures prometheus.Counter
	Bytes             prometheus.Counter
	AckDuration       prometheus.Histogram
	SpoolDepth        prometheus.Gauge
	Changes           *prometheus.CounterVec
	Duplicates        prometheus.Counter
	DeadLetters       prometheus.Counter
	HistoryMessages   prometheus.Counter
	ProcessingLag     prometheus.Histogram
	OutboxEvents      prometheus.Gauge
	StatusWrites      *prometheus.CounterVec
}

// NewMetrics creates the receiver's metrics and registers them on reg (if not nil).
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
		SpoolDepth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "coex_receiver_spool_depth", Help: "Spooled webhooks not yet applied.",
		}),
		Changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "coex_receiver_changes_total", Help: "Webhook changes by field and result.",
		}, []string{"field", "result"}),
		Duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "coex_receiver_duplicates_total", Help: "Webhook payloads delivered again by Meta and skipped.",
		}),
		DeadLetters: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "coex_receiver_dead_letters_total", Help: "Signed payloads kept as dead letters.",
		}),
		HistoryMessages: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "coex_receiver_history_messages_total", Help: "Distinct history messages applied.",
		}),
		ProcessingLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "coex_receiver_processing_lag_seconds", Help: "Time from receipt to applied.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 18),
		}),
		OutboxEvents: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "coex_receiver_outbox_events", Help: "Events waiting for the relay.",
		}),
		StatusWrites: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "coex_receiver_status_writes_total", Help: "CoexNumber status writes by result.",
		}, []string{"result"}),
	}
	if reg != nil {
		reg.MustRegister(m.Requests, m.SignatureFailures, m.Bytes, m.AckDuration, m.SpoolDepth, m.Changes,
			m.Duplicates, m.DeadLetters, m.HistoryMessages, m.ProcessingLag, m.OutboxEvents, m.StatusWrites)
	}
	return m
}
