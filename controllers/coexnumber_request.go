// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/coex-operator/coex-operator/internal/coexstatus"
	"github.com/coex-operator/coex-operator/internal/graph"
)

// requestOnce makes one one-shot request, the way crossplane creates what cannot be created
// twice, and reports whether it is now settled:
//
//  1. intentAt is written with a resourceVersion precondition (the fence) before the POST, so
//     two reconciles can never both believe they may POST;
//  2. the POST;
//  3. Meta's answer is written with writeStatus, which rebases on a fresh read and writes
//     again after a conflict, so no receiver write landing meanwhile can void it.
//
// An intentAt without an outcome (a crash, a lost answer) is an unknown outcome. sync first
// settles it from evidence (acceptedPerWebhooks); without evidence it is asked once more, and
// only a clear answer settles it: a request id, or Meta's refusal of a repeat on a
// non-transient 4xx (graph.IsAlreadyRequested). Any other 4xx to that second ask stalls the
// sync with RequestUnconfirmed, never a third POST. Failures that show the POST was not taken
// (auth, throttling) clear the intent; those that leave it open (5xx, a lost connection) keep
// it and retry with backoff until the deadline.
func (r *CoexNumberReconciler) requestOnce(ctx context.Context, st *numberState, s oneShot) (bool, error) {
	n := st.n
	reask := s.record(&n.Status).IntentAt != nil
	if c := meta.FindStatusCondition(n.Status.Conditions, s.condition); c != nil {
		switch {
		case reask && c.Reason == coexstatus.ReasonRequestUnconfirmed:
			return false, nil // settled only by webhooks or a human
		case !reask && c.Reason == coexstatus.ReasonSyncRefused && !st.forced:
			return false, nil // a forced reconcile asks again
		}
	}
	if reask {
		intent := s.record(&n.Status).IntentAt.UTC().Format(time.RFC3339)
		r.condition(st, s.condition, metav1.ConditionFalse, coexstatus.ReasonOutcomeUnknown, fmt.Sprintf(
			"the %s sync was requested at %s without a recorded answer, and no %s webhooks have arrived; "+
				"asking once more", s.kind, intent, s.kind))
	} else {
		intent := metav1.NewTime(st.now)
		s.record(&n.Status).IntentAt = &intent
		r.condition(st, s.condition, metav1.ConditionFalse, coexstatus.ReasonRequesting,
			fmt.Sprintf("requesting the %s sync", s.kind))
	}
	// The fence: it fails when the number changed since it was read, so a reconcile working
	// from a stale cache (which may miss a recorded outcome) never POSTs.
	if err := r.fence(ctx, st); err != nil {
		return false, err
	}

	req, err := s.request(st.graph, ctx, st.token, n.Spec.PhoneNumberID)
	countSyncRequest(s.kind, err)
	now := metav1.NewTime(r.Clock.Now())
	rec := s.record(&n.Status)
	switch {
	case err == nil:
		rec.RequestID, rec.RequestedAt = req.RequestID, &now
		r.condition(st, s.condition, metav1.ConditionTrue, coexstatus.ReasonRequested, requestedMessage(s.kind, req.RequestID))
	case graph.IsAlreadyRequested(err):
		rec.RequestedAt = &now
		r.condition(st, s.condition, metav1.ConditionTrue, coexstatus.ReasonAlreadyRequested,
			fmt.Sprintf("Meta says the %s sync was already requested for this onboarding: %v", s.kind, err))
	case graph.NotTaken(err):
		// Refused before it was acted on. A first ask left nothing pending at Meta, so the
		// next ask is a first again. A re-ask leaves the earlier ask's outcome as unknown as
		// it was: the intent stays, and the next ask is still the one re-ask.
		if !reask {
			rec.IntentAt = nil
		}
		r.graphFailed(st, s.condition, fmt.Sprintf("cannot request the %s sync", s.kind), err)
	case graph.IsTransient(err):
		// A 5xx or a lost connection: Meta may have acted. Keep the intent; evidence or one
		// more ask settles it.
		r.condition(st, s.condition, metav1.ConditionFalse, coexstatus.ReasonOutcomeUnknown, fmt.Sprintf(
			"the %s sync request's outcome is unknown (%v); %s webhooks will settle it, or it is asked once more",
			s.kind, err, s.kind))
		st.requeueAfter(retryTransient)
	case reask:
		r.condition(st, s.condition, metav1.ConditionFalse, coexstatus.ReasonRequestUnconfirmed, fmt.Sprintf(
			"asked again after an unknown outcome, Meta answered %v: neither a request id nor a refusal that says "+
				"it was already requested. Not asking a third time. If %s webhooks arrive this settles by itself; "+
				"otherwise check with Meta whether the %s sync was accepted, and if not, the business must "+
				"disconnect in the WhatsApp Business app and onboard again", err, s.kind, s.kind))
	case graph.IsWindowExpired(err):
		rec.IntentAt = nil
		r.condition(st, s.condition, metav1.ConditionFalse, coexstatus.ReasonWindowExpired, fmt.Sprintf(
			"Meta refused the %s sync: the 24 h window after onboarding has passed (%v); the business must "+
				"disconnect in the WhatsApp Business app and onboard again", s.kind, err))
	default:
		// A permanent 4xx to a first ask: Meta refused it, and asking again every few
		// minutes would get the same answer. Terminal; a forced reconcile asks again.
		rec.IntentAt = nil
		r.condition(st, s.condition, metav1.ConditionFalse, coexstatus.ReasonSyncRefused, fmt.Sprintf(
			"Meta refused the %s sync request: %v; fix the cause, then set the %s annotation to ask again",
			s.kind, err, AnnotationReconcileRequestedAt))
	}
	if werr := r.writeStatus(ctx, st); werr != nil {
		return false, werr
	}
	return s.record(&n.Status).RequestedAt != nil, nil
}

// requestedMessage says a sync was requested, with Meta's request id when its answer had one.
func requestedMessage(kind, requestID string) string {
	if requestID == "" {
		return fmt.Sprintf("%s sync requested (Meta answered 2xx without a readable request id)", kind)
	}
	return fmt.Sprintf("%s sync requested (request id %s)", kind, requestID)
}
