// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graphsim

import (
	"net/http"
	"time"
)

// Graph's subcode for a repeated one-shot sync (one public source; the message text is what
// most clients match).
const subcodeAlreadyRequested = 2593107

// handleSMBAppData is POST /<PHONE_NUMBER_ID>/smb_app_data: the one-shot contacts or history
// sync. Each type is accepted once per onboarding and only within 24 h of it (by the
// simulated clock); an accepted request starts the webhooks in the background.
func (s *Sim) handleSMBAppData(q *graphRequest) {
	p, ok := s.authenticate(q)
	if !ok {
		return
	}
	id, syncType := q.segs[0], q.params["sync_type"]
	s.mu.Lock()
	reqID, gerr := s.acceptSyncLocked(p, id, q.params["messaging_product"], syncType)
	s.mu.Unlock()
	if gerr != nil {
		s.writeGraphError(q, *gerr)
		return
	}
	writeJSON(q.w, http.StatusOK, map[string]string{"messaging_product": "whatsapp", "request_id": reqID})
}

func (s *Sim) acceptSyncLocked(p principal, id, product, syncType string) (string, *graphError) {
	fail := func(e graphError) (string, *graphError) { return "", &e }
	n := s.numbers[id]
	switch {
	case n == nil:
		return fail(errUnsupported(http.MethodPost, id))
	case !p.canTouchWABA(n.wabaID):
		return fail(errPermission("phone number " + id))
	case product != "whatsapp":
		return fail(errParam("The parameter messaging_product is required and must be \"whatsapp\""))
	case syncType != SyncContacts && syncType != SyncHistory:
		return fail(errParam("Param sync_type must be one of {%s, %s} - got \"%s\"", SyncContacts, SyncHistory, syncType))
	case !n.coexistence():
		return fail(errParam("smb_app_data is only available for numbers onboarded from the WhatsApp Business app"))
	}
	label := map[string]string{SyncContacts: "contacts (smb_app_state_sync)", SyncHistory: "message history"}[syncType]
	if rec, done := n.syncs[syncType]; done {
		e := errParam("The %s sync was already requested for this onboarding (request %s). It can be requested "+
			"only once; to request it again the business must offboard and onboard again.", label, rec.RequestID)
		e.subcode = subcodeAlreadyRequested
		return fail(e)
	}
	now := s.clock.Now()
	if now.Sub(n.gen.r.onboardedAt) > syncWindow {
		return fail(errParam("Business app data can only be synchronized within 24 hours of onboarding, and that "+
			"window has expired (onboarded %s). The business must offboard and onboard again.",
			n.gen.r.onboardedAt.Format(time.RFC3339)))
	}
	reqID := s.ids.requestID()
	n.syncs[syncType] = SyncRecord{RequestID: reqID, At: now}
	s.startSync(s.viewLocked(n), syncType)
	return reqID, nil
}
