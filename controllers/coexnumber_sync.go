// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/coex-operator/coex-operator/api/v1alpha1"
	"github.com/coex-operator/coex-operator/internal/coexstatus"
	"github.com/coex-operator/coex-operator/internal/graph"
)

// oneShot is one of the two smb_app_data syncs Meta accepts once per onboarding.
type oneShot struct {
	kind      string // for messages: "contacts", "history"
	condition string
	wanted    func(v1.SyncSpec) bool
	record    func(*v1.CoexNumberStatus) *v1.SyncRequestRecord
	request   func(graph.Client, context.Context, graph.Secret, string) (graph.SyncRequest, error)
}

// oneShots in the order Meta asks for: contacts first, then history.
var oneShots = []oneShot{
	{
		kind: "contacts", condition: v1.ConditionContactsSyncRequested,
		wanted: v1.SyncSpec.WantsContactsSync,
		record: func(s *v1.CoexNumberStatus) *v1.SyncRequestRecord {
			if s.Contacts == nil {
				s.Contacts = &v1.ContactsSyncStatus{}
			}
			return &s.Contacts.SyncRequestRecord
		},
		request: graph.Client.RequestContactsSync,
	},
	{
		kind: "history", condition: v1.ConditionHistorySyncRequested,
		wanted: v1.SyncSpec.WantsHistorySync,
		record: func(s *v1.CoexNumberStatus) *v1.SyncRequestRecord {
			if s.History == nil {
				s.History = &v1.HistorySyncStatus{}
			}
			return &s.History.SyncRequestRecord
		},
		request: graph.Client.RequestHistorySync,
	},
}

// sync owns ContactsSyncRequested and HistorySyncRequested and makes each one-shot request at
// most once, crash-safe, like crossplane's create-pending mark:
//
//  1. the intent (intentAt) is written to status with an optimistic-concurrency patch before
//     the POST, so two writers can never both believe they may POST;
//  2. the POST;
//  3. the request id, written after. If that write is lost (a crash, a conflict), the next
//     reconcile finds an intent without an outcome, asks again, and treats Meta's "already
//     requested" as done: the request is made once and never missed.
//
// Nothing is POSTed once a request is recorded, for a suspended number, or past the deadline.
func (r *CoexNumberReconciler) sync(ctx context.Context, st *numberState) (bool, error) {
	n := st.n
	deadline := n.SyncDeadline()
	for _, s := range oneShots {
		if !s.wanted(n.Spec.Sync) {
			continue
		}
		rec := s.record(&n.Status)
		if rec.RequestedAt != nil {
			continue
		}
		if !st.now.Before(deadline.Time) {
			r.condition(st, s.condition, metav1.ConditionFalse, coexstatus.ReasonWindowExpired, fmt.Sprintf(
				"the %s sync was not requested before the 24 h window closed at %s; the business must disconnect "+
					"the number in the WhatsApp Business app (Settings > Account > Business Platform) and onboard "+
					"again through Embedded Signup, then apply a new CoexNumber",
				s.kind, deadline.UTC().Format("2006-01-02T15:04:05Z")))
			return false, nil
		}
		if n.Spec.Suspend {
			r.condition(st, s.condition, metav1.ConditionFalse, coexstatus.ReasonWaiting,
				fmt.Sprintf("suspended: the %s sync is not requested until spec.suspend is false (deadline %s)",
					s.kind, deadline.UTC().Format("2006-01-02T15:04:05Z")))
			return false, nil
		}
		if done, err := r.requestOnce(ctx, st, s); !done || err != nil {
			st.requeueAfter(deadline.Sub(st.now))
			return false, err
		}
	}
	return true, nil
}

// requestOnce records the intent, POSTs, and records the outcome. It reports whether the
// request is now known to be made. A status write decodes the API server's answer into st.n,
// so the record is looked up again after each write rather than held across it.
func (r *CoexNumberReconciler) requestOnce(ctx context.Context, st *numberState, s oneShot) (bool, error) {
	n := st.n
	if rec := s.record(&n.Status); rec.IntentAt == nil {
		intent := metav1.NewTime(st.now)
		rec.IntentAt = &intent
		r.condition(st, s.condition, metav1.ConditionFalse, coexstatus.ReasonRequesting,
			fmt.Sprintf("requesting the %s sync", s.kind))
		if err := r.writeStatus(ctx, st); err != nil {
			return false, err // no POST without a recorded intent
		}
	} else {
		// An intent without an outcome: a crash or a lost write after an earlier POST, or
		// merely a stale cache that has not seen the outcome yet. The fence tells them apart:
		// it fails on a stale object, and the next reconcile sees the recorded outcome.
		r.condition(st, s.condition, metav1.ConditionFalse, coexstatus.ReasonOutcomeUnknown, fmt.Sprintf(
			"a %s sync request was started at %s without a recorded outcome; asking again, Meta's "+
				"\"already requested\" counts as done", s.kind, rec.IntentAt.UTC().Format("2006-01-02T15:04:05Z")))
		if err := r.fence(ctx, st); err != nil {
			return false, err
		}
	}

	req, err := s.request(st.graph, ctx, st.token, n.Spec.PhoneNumberID)
	countSyncRequest(s.kind, err)
	now := metav1.NewTime(r.Clock.Now())
	rec := s.record(&n.Status)
	switch {
	case err == nil:
		rec.RequestID, rec.RequestedAt = req.RequestID, &now
		r.condition(st, s.condition, metav1.ConditionTrue, coexstatus.ReasonRequested,
			fmt.Sprintf("%s sync requested (request id %s)", s.kind, req.RequestID))
	case graph.IsAlreadyRequested(err):
		rec.RequestedAt = &now
		r.condition(st, s.condition, metav1.ConditionTrue, coexstatus.ReasonAlreadyRequested,
			fmt.Sprintf("Meta says the %s sync was already requested for this onboarding", s.kind))
	case graph.IsWindowExpired(err):
		r.condition(st, s.condition, metav1.ConditionFalse, coexstatus.ReasonWindowExpired, fmt.Sprintf(
			"Meta refused the %s sync: the 24 h window after onboarding has passed (%v); the business must "+
				"disconnect in the WhatsApp Business app and onboard again", s.kind, err))
		r.event(n, corev1.EventTypeWarning, coexstatus.ReasonReonboardRequired, s.condition,
			"the sync window has passed: the business must re-onboard")
		return false, nil
	default:
		return r.graphFailed(st, s.condition, fmt.Sprintf("cannot request the %s sync", s.kind), err), nil
	}
	return true, r.writeStatus(ctx, st)
}
