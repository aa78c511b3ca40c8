// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graphsim

import "net/http"

// handleExchangeCode is GET /oauth/access_token?client_id&client_secret&code: an Embedded
// Signup code, single-use, for a business token scoped to the number's WABA.
func (s *Sim) handleExchangeCode(q *graphRequest) {
	clientID, secret, code := q.params["client_id"], q.params["client_secret"], q.params["code"]
	q.call.AppID = clientID
	tok, bare, gerr := s.exchange(q, clientID, secret, code)
	if gerr != nil {
		s.writeGraphError(q, *gerr)
		return
	}
	if bare {
		writeText(q.w, http.StatusOK, "text/plain; charset=UTF-8", tok)
		return
	}
	writeJSON(q.w, http.StatusOK, map[string]string{"access_token": tok, "token_type": "bearer"})
}

func (s *Sim) exchange(q *graphRequest, clientID, secret, code string) (string, bool, *graphError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case clientID == "":
		return "", false, &graphError{status: http.StatusBadRequest, code: 101, message: "Missing client_id parameter."}
	case code == "":
		return "", false, &graphError{status: http.StatusBadRequest, code: 100, message: "Missing code parameter."}
	}
	ap := s.apps[clientID]
	if ap == nil {
		return "", false, &graphError{status: http.StatusBadRequest, code: 101,
			message: "Error validating application. Invalid application ID."}
	}
	if ap.secret != secret {
		return "", false, &graphError{status: http.StatusBadRequest, code: 1, message: "Error validating client secret."}
	}
	c := s.codes[code]
	if c == nil || c.appID != clientID {
		return "", false, &graphError{status: http.StatusBadRequest, code: 100, subcode: 36008,
			message: "Invalid verification code format."}
	}
	if n := s.numbers[c.phoneID]; n != nil {
		q.call.PhoneNumberID, q.call.WABAID = n.id, n.wabaID
	}
	if c.used {
		return "", false, &graphError{status: http.StatusBadRequest, code: 100, subcode: 36009,
			message: "This authorization code has been used."}
	}
	if ttl := s.opts.SignupCodeTTL; ttl > 0 && s.clock.Now().Sub(c.issued) > ttl {
		return "", false, &graphError{status: http.StatusBadRequest, code: 100, subcode: 36007,
			message: "This authorization code has expired."}
	}
	c.used = true
	tok := s.ids.token()
	g := &grant{appID: clientID, wabas: map[string]bool{}}
	if n := s.numbers[c.phoneID]; n != nil {
		g.wabas[n.wabaID] = true
	}
	s.tokens[tok] = g
	return tok, ap.bareToken, nil
}
