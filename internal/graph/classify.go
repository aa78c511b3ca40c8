// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graph

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Graph error codes, from Meta's Graph API and Cloud API error references.
var (
	// authCodes mean the token is invalid, expired or lacks a permission (200-299 are
	// permission codes too). 463 and 467 are usually subcodes of 190; both places count.
	authCodes = map[int]bool{190: true, 102: true, 10: true, 463: true, 467: true}
	// throttleCodes are app, user, page and custom throttling (4, 17, 32, 613) and
	// WhatsApp's rate limits: Graph refused the call before acting on it.
	throttleCodes = map[int]bool{4: true, 17: true, 32: true, 613: true,
		80007: true, 130429: true, 131048: true, 131056: true}
	// unknownErrorCodes are Graph's "unknown" and "service" errors (1, 2): try again later,
	// but the call may have been acted on.
	unknownErrorCodes = map[int]bool{1: true, 2: true}
)

// codeSyncAlreadyRequested is the one code a public implementation uses for a repeated
// smb_app_data request; the rest match the message text (META_API.md).
const codeSyncAlreadyRequested = 2593107

// Subcodes (of code 100) of the code exchange's refusals of an Embedded Signup code.
const (
	subcodeCodeExpired = 36007 // "This authorization code has expired."
	subcodeCodeUsed    = 36009 // "This authorization code has been used."
)

// maxRetryAfter caps a Retry-After so an absurd value cannot overflow a Duration.
const maxRetryAfter = 24 * time.Hour

// classify decides what a failed call means. The order matters: an auth message may say
// "expired", which must not read as the sync window. Meta does not document its answer to a
// repeated or late smb_app_data (META_API.md), so the sync refusals are read only from a
// non-transient 4xx: a 5xx or a throttle whose text happens to say "already" says nothing
// about whether Meta took the request, and reading it as done would skip a sync for good.
// Any other non-transient 4xx on a sync call is Permanent: the caller stalls on it rather
// than guess.
func classify(call string, status, code, subcode int, isTransient bool, text string) Class {
	if status == http.StatusUnauthorized || authCodes[code] || authCodes[subcode] || (code >= 200 && code <= 299) {
		return ClassAuth
	}
	// A spent or expired signup code stays so: asking again cannot help, whatever the status.
	if call == CallExchangeCode && (subcode == subcodeCodeExpired || subcode == subcodeCodeUsed) {
		return ClassPermanent
	}
	transient := status == http.StatusTooManyRequests || status >= 500 || throttleCodes[code] ||
		unknownErrorCodes[code] || isTransient
	if isSyncCall(call) && !transient && status >= 400 && status <= 499 {
		if c, ok := syncRefusal(code, subcode, text); ok {
			return c
		}
	}
	if transient {
		return ClassTransient
	}
	// A bare 403 (no Graph code, e.g. from a proxy) is about credentials. Graph's own 403s
	// carry a code and were sorted above: its throttling code 4 can come with a 403.
	if status == http.StatusForbidden && code == 0 {
		return ClassAuth
	}
	return ClassPermanent
}

// syncRefusal reads a non-transient 4xx on a sync call as Meta's refusal of a repeat (the
// one public code, 2593107, as code or subcode, or the word "already") or of a late request
// ("expired", "window", "24 hours"). The code wins over the text: it is the only signal that
// does not depend on wording.
func syncRefusal(code, subcode int, text string) (Class, bool) {
	if code == codeSyncAlreadyRequested || subcode == codeSyncAlreadyRequested {
		return ClassAlreadyRequested, true
	}
	lower := strings.ToLower(text)
	switch {
	case strings.Contains(lower, "already"):
		return ClassAlreadyRequested, true
	case strings.Contains(lower, "expired") || strings.Contains(lower, "window") || strings.Contains(lower, "24 hours"):
		return ClassWindowExpired, true
	}
	return 0, false
}

// isSyncCall reports whether call is one of the one-shot smb_app_data requests.
func isSyncCall(call string) bool {
	return call == CallRequestContactsSync || call == CallRequestHistorySync
}

// responseError returns the *Error for an HTTP response, or nil when it is a success: a 2xx
// without a Graph error object. Its fields are not yet redacted.
func responseError(call string, status int, header http.Header, body []byte, now time.Time) *Error {
	ge := parseGraphError(body)
	if ge == nil && status >= 200 && status < 300 {
		return nil
	}
	e := &Error{Call: call, HTTPStatus: status, RetryAfter: parseRetryAfter(header.Get("Retry-After"), now)}
	var transient bool
	var text string
	if ge != nil {
		e.Code, e.Subcode = int(ge.Code), int(ge.Subcode)
		e.Type, e.FBTraceID = ge.Type, ge.FBTraceID
		e.Message = ge.Message
		if d := ge.details(); d != "" && !strings.Contains(e.Message, d) {
			e.Message = strings.TrimSpace(e.Message + ": " + d)
		}
		transient = bool(ge.IsTransient)
		text = strings.Join([]string{e.Message, ge.UserTitle, ge.UserMsg}, " ")
	}
	e.Class = classify(call, status, e.Code, e.Subcode, transient, text)
	return e
}

// graphError is Graph's error object: {"error":{"message","type","code","error_subcode",
// "fbtrace_id","is_transient",...}}. Cloud API errors add error_data.details, often the
// most telling text.
type graphError struct {
	Message     string          `json:"message"`
	Type        string          `json:"type"`
	Code        flexInt         `json:"code"`
	Subcode     flexInt         `json:"error_subcode"`
	FBTraceID   string          `json:"fbtrace_id"`
	IsTransient flexBool        `json:"is_transient"`
	UserTitle   string          `json:"error_user_title"`
	UserMsg     string          `json:"error_user_msg"`
	Data        json.RawMessage `json:"error_data"`
}

// parseGraphError returns the body's error object, or nil when the body is not JSON or
// holds none (an HTML 502 page, a success).
func parseGraphError(body []byte) *graphError {
	var env struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &env) != nil || len(env.Error) == 0 || bytes.Equal(env.Error, []byte("null")) {
		return nil
	}
	var ge graphError
	if json.Unmarshal(env.Error, &ge) == nil {
		return &ge
	}
	// OAuth-style {"error":"invalid_request"}: keep the word as the message.
	var s string
	if json.Unmarshal(env.Error, &s) == nil {
		return &graphError{Message: s}
	}
	return nil
}

// details returns error_data.details; error_data is an object, or in older answers a string.
func (g *graphError) details() string {
	if len(g.Data) == 0 {
		return ""
	}
	var obj struct {
		Details string `json:"details"`
	}
	if json.Unmarshal(g.Data, &obj) == nil {
		return obj.Details
	}
	var s string
	if json.Unmarshal(g.Data, &s) == nil && json.Unmarshal([]byte(s), &obj) == nil {
		return obj.Details
	}
	return ""
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP-date (RFC 9110
// 10.2.3). A missing, malformed or past value is 0.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}

// flexInt decodes a JSON number or a numeric string; anything else is 0, so an odd code never
// hides the error it came with.
type flexInt int

func (n *flexInt) UnmarshalJSON(b []byte) error {
	v, err := strconv.Atoi(strings.Trim(string(b), `"`))
	if err != nil {
		v = 0
	}
	*n = flexInt(v)
	return nil
}

// flexBool decodes true or "true"; anything else is false.
type flexBool bool

func (f *flexBool) UnmarshalJSON(b []byte) error {
	*f = flexBool(strings.EqualFold(strings.Trim(string(b), `"`), "true"))
	return nil
}
