// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graphsim

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/coex-operator/coex-operator/internal/webhook"
)

const objectWABA = webhook.ObjectWABA

// wabaFields are the webhook fields Graph accepts for whatsapp_business_account; anything
// else is refused, as Graph does, so a typo in a client's field list shows up in tests.
var wabaFields = map[string]bool{
	"account_alerts": true, "account_review_update": true, "account_update": true,
	"business_capability_update": true, "business_status_update": true, "calls": true, "flows": true,
	"history": true, "message_echoes": true, "message_template_components_update": true,
	"message_template_quality_update": true, "message_template_status_update": true, "messages": true,
	"messaging_handovers": true, "partner_solutions": true, "payment_configuration_update": true,
	"phone_number_name_update": true, "phone_number_quality_update": true, "security": true,
	"smb_app_state_sync": true, "smb_message_echoes": true, "template_category_update": true,
	"user_preferences": true,
}

// appOf checks that the call used the app token of the app in the path.
func (s *Sim) appOf(q *graphRequest) (*app, bool) {
	p, ok := s.authenticate(q)
	if !ok {
		return nil, false
	}
	id := q.segs[0]
	s.mu.Lock()
	ap := s.apps[id]
	s.mu.Unlock()
	switch {
	case !p.appToken:
		s.writeGraphError(q, errAppTokenRequired())
	case ap == nil:
		s.writeGraphError(q, errUnsupported(q.r.Method, id))
	case p.appID != id:
		s.writeGraphError(q, errPermission("app "+id))
	default:
		return ap, true
	}
	return nil, false
}

// parseFields reads a fields parameter: a JSON array or a comma-separated list.
func parseFields(raw string) ([]string, bool) {
	raw = strings.TrimSpace(raw)
	var out []string
	if strings.HasPrefix(raw, "[") {
		if json.Unmarshal([]byte(raw), &out) != nil {
			return nil, false
		}
	} else {
		out = strings.Split(raw, ",")
	}
	fields := out[:0]
	for _, f := range out {
		if f = strings.TrimSpace(f); f != "" {
			fields = append(fields, f)
		}
	}
	return fields, len(fields) > 0
}

// handleGetAppSubscriptions is GET /<APP_ID>/subscriptions with the app token, a page at a
// time by object.
func (s *Sim) handleGetAppSubscriptions(q *graphRequest) {
	ap, ok := s.appOf(q)
	if !ok {
		return
	}
	type field struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	}
	type sub struct {
		Object      string  `json:"object"`
		CallbackURL string  `json:"callback_url"`
		Active      bool    `json:"active"`
		Fields      []field `json:"fields"`
	}
	data := []sub{}
	s.mu.Lock()
	objects, pg, gerr := s.pageOf(q, slices.Sorted(maps.Keys(ap.subs)))
	for _, obj := range objects {
		a := ap.subs[obj]
		e := sub{Object: obj, CallbackURL: a.callbackURL, Active: true, Fields: []field{}}
		for _, f := range a.fields {
			e.Fields = append(e.Fields, field{f.name, f.version})
		}
		data = append(data, e)
	}
	s.mu.Unlock()
	if gerr != nil {
		s.writeGraphError(q, *gerr)
		return
	}
	writeJSON(q.w, http.StatusOK, listing{Data: data, Paging: pg})
}

// handleSetAppSubscription is POST /<APP_ID>/subscriptions: like Meta, it first verifies the
// callback URL with the handshake, then sets the URL and adds the fields.
func (s *Sim) handleSetAppSubscription(q *graphRequest) {
	ap, ok := s.appOf(q)
	if !ok {
		return
	}
	object, callback, verify := q.params["object"], q.params["callback_url"], q.params["verify_token"]
	fields, hasFields := parseFields(q.params["fields"])
	switch {
	case object == "":
		s.writeGraphError(q, errParam("The parameter object is required"))
		return
	case object != objectWABA:
		s.writeGraphError(q, errParam("Param object must be %s (the only object this simulator serves)", objectWABA))
		return
	case callback == "":
		s.writeGraphError(q, errParam("The parameter callback_url is required"))
		return
	case verify == "":
		s.writeGraphError(q, errParam("The parameter verify_token is required"))
		return
	case !hasFields:
		s.writeGraphError(q, errParam("The parameter fields is required"))
		return
	}
	for i, f := range fields {
		if !wabaFields[f] {
			s.writeGraphError(q, errParam("Param fields[%d] must be one of the %s fields - got \"%s\"", i, objectWABA, f))
			return
		}
	}
	if err := s.verifyCallback(q.r.Context(), callback, verify); err != nil {
		s.writeGraphError(q, errCallbackVerification(err))
		return
	}
	s.mu.Lock()
	sub := ap.subs[object]
	if sub == nil {
		sub = &appSubscription{}
		ap.subs[object] = sub
	}
	sub.callbackURL = callback
	sub.merge(fields, q.version)
	s.mu.Unlock()
	writeJSON(q.w, http.StatusOK, map[string]bool{"success": true})
}

// handleDeleteAppSubscription is DELETE /<APP_ID>/subscriptions: drops the given fields, or
// the object's whole subscription when none are given.
func (s *Sim) handleDeleteAppSubscription(q *graphRequest) {
	ap, ok := s.appOf(q)
	if !ok {
		return
	}
	object := q.params["object"]
	if object == "" {
		object = objectWABA
	}
	fields, hasFields := parseFields(q.params["fields"])
	s.mu.Lock()
	if sub := ap.subs[object]; sub != nil {
		if !hasFields {
			delete(ap.subs, object)
		} else {
			sub.fields = slices.DeleteFunc(sub.fields, func(f fieldVersion) bool { return slices.Contains(fields, f.name) })
		}
	}
	s.mu.Unlock()
	writeJSON(q.w, http.StatusOK, map[string]bool{"success": true})
}
