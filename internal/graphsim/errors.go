// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graphsim

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// graphError is one Graph API failure before it is written: the HTTP status and Graph's error
// object. Every failure the simulator returns goes through it, so the shape never drifts.
type graphError struct {
	status    int
	code      int
	subcode   int
	message   string
	typ       string // "OAuthException" unless set
	transient bool
	userTitle string
	userMsg   string
}

// graphErrorBody is Graph's error JSON: {"error":{…}}.
type graphErrorBody struct {
	Error graphErrorObject `json:"error"`
}

type graphErrorObject struct {
	Message        string `json:"message"`
	Type           string `json:"type"`
	Code           int    `json:"code"`
	ErrorSubcode   int    `json:"error_subcode,omitempty"`
	IsTransient    bool   `json:"is_transient,omitempty"`
	ErrorUserTitle string `json:"error_user_title,omitempty"`
	ErrorUserMsg   string `json:"error_user_msg,omitempty"`
	FBTraceID      string `json:"fbtrace_id"`
}

// writeGraphError writes e in Graph's shape with a fresh fbtrace_id (also in the
// x-fb-trace-id header, as Meta does) and notes the code on the call record.
func (s *Sim) writeGraphError(q *graphRequest, e graphError) {
	typ := e.typ
	if typ == "" {
		typ = "OAuthException"
	}
	trace := s.ids.traceID()
	body := graphErrorBody{Error: graphErrorObject{
		Message: e.message, Type: typ, Code: e.code, ErrorSubcode: e.subcode,
		IsTransient: e.transient, ErrorUserTitle: e.userTitle, ErrorUserMsg: e.userMsg,
		FBTraceID: trace,
	}}
	if q.call != nil {
		q.call.ErrorCode, q.call.ErrorSubcode = e.code, e.subcode
	}
	h := q.w.Header()
	h.Set("x-fb-trace-id", trace)
	if e.status == http.StatusUnauthorized {
		// Graph names the failure in WWW-Authenticate as well.
		h.Set("WWW-Authenticate", `OAuth "Facebook Platform" "invalid_token" "`+e.message+`"`)
	}
	writeJSON(q.w, e.status, body)
}

// writeJSON writes v as a JSON response.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// The errors Graph answers with, in one place.

var errInvalidToken = graphError{
	status: http.StatusUnauthorized, code: 190,
	message: "Invalid OAuth access token - Cannot parse access token",
}

func errPermission(what string) graphError {
	return graphError{
		status: http.StatusForbidden, code: 200,
		message: "(#200) Permissions error: the access token has no access to " + what,
	}
}

func errAppTokenRequired() graphError {
	return graphError{
		status: http.StatusBadRequest, code: 15,
		message: "(#15) This method must be called with an app access_token.",
	}
}

func errParam(format string, args ...any) graphError {
	return graphError{status: http.StatusBadRequest, code: 100, message: "(#100) " + fmt.Sprintf(format, args...)}
}

// errUnsupported is Graph's answer for an id that does not exist (or does not support the
// operation): code 100, subcode 33.
func errUnsupported(method, id string) graphError {
	return graphError{
		status: http.StatusBadRequest, code: 100, subcode: 33, typ: "GraphMethodException",
		message: fmt.Sprintf("Unsupported %s request. Object with ID '%s' does not exist, cannot be loaded "+
			"due to missing permissions, or does not support this operation.", method, id),
	}
}

func errUnknownPath(path string) graphError {
	return graphError{status: http.StatusBadRequest, code: 2500, message: "Unknown path components: " + path}
}

func errMethod(method string) graphError {
	return graphError{
		status: http.StatusBadRequest, code: 100, typ: "GraphMethodException",
		message: "(#100) Unsupported " + method + " request.",
	}
}
