// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"context"
	"fmt"
	"time"

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
	// evidence describes what the receiver has recorded that only an accepted request of
	// this kind produces, or "" when it has recorded nothing.
	evidence func(*v1.CoexNumber) string
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
		request:  graph.Client.RequestContactsSync,
		evidence: contactsEvidence,
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
		request:  graph.Client.RequestHistorySync,
		evidence: historyEvidence,
	},
}

// contactsEvidence: contact additions or removals the receiver counted for this number (it
// never writes counts recorded for another UID).
func contactsEvidence(n *v1.CoexNumber) string {
	if c := n.Status.Contacts; c != nil && c.Added+c.Removed > 0 {
		return fmt.Sprintf("the receiver has recorded %d contacts webhook entries", c.Added+c.Removed)
	}
	return ""
}

// historyEvidence: history chunks, or the business's refusal to share, which Meta sends only
// in answer to a history sync request.
func historyEvidence(n *v1.CoexNumber) string {
	h := n.Status.History
	switch {
	case h == nil:
		return ""
	case h.Declined:
		return "the receiver has recorded the business declining to share its history"
	case h.Chunks > 0:
		return fmt.Sprintf("the receiver has recorded %d history chunks", h.Chunks)
	}
	return ""
}

// sync owns ContactsSyncRequested and HistorySyncRequested and makes each one-shot request at
// most once, crash-safe, like crossplane's create-pending mark (see requestOnce). Contacts go
// first: history is not requested until contacts is settled. Nothing is POSTed once a request
// is recorded, or past the deadline; a number past its window shows WindowExpired on every
// sync not yet settled.
func (r *CoexNumberReconciler) sync(ctx context.Context, st *numberState) (bool, error) {
	n := st.n
	deadline := n.SyncDeadline()
	waiting := false
	for _, s := range oneShots {
		if !s.wanted(n.Spec.Sync) {
			continue
		}
		rec := s.record(&n.Status)
		if rec.RequestedAt != nil {
			continue
		}
		// An unknown outcome is settled by evidence before anything else: webhooks that only
		// an accepted request produces. Only with an intent recorded: contacts webhooks for
		// changes made in the app could otherwise pass for an answer to a request never made.
		if why := s.evidence(n); why != "" && rec.IntentAt != nil {
			r.acceptedPerWebhooks(st, s, why)
			continue
		}
		if !st.now.Before(deadline.Time) {
			r.windowClosed(st, s, deadline)
			waiting = true
			continue
		}
		if waiting {
			continue
		}
		done, err := r.requestOnce(ctx, st, s)
		if err != nil {
			return false, err
		}
		if !done {
			waiting = true
			st.requeueAfter(deadline.Sub(st.now)) // to show WindowExpired on time
		}
	}
	return !waiting, nil
}

// acceptedPerWebhooks records a request whose outcome was unknown as accepted, on evidence.
func (r *CoexNumberReconciler) acceptedPerWebhooks(st *numberState, s oneShot, why string) {
	now := metav1.NewTime(st.now)
	s.record(&st.n.Status).RequestedAt = &now
	r.condition(st, s.condition, metav1.ConditionTrue, coexstatus.ReasonAcceptedPerWebhooks, fmt.Sprintf(
		"the %s sync request's answer was not received, but %s: Meta accepted it (no request id known)", s.kind, why))
}

// windowClosed says the window passed without a settled request. With an intent recorded the
// request may have been accepted (its webhooks may yet come), so that is said instead of
// asking the business to re-onboard on a guess.
func (r *CoexNumberReconciler) windowClosed(st *numberState, s oneShot, deadline metav1.Time) {
	at := deadline.UTC().Format(time.RFC3339)
	if rec := s.record(&st.n.Status); rec.IntentAt != nil {
		r.condition(st, s.condition, metav1.ConditionFalse, coexstatus.ReasonRequestUnconfirmed, fmt.Sprintf(
			"the %s sync was requested at %s but Meta's answer was never received, and the 24 h window closed at %s; "+
				"if %s webhooks arrive this settles by itself, otherwise the business must disconnect in the WhatsApp "+
				"Business app and onboard again", s.kind, rec.IntentAt.UTC().Format(time.RFC3339), at, s.kind))
		return
	}
	r.condition(st, s.condition, metav1.ConditionFalse, coexstatus.ReasonWindowExpired, fmt.Sprintf(
		"the %s sync was not requested before the 24 h window closed at %s; the business must disconnect "+
			"the number in the WhatsApp Business app (Settings > Account > Business Platform) and onboard "+
			"again through Embedded Signup, then apply a new CoexNumber", s.kind, at))
}
