// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graphsim

import "net/http"

// Graph's subcode for a repeated one-shot sync (one public source; the message text is what
// most clients match). Whether Meta sends either is unknown: Options.RepeatSyncAnswer.
const subcodeAlreadyRequested = 2593107

// handleSMBAppData is POST /<PHONE_NUMBER_ID>/smb_app_data: the one-shot contacts or history
// sync. Each type is accepted once per onboarding and only within 24 h of it (by the
// simulated clock); an accepted request starts the webhooks in the background. A repeat is
// refused before a late request, each in the shape RepeatSyncAnswer picks.
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
	q.call.RequestID = reqID
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
	if rec, done := n.syncs[syncType]; done {
		return fail(errSyncRepeated(s.repeat, syncType, rec))
	}
	now := s.clock.Now()
	if now.Sub(n.gen.r.onboardedAt) > syncWindow {
		return fail(errSyncLate(s.repeat, n.gen.r.onboardedAt))
	}
	reqID := s.ids.requestID()
	n.syncs[syncType] = SyncRecord{RequestID: reqID, At: now}
	s.startSync(s.viewLocked(n), syncType)
	return reqID, nil
}
