// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package project

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics of the status writer, served on the receiver's metrics endpoint:
//
//	coex_receiver_status_writes_total{result}        CoexNumber status applies: ok, error
type Metrics struct {
	StatusWrites *prometheus.CounterVec
}

// NewMetrics creates the status writer's metrics and registers them on reg (if not nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		StatusWrites: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "coex_receiver_status_writes_total", Help: "CoexNumber status writes by result.",
		}, []string{"result"}),
	}
	if reg != nil {
		reg.MustRegister(m.StatusWrites)
	}
	return m
}
