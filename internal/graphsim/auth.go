// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graphsim

import "strings"

// principal is who a Graph call acts as.
type principal struct {
	appID string
	// appToken: the call used "<APP_ID>|<APP_SECRET>", which reaches the app's own settings
	// but no WABA.
	appToken bool
	wabas    map[string]bool
}

func (p principal) canTouchWABA(id string) bool { return !p.appToken && p.wabas[id] }

// bearerToken finds the access token: "Authorization: Bearer <t>" (also "OAuth <t>" or the
// bare token, as one of Meta's own examples sends), else the access_token parameter.
func bearerToken(q *graphRequest) string {
	if h := strings.TrimSpace(q.r.Header.Get("Authorization")); h != "" {
		for _, scheme := range []string{"Bearer ", "bearer ", "OAuth "} {
			if strings.HasPrefix(h, scheme) {
				return strings.TrimSpace(h[len(scheme):])
			}
		}
		return h
	}
	return q.params["access_token"]
}

// authenticate checks the call's token; on failure it has answered 401 and returns false.
func (s *Sim) authenticate(q *graphRequest) (principal, bool) {
	tok := bearerToken(q)
	s.mu.Lock()
	p, ok := s.principalLocked(tok)
	s.mu.Unlock()
	if !ok {
		s.writeGraphError(q, errInvalidToken)
		return principal{}, false
	}
	if q.call.AppID == "" {
		q.call.AppID = p.appID
	}
	return p, true
}

func (s *Sim) principalLocked(tok string) (principal, bool) {
	if tok == "" {
		return principal{}, false
	}
	if i := strings.IndexByte(tok, '|'); i > 0 {
		if ap := s.apps[tok[:i]]; ap != nil && ap.secret == tok[i+1:] {
			return principal{appID: ap.id, appToken: true}, true
		}
		return principal{}, false
	}
	g := s.tokens[tok]
	if g == nil || s.apps[g.appID] == nil {
		return principal{}, false
	}
	return principal{appID: g.appID, wabas: g.wabas}, true
}
