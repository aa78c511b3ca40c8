// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/coex-operator/coex-operator/api/v1alpha1"
	"github.com/coex-operator/coex-operator/internal/coexstatus"
)

// A rebase puts the reconciler's fields onto the number as the API server has it. A sync's
// record and its condition travel together: a reconcile that worked from an older view (no
// outcome yet, "asking once more") must not leave its condition beside the outcome another
// reconcile recorded meanwhile, or the number shows OutcomeUnknown for ever; and an outcome
// this reconcile learned wins over an API server copy without one.
func TestRebaseKeepsASyncsRecordAndConditionTogether(t *testing.T) {
	intent := metav1.NewTime(time.Unix(1_750_000_000, 0))
	requested := metav1.NewTime(intent.Add(time.Second))
	withHistory := func(rec v1.SyncRequestRecord, reason string, status metav1.ConditionStatus) *v1.CoexNumber {
		n := &v1.CoexNumber{Status: v1.CoexNumberStatus{History: &v1.HistorySyncStatus{SyncRequestRecord: rec, Chunks: 4}}}
		coexstatus.Set(n, v1.ConditionHistorySyncRequested, status, reason, reason)
		return n
	}
	unknown := withHistory(v1.SyncRequestRecord{IntentAt: &intent}, coexstatus.ReasonOutcomeUnknown, metav1.ConditionFalse)
	recorded := withHistory(v1.SyncRequestRecord{IntentAt: &intent, RequestID: "h-1", RequestedAt: &requested},
		coexstatus.ReasonRequested, metav1.ConditionTrue)

	for name, tc := range map[string]struct {
		fresh, mine *v1.CoexNumber
	}{
		"mine is older: the API server's outcome and its condition stay": {fresh: recorded, mine: unknown},
		"mine learned the outcome: it is written":                        {fresh: unknown, mine: recorded},
	} {
		t.Run(name, func(t *testing.T) {
			dst := tc.fresh.DeepCopy()
			putReconcilerFields(dst, tc.mine.DeepCopy())
			if dst.Status.History.RequestedAt == nil || dst.Status.History.RequestID != "h-1" {
				t.Errorf("record %+v: the recorded outcome was lost", dst.Status.History.SyncRequestRecord)
			}
			if c := meta.FindStatusCondition(dst.Status.Conditions, v1.ConditionHistorySyncRequested); c == nil ||
				c.Reason != coexstatus.ReasonRequested {
				t.Errorf("condition %+v beside a recorded outcome, want Requested", c)
			}
			if dst.Status.History.Chunks != tc.fresh.Status.History.Chunks {
				t.Errorf("the receiver's chunks changed: %d", dst.Status.History.Chunks)
			}
		})
	}
}
