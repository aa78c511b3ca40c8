// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package process

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics of the dispatcher, served on the receiver's metrics endpoint:
//
//	coex_receiver_changes_total{field,result}        changes applied by the dispatcher:
//	                                                 applied, unmatched, malformed, unknown_field
//	coex_receiver_duplicates_total                   whole payloads Meta delivered again
//	coex_receiver_dead_letters_total                 signed payloads kept unapplied
//	coex_receiver_history_messages_total             distinct history messages applied
//	coex_receiver_processing_lag_seconds             receipt to applied (spool wait included)
type Metrics struct {
	Changes         *prometheus.CounterVec
	Duplicates      prometheus.Counter
	DeadLetters     prometheus.Counter
	HistoryMessages prometheus.Counter
	ProcessingLag   prometheus.Histogram
}

// NewMetrics creates the dispatcher's metrics and registers them on reg (if not nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
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
	}
	if reg != nil {
		reg.MustRegister(m.Changes, m.Duplicates, m.DeadLetters, m.HistoryMessages, m.ProcessingLag)
	}
	return m
}
