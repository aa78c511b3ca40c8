// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package receiver_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// streamOrder checks that one number's events reach the tenant in the order they were
// emitted, from the relay's delivery header ("<namespace>/<name>:<first>-<last>", outbox
// sequences, increasing per stream but not contiguous with every store). At least once
// allows a delivery to start again at the oldest event not yet acknowledged, which was in
// an earlier delivery; so a delivery that starts at or before the newest sequence delivered
// must open with events already seen, and new ones may only follow them; one that starts
// after it must hold only new events. An event delivered before an older one fails either.
type streamOrder struct {
	newest map[string]uint64 // stream -> the last sequence delivered
	bad    []string
}

func (o *streamOrder) check(delivery string, ids []string, seen func(string) bool) {
	if o.newest == nil {
		o.newest = map[string]uint64{}
	}
	stream, first, last, ok := parseDelivery(delivery)
	if !ok {
		o.bad = append(o.bad, fmt.Sprintf("delivery header %q", delivery))
		return
	}
	resend := first <= o.newest[stream]
	fresh := false
	for i, id := range ids {
		switch old := seen(id); {
		case old && (fresh || !resend):
			o.bad = append(o.bad, fmt.Sprintf("%s: event %s (#%d of the delivery) was delivered before, after newer ones", delivery, id, i))
			return
		case !old && resend && i == 0:
			o.bad = append(o.bad, fmt.Sprintf("%s starts at or before sequence %d already delivered, with a new event %s: "+
				"an older event came after a newer one", delivery, o.newest[stream], id))
			return
		case !old:
			fresh = true
		}
	}
	o.newest[stream] = max(o.newest[stream], last)
}

func parseDelivery(h string) (stream string, first, last uint64, ok bool) {
	i := strings.LastIndexByte(h, ':')
	if i < 0 {
		return "", 0, 0, false
	}
	a, b, ok := strings.Cut(h[i+1:], "-")
	if !ok {
		return "", 0, 0, false
	}
	first, err1 := strconv.ParseUint(a, 10, 64)
	last, err2 := strconv.ParseUint(b, 10, 64)
	return h[:i], first, last, err1 == nil && err2 == nil && first <= last
}

func TestStreamOrderCheck(t *testing.T) {
	type delivery struct {
		header string
		ids    []string
	}
	for name, tc := range map[string]struct {
		deliveries []delivery
		bad        bool
	}{
		"in order, sequences with gaps": {deliveries: []delivery{{"ns/a:1-2", []string{"x1", "x2"}}, {"ns/a:7-9", []string{"x3", "x4"}}}},
		"a resend of the oldest, then new ones after it": {deliveries: []delivery{{"ns/a:1-2", []string{"x1", "x2"}},
			{"ns/a:1-4", []string{"x1", "x2", "x3", "x4"}}}},
		"streams are independent": {deliveries: []delivery{{"ns/a:5-6", []string{"a1", "a2"}}, {"ns/b:1-1", []string{"b1"}}}},
		"an older event after a newer one": {deliveries: []delivery{{"ns/a:3-3", []string{"x3"}}, {"ns/a:1-2", []string{"x1", "x2"}}},
			bad: true},
		"an old event after new ones": {deliveries: []delivery{{"ns/a:1-1", []string{"x1"}}, {"ns/a:1-3", []string{"x1", "x2", "x1"}}},
			bad: true},
		"an old event in a delivery past the newest": {deliveries: []delivery{{"ns/a:1-1", []string{"x1"}}, {"ns/a:2-2", []string{"x1"}}},
			bad: true},
		"a header that cannot be read": {deliveries: []delivery{{"garbage", []string{"x1"}}}, bad: true},
	} {
		t.Run(name, func(t *testing.T) {
			var o streamOrder
			seen := map[string]bool{}
			for _, d := range tc.deliveries {
				o.check(d.header, d.ids, func(id string) bool { return seen[id] })
				for _, id := range d.ids {
					seen[id] = true
				}
			}
			if got := len(o.bad) > 0; got != tc.bad {
				t.Errorf("out of order = %v (%q), want %v", got, o.bad, tc.bad)
			}
		})
	}
}
