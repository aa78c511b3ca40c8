// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graphsim

import (
	"maps"
	"net/http"
	"slices"
)

// maxOverrideURI is Graph's limit on override_callback_uri.
const maxOverrideURI = 200

// wabaFor finds the WABA a business token may touch, or the error Graph gives.
func (s *Sim) wabaForLocked(p principal, method, id string) (*waba, *graphError) {
	w := s.wabas[id]
	if w == nil {
		e := errUnsupported(method, id)
		return nil, &e
	}
	if !p.canTouchWABA(id) {
		e := errPermission("WhatsApp Business Account " + id)
		return nil, &e
	}
	return w, nil
}

// handleSubscribeApp is POST /<WABA_ID>/subscribed_apps: subscribes the token's app to the
// WABA's webhooks, optionally at an override callback URI (verified like the app's URL).
func (s *Sim) handleSubscribeApp(q *graphRequest) {
	p, ok := s.authenticate(q)
	if !ok {
		return
	}
	id := q.segs[0]
	s.mu.Lock()
	_, gerr := s.wabaForLocked(p, http.MethodPost, id)
	s.mu.Unlock()
	if gerr != nil {
		s.writeGraphError(q, *gerr)
		return
	}
	override, verify := q.params["override_callback_uri"], q.params["verify_token"]
	if override != "" {
		switch {
		case len(override) > maxOverrideURI:
			s.writeGraphError(q, errParam("Param override_callback_uri must be at most %d characters long", maxOverrideURI))
			return
		case checkCallbackURL(override) != nil:
			s.writeGraphError(q, errParam("Param override_callback_uri must be a valid URL"))
			return
		case verify == "":
			s.writeGraphError(q, errParam("Param verify_token is required with override_callback_uri"))
			return
		}
		if err := s.verifyCallback(q.r.Context(), override, verify); err != nil {
			s.writeGraphError(q, errCallbackVerification(err))
			return
		}
	}
	s.mu.Lock()
	if w := s.wabas[id]; w != nil {
		w.apps[p.appID] = &wabaSubscription{overrideURI: override}
	}
	s.mu.Unlock()
	writeJSON(q.w, http.StatusOK, map[string]bool{"success": true})
}

// handleListSubscribedApps is GET /<WABA_ID>/subscribed_apps, a page at a time by app id.
func (s *Sim) handleListSubscribedApps(q *graphRequest) {
	p, ok := s.authenticate(q)
	if !ok {
		return
	}
	type apiData struct {
		ID   string `json:"id"`
		Link string `json:"link"`
		Name string `json:"name"`
	}
	type entry struct {
		Data     apiData `json:"whatsapp_business_api_data"`
		Override string  `json:"override_callback_uri,omitempty"`
	}
	s.mu.Lock()
	w, gerr := s.wabaForLocked(p, http.MethodGet, q.segs[0])
	data := []entry{}
	var pg *paging
	if gerr == nil {
		var ids []string
		ids, pg, gerr = s.pageOf(q, slices.Sorted(maps.Keys(w.apps)))
		for _, appID := range ids {
			e := entry{Data: apiData{ID: appID}, Override: w.apps[appID].overrideURI}
			if ap := s.apps[appID]; ap != nil {
				e.Data.Link, e.Data.Name = ap.link, ap.name
			}
			data = append(data, e)
		}
	}
	s.mu.Unlock()
	if gerr != nil {
		s.writeGraphError(q, *gerr)
		return
	}
	writeJSON(q.w, http.StatusOK, listing{Data: data, Paging: pg})
}

// listing is a page of a Graph edge: {"data":[…],"paging":{…}}.
type listing struct {
	Data   any     `json:"data"`
	Paging *paging `json:"paging,omitempty"`
}

// handleUnsubscribeApp is DELETE /<WABA_ID>/subscribed_apps: the token's app stops getting
// the WABA's webhooks.
func (s *Sim) handleUnsubscribeApp(q *graphRequest) {
	p, ok := s.authenticate(q)
	if !ok {
		return
	}
	s.mu.Lock()
	w, gerr := s.wabaForLocked(p, http.MethodDelete, q.segs[0])
	if gerr == nil {
		delete(w.apps, p.appID)
	}
	s.mu.Unlock()
	if gerr != nil {
		s.writeGraphError(q, *gerr)
		return
	}
	writeJSON(q.w, http.StatusOK, map[string]bool{"success": true})
}
