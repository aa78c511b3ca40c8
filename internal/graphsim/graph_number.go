// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graphsim

import (
	"net/http"
	"strings"
)

// phoneFields are the fields of a phone number node the simulator knows; Graph's default
// set comes when the call names none.
var (
	phoneFields = map[string]bool{
		"id": true, "display_phone_number": true, "verified_name": true, "code_verification_status": true,
		"quality_rating": true, "platform_type": true, "throughput": true, "is_on_biz_app": true,
		"name_status": true, "messaging_limit_tier": true,
	}
	defaultPhoneFields = "verified_name,code_verification_status,display_phone_number,quality_rating,platform_type,throughput,id"
	wabaNodeFields     = map[string]bool{"id": true, "name": true, "owner_business_info": true}
)

// handleGetNode is GET /<id>?fields=…: a phone number (the onboarding check asks
// is_on_biz_app,platform_type) or a WABA.
func (s *Sim) handleGetNode(q *graphRequest) {
	p, ok := s.authenticate(q)
	if !ok {
		return
	}
	id := q.segs[0]
	s.mu.Lock()
	n, w := s.numbers[id], s.wabas[id]
	var out map[string]any
	var gerr *graphError
	switch {
	case n != nil && !p.canTouchWABA(n.wabaID):
		e := errPermission("phone number " + id)
		gerr = &e
	case n != nil:
		out, gerr = phoneNode(n, q.params["fields"])
	case w != nil && !p.canTouchWABA(id):
		e := errPermission("WhatsApp Business Account " + id)
		gerr = &e
	case w != nil:
		out, gerr = wabaNode(w, q.params["fields"])
	default:
		e := errUnsupported(http.MethodGet, id)
		gerr = &e
	}
	s.mu.Unlock()
	if gerr != nil {
		s.writeGraphError(q, *gerr)
		return
	}
	writeJSON(q.w, http.StatusOK, out)
}

// splitFields reads Graph's fields parameter ("a,b,c{x}"), dropping nested selections.
func splitFields(raw string) []string {
	var out []string
	depth, start := 0, 0
	flush := func(end int) {
		if f := strings.TrimSpace(raw[start:end]); f != "" {
			if i := strings.IndexByte(f, '{'); i >= 0 {
				f = f[:i]
			}
			out = append(out, f)
		}
	}
	for i, c := range raw {
		switch c {
		case '{':
			depth++
		case '}':
			depth--
		case ',':
			if depth == 0 {
				flush(i)
				start = i + 1
			}
		}
	}
	flush(len(raw))
	return out
}

func nonexistingField(field, node string) *graphError {
	e := errParam("Tried accessing nonexisting field (%s) on node type (%s)", field, node)
	return &e
}

func phoneNode(n *number, fields string) (map[string]any, *graphError) {
	if fields == "" {
		fields = defaultPhoneFields
	}
	r := n.gen.r
	out := map[string]any{"id": n.id}
	for _, f := range splitFields(fields) {
		if !phoneFields[f] {
			return nil, nonexistingField(f, "WhatsAppBusinessPhoneNumber")
		}
		switch f {
		case "display_phone_number":
			out[f] = formatDisplay(r.display, r.cc)
		case "verified_name":
			out[f] = "Sim Business " + n.id
		case "code_verification_status":
			out[f] = "VERIFIED"
		case "quality_rating":
			out[f] = "GREEN"
		case "platform_type":
			out[f] = r.platform
		case "throughput":
			out[f] = map[string]string{"level": "STANDARD"}
		case "is_on_biz_app":
			out[f] = r.onBizApp
		case "name_status":
			out[f] = "APPROVED"
		case "messaging_limit_tier":
			out[f] = "TIER_1K"
		}
	}
	return out, nil
}

// formatDisplay writes a number as Graph shows it: "+234 8012345678".
func formatDisplay(digits, cc string) string {
	if strings.HasPrefix(digits, cc) && len(digits) > len(cc) {
		return "+" + cc + " " + digits[len(cc):]
	}
	return "+" + digits
}

func wabaNode(w *waba, fields string) (map[string]any, *graphError) {
	if fields == "" {
		fields = "id,name"
	}
	out := map[string]any{"id": w.id}
	for _, f := range splitFields(fields) {
		switch {
		case !wabaNodeFields[f]:
			return nil, nonexistingField(f, "WhatsAppBusinessAccount")
		case f == "name":
			out[f] = w.name
		case f == "owner_business_info":
			out[f] = map[string]string{"id": w.ownerBusinessID, "name": "Sim Business"}
		}
	}
	return out, nil
}

// handleDeregister is POST /<phone>/deregister, which Meta refuses for a number in use with
// the WhatsApp Business app: the business disconnects it from the app instead. The call is
// recorded either way, so a test can assert the operator never makes it.
func (s *Sim) handleDeregister(q *graphRequest) {
	p, ok := s.authenticate(q)
	if !ok {
		return
	}
	id := q.segs[0]
	s.mu.Lock()
	n := s.numbers[id]
	var gerr *graphError
	switch {
	case n == nil:
		e := errUnsupported(http.MethodPost, id)
		gerr = &e
	case !p.canTouchWABA(n.wabaID):
		e := errPermission("phone number " + id)
		gerr = &e
	case n.coexistence():
		e := errParam("This phone number is in use with the WhatsApp Business app and cannot be deregistered " +
			"through the Cloud API; the business disconnects it in the app.")
		gerr = &e
	}
	s.mu.Unlock()
	if gerr != nil {
		s.writeGraphError(q, *gerr)
		return
	}
	writeJSON(q.w, http.StatusOK, map[string]bool{"success": true})
}
