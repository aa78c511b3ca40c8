// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package coexstatus

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/coex-operator/coex-operator/api/v1alpha1"
)

type cond struct {
	typ    string
	status metav1.ConditionStatus
	reason string
}

var (
	verified   = cond{v1.ConditionVerified, metav1.ConditionTrue, ReasonCoexistenceConfirmed}
	subscribed = cond{v1.ConditionWebhooksSubscribed, metav1.ConditionTrue, ReasonSubscribed}
	contacts   = cond{v1.ConditionContactsSyncRequested, metav1.ConditionTrue, ReasonRequested}
	history    = cond{v1.ConditionHistorySyncRequested, metav1.ConditionTrue, ReasonRequested}
	synced     = cond{v1.ConditionHistorySynced, metav1.ConditionTrue, ReasonHistoryCompleted}
)

func TestSummarize(t *testing.T) {
	no := false
	cases := map[string]struct {
		conds     []cond
		noHistory bool
		phase     v1.CoexNumberPhase
		ready     metav1.ConditionStatus
		// reconciling and stalled: "" means the condition is absent.
		reconciling, stalled string
	}{
		"nothing yet": {phase: v1.PhasePending, ready: metav1.ConditionFalse, reconciling: "Pending"},
		"verification failing transiently": {
			conds: []cond{{v1.ConditionVerified, metav1.ConditionFalse, ReasonGraphUnavailable}},
			phase: v1.PhaseVerifying, ready: metav1.ConditionFalse, reconciling: ReasonGraphUnavailable,
		},
		"unsupported country": {
			conds: []cond{{v1.ConditionVerified, metav1.ConditionFalse, ReasonUnsupportedCountry}},
			phase: v1.PhaseFailed, ready: metav1.ConditionFalse, stalled: ReasonUnsupportedCountry,
		},
		"verified, not subscribed": {
			conds: []cond{verified},
			phase: v1.PhaseVerifying, ready: metav1.ConditionFalse, reconciling: ReasonSubscribing,
		},
		"contacts requested, history not yet": {
			conds: []cond{verified, subscribed, contacts},
			phase: v1.PhaseSyncing, ready: metav1.ConditionFalse, reconciling: ReasonWaiting,
		},
		"both requested, history arriving": {
			conds: []cond{verified, subscribed, contacts, history},
			phase: v1.PhaseSyncing, ready: metav1.ConditionFalse, reconciling: ReasonHistoryInProgress,
		},
		"history complete": {
			conds: []cond{verified, subscribed, contacts, history, synced},
			phase: v1.PhaseActive, ready: metav1.ConditionTrue,
		},
		"history declined counts as complete": {
			conds: []cond{verified, subscribed, contacts, history, {v1.ConditionHistorySynced, metav1.ConditionTrue, ReasonHistoryDeclined}},
			phase: v1.PhaseActive, ready: metav1.ConditionTrue,
		},
		"no history wanted": {
			conds: []cond{verified, subscribed, contacts}, noHistory: true,
			phase: v1.PhaseActive, ready: metav1.ConditionTrue,
		},
		"window expired": {
			conds: []cond{verified, subscribed, contacts, {v1.ConditionHistorySyncRequested, metav1.ConditionFalse, ReasonWindowExpired}},
			phase: v1.PhaseReonboardRequired, ready: metav1.ConditionFalse, stalled: ReasonReonboardRequired,
		},
		"offboarded wins over everything": {
			conds: []cond{verified, subscribed, contacts, history, synced, {v1.ConditionOffboarded, metav1.ConditionTrue, "PARTNER_REMOVED"}},
			phase: v1.PhaseOffboarded, ready: metav1.ConditionFalse, stalled: ReasonOffboarded,
		},
		"reconnected": {
			conds: []cond{verified, subscribed, contacts, history, synced, {v1.ConditionOffboarded, metav1.ConditionFalse, "ACCOUNT_RECONNECTED"}},
			phase: v1.PhaseActive, ready: metav1.ConditionTrue,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			n := &v1.CoexNumber{ObjectMeta: metav1.ObjectMeta{Generation: 3}}
			if tc.noHistory {
				n.Spec.Sync.History = &no
			}
			for _, c := range tc.conds {
				Set(n, c.typ, c.status, c.reason, "")
			}
			Summarize(n)
			if n.Status.Phase != tc.phase {
				t.Errorf("phase = %s, want %s", n.Status.Phase, tc.phase)
			}
			if n.Status.ObservedGeneration != 3 {
				t.Errorf("observedGeneration = %d, want 3", n.Status.ObservedGeneration)
			}
			ready := meta.FindStatusCondition(n.Status.Conditions, v1.ConditionReady)
			if ready == nil || ready.Status != tc.ready || ready.ObservedGeneration != 3 {
				t.Errorf("Ready = %+v, want %s", ready, tc.ready)
			}
			for typ, want := range map[string]string{v1.ConditionReconciling: tc.reconciling, v1.ConditionStalled: tc.stalled} {
				c := meta.FindStatusCondition(n.Status.Conditions, typ)
				switch {
				case want == "" && c != nil:
					t.Errorf("%s = %+v, want it absent", typ, c)
				case want != "" && (c == nil || c.Status != metav1.ConditionTrue || c.Reason != want):
					t.Errorf("%s = %+v, want True/%s", typ, c, want)
				}
			}
		})
	}
}

func TestSummarizeIsStable(t *testing.T) {
	n := &v1.CoexNumber{}
	Set(n, v1.ConditionVerified, metav1.ConditionTrue, ReasonCoexistenceConfirmed, "")
	Summarize(n)
	first := n.DeepCopy()
	Summarize(n)
	if len(n.Status.Conditions) != len(first.Status.Conditions) {
		t.Fatalf("a second Summarize changed the conditions: %+v", n.Status.Conditions)
	}
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i] != first.Status.Conditions[i] {
			t.Errorf("condition %d changed: %+v -> %+v", i, first.Status.Conditions[i], n.Status.Conditions[i])
		}
	}
}
