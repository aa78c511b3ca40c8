// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"math"
)

// goal is a bound a figure must meet: at least (or at most) a value.
type goal struct {
	text   string // as printed beside the figure
	atMost bool   // the figure must be <= limit (else >= limit)
	limit  float64
	none   bool // no goal was set: the figure is reported for the record
}

func atLeast(limit float64, text string) goal { return goal{text: text, limit: limit} }
func atMost(limit float64, text string) goal  { return goal{text: text, limit: limit, atMost: true} }
func noGoal(text string) goal                 { return goal{text: text, none: true} }

// verdict says whether v meets the goal, and by how much it misses.
func (g goal) verdict(v float64) string {
	switch {
	case g.none:
		return ""
	case math.IsNaN(v):
		return "not measured"
	case g.atMost && v <= g.limit, !g.atMost && v >= g.limit:
		return "met"
	case g.atMost:
		return fmt.Sprintf("NOT MET: %.0f%% over", (v/g.limit-1)*100)
	default:
		return fmt.Sprintf("NOT MET: %.0f%% short", (1-v/g.limit)*100)
	}
}
