// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graphsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// versionRE matches a Graph version path segment such as v23.0.
var versionRE = regexp.MustCompile(`^v[0-9]+\.[0-9]+$`)

// maxParamBody bounds a Graph request body; Graph's are small.
const maxParamBody = 1 << 20

func (s *Sim) routes() http.Handler {
	mux := http.NewServeMux()
	s.controlRoutes(mux)
	mux.HandleFunc("/", s.serveGraph)
	return mux
}

// graphRequest is one Graph call being served.
type graphRequest struct {
	w       http.ResponseWriter
	r       *http.Request
	version string
	segs    []string // path segments after the version
	params  map[string]string
	call    *Call
}

// statusWriter remembers the status for the call record.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// serveGraph serves one Graph call: route, record, then latency and faults (before any side
// effect), then the endpoint.
func (s *Sim) serveGraph(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w}
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	q := &graphRequest{w: sw, r: r, version: s.opts.DefaultVersion, segs: segs}
	if len(segs) > 0 && versionRE.MatchString(segs[0]) {
		q.version, q.segs = segs[0], segs[1:]
	}
	params, perr := readParams(r)
	q.params = params
	name, handle := s.route(q)
	q.call = &Call{
		At: s.clock.Now(), Wall: time.Now(), Name: name, Method: r.Method, Path: r.URL.Path, Version: q.version,
	}
	s.noteIDs(q)
	defer func() {
		q.call.Status = sw.status
		q.call.AnsweredAt, q.call.AnsweredWall = s.clock.Now(), time.Now()
		s.calls.add(*q.call)
	}()

	kind, latency, retryAfter := s.faults.decide(name, q.call.PhoneNumberID)
	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-r.Context().Done():
			t.Stop()
			sw.status = 499 // client went away, as nginx records it
			return
		case <-t.C:
		}
	}
	switch {
	case kind == FaultLostResponse:
		held := &heldWriter{h: http.Header{}} // written nowhere
		q.w = held
		if perr == nil {
			handle(q)
		}
		q.w = sw
		q.call.Accepted = is2xx(held.status)
		// The record's error fields describe what the client got: a proxy's page, no code.
		q.call.ErrorCode, q.call.ErrorSubcode = 0, 0
		s.writeFault(q, kind, retryAfter)
		return
	case kind != "":
		s.writeFault(q, kind, retryAfter)
		return
	case perr != nil:
		s.writeGraphError(q, errParam("%v", perr))
		return
	case s.opts.BeforeAnswer != nil:
		s.handleHeld(q, sw, handle)
		return
	}
	handle(q)
	q.call.Accepted = is2xx(sw.status)
}

// is2xx reports whether the simulator's own answer was a success: the call took effect.
func is2xx(status int) bool { return status >= 200 && status < 300 }

// handleHeld serves a call with its answer held back until Options.BeforeAnswer has seen it:
// the call has taken effect at "Meta", and the client does not know yet.
func (s *Sim) handleHeld(q *graphRequest, sw *statusWriter, handle func(*graphRequest)) {
	held := &heldWriter{h: http.Header{}}
	q.w = held
	handle(q)
	q.w = sw
	q.call.Accepted = is2xx(held.status)
	c := *q.call
	c.Status = held.status
	s.opts.BeforeAnswer(c)
	for k, v := range held.h {
		sw.Header()[k] = v
	}
	sw.WriteHeader(held.status)
	_, _ = sw.Write(held.body.Bytes())
}

// heldWriter keeps an answer, to write it later or not at all (a lost_response fault lets
// the call happen and then answers something else).
type heldWriter struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func (w *heldWriter) Header() http.Header { return w.h }
func (w *heldWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}
func (w *heldWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}

// route names the call after the client method that makes it and picks its endpoint.
func (s *Sim) route(q *graphRequest) (string, func(*graphRequest)) {
	m, segs := q.r.Method, q.segs
	unknown := func(q *graphRequest) { s.writeGraphError(q, errUnknownPath(q.r.URL.Path)) }
	switch {
	case len(segs) == 2 && segs[0] == "oauth" && segs[1] == "access_token":
		if m == http.MethodGet || m == http.MethodPost {
			return "ExchangeCode", s.handleExchangeCode
		}
	case len(segs) == 1 && segs[0] != "":
		if m == http.MethodGet {
			return "Get" + s.kindOf(segs[0]), s.handleGetNode
		}
		return "Unknown", func(q *graphRequest) { s.writeGraphError(q, errUnsupported(m, segs[0])) }
	case len(segs) == 2:
		switch edge := segs[1]; {
		case edge == "subscribed_apps" && m == http.MethodPost:
			return "SubscribeApp", s.handleSubscribeApp
		case edge == "subscribed_apps" && m == http.MethodGet:
			return "ListSubscribedApps", s.handleListSubscribedApps
		case edge == "subscribed_apps" && m == http.MethodDelete:
			return "UnsubscribeApp", s.handleUnsubscribeApp
		case edge == "subscriptions" && m == http.MethodGet:
			return "GetAppSubscriptions", s.handleGetAppSubscriptions
		case edge == "subscriptions" && m == http.MethodPost:
			return "SetAppSubscription", s.handleSetAppSubscription
		case edge == "subscriptions" && m == http.MethodDelete:
			return "DeleteAppSubscription", s.handleDeleteAppSubscription
		case edge == "smb_app_data" && m == http.MethodPost:
			switch q.params["sync_type"] {
			case SyncContacts:
				return "RequestContactsSync", s.handleSMBAppData
			case SyncHistory:
				return "RequestHistorySync", s.handleSMBAppData
			}
			return "RequestSync", s.handleSMBAppData
		case edge == "deregister" && m == http.MethodPost:
			return "Deregister", s.handleDeregister
		case edge == "subscribed_apps" || edge == "subscriptions" || edge == "smb_app_data" || edge == "deregister":
			return "Unknown", func(q *graphRequest) { s.writeGraphError(q, errMethod(m)) }
		}
	}
	return "Unknown", unknown
}

// kindOf names what an id is: PhoneNumber, WABA, App, or Node when unknown.
func (s *Sim) kindOf(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.numbers[id] != nil:
		return "PhoneNumber"
	case s.wabas[id] != nil:
		return "WABA"
	case s.apps[id] != nil:
		return "App"
	}
	return "Node"
}

// noteIDs puts the ids a call is about on its record.
func (s *Sim) noteIDs(q *graphRequest) {
	if len(q.segs) == 0 || q.segs[0] == "" || q.segs[0] == "oauth" {
		return
	}
	id := q.segs[0]
	if len(q.segs) == 2 && q.segs[1] == "smb_app_data" {
		q.call.SyncType = q.params["sync_type"]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.numbers[id] != nil:
		q.call.PhoneNumberID, q.call.WABAID = id, s.numbers[id].wabaID
	case s.wabas[id] != nil:
		q.call.WABAID = id
	case s.apps[id] != nil:
		q.call.AppID = id
	}
}

// readParams merges the query string with a JSON or form body, as Graph accepts either.
// Non-string JSON values (a fields array) are kept as their JSON text.
func readParams(r *http.Request) (map[string]string, error) {
	p := map[string]string{}
	for k, v := range r.URL.Query() {
		if len(v) > 0 {
			p[k] = v[0]
		}
	}
	if r.Body == nil {
		return p, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxParamBody+1))
	if err != nil {
		return p, fmt.Errorf("cannot read the request body")
	}
	if len(body) > maxParamBody {
		return p, fmt.Errorf("the request body is too large")
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return p, nil
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	// JSON needs its content type, as at Graph; a body without one that looks like JSON is
	// read as JSON too (curl -d sends a form type, so that case stays a form).
	if ct == "application/json" || (ct == "" && body[0] == '{') {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(body, &m); err != nil {
			return p, fmt.Errorf("the request body is not valid JSON")
		}
		for k, raw := range m {
			var str string
			if json.Unmarshal(raw, &str) == nil {
				p[k] = str
			} else {
				p[k] = string(raw)
			}
		}
		return p, nil
	}
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return p, fmt.Errorf("the request body is not valid form data")
	}
	for k, v := range vals {
		if len(v) > 0 {
			p[k] = v[0]
		}
	}
	return p, nil
}
