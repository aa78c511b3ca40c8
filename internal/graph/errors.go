// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graph

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Class says what a caller should do about a failed call.
type Class int

const (
	// ClassPermanent: the request is wrong and will stay wrong (a 4xx that is none of the
	// below). Report it; do not retry.
	ClassPermanent Class = iota
	// ClassTransient: try again later (HTTP 429 or 5xx, a timeout or connection error, Graph's
	// codes 1, 2, 4, 17, 32, 613, 80007, 130429, 131048, 131056, or is_transient:true).
	ClassTransient
	// ClassAlreadyRequested: a one-shot smb_app_data sync of this type was already requested
	// for this onboarding. For a caller that wanted it requested, that is success. Only a
	// non-transient 4xx is read this way (code or subcode 2593107, or the word "already"):
	// the same words on a 5xx or a throttle are ClassTransient.
	ClassAlreadyRequested
	// ClassWindowExpired: the 24 h window after onboarding has passed; the business must
	// offboard and onboard again. Read, like ClassAlreadyRequested, only from a non-transient
	// 4xx ("expired", "window", "24 hours"). A non-transient 4xx on a sync call that says
	// neither is ClassPermanent: Meta's answer is undocumented, and a caller must stall on
	// it rather than guess.
	ClassWindowExpired
	// ClassAuth: the token is invalid, expired or lacks permission (OAuthException 190, 102,
	// 10, 200-299, 463, 467, HTTP 401, or a 403 without a Graph code). Fix the credentials.
	ClassAuth
)

func (c Class) String() string {
	switch c {
	case ClassTransient:
		return "Transient"
	case ClassAlreadyRequested:
		return "AlreadyRequested"
	case ClassWindowExpired:
		return "WindowExpired"
	case ClassAuth:
		return "Auth"
	default:
		return "Permanent"
	}
}

// Error is a failed Graph call: Graph's error object when there was one, the HTTP status,
// and the class. Its text never holds a token, an app secret or a signup code.
type Error struct {
	// Call is the Client method, such as "RequestHistorySync".
	Call string
	// HTTPStatus is the response's status code, 0 when no response came.
	HTTPStatus int
	// Code, Subcode, Type, Message and FBTraceID are Graph's error object's fields.
	Code      int
	Subcode   int
	Type      string
	Message   string
	FBTraceID string
	// RetryAfter is the server's Retry-After, when it sent one.
	RetryAfter time.Duration
	// Class says what to do about it.
	Class Class
	// Err is the transport error when no response came (timeout, connection refused), with
	// any URL in it stripped of its query, where secrets travel.
	Err error

	// notSent marks a call that never left this process (no rate-limit token in time).
	notSent bool
}

func (e *Error) Error() string {
	if e.HTTPStatus == 0 && e.Err != nil {
		return fmt.Sprintf("graph %s: %s: %v", e.Call, e.Class, e.Err)
	}
	msg := fmt.Sprintf("graph %s: %s: HTTP %d", e.Call, e.Class, e.HTTPStatus)
	if e.Code != 0 {
		msg += fmt.Sprintf(": (#%d", e.Code)
		if e.Subcode != 0 {
			msg += fmt.Sprintf("/%d", e.Subcode)
		}
		msg += ")"
	}
	if e.Message != "" {
		if e.Code == 0 {
			msg += ":"
		}
		msg += " " + e.Message
	}
	if e.FBTraceID != "" {
		msg += " [fbtrace_id " + e.FBTraceID + "]"
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// GoString makes %#v print the fields with Err as its (sanitized) text, instead of walking
// into whatever error value Err holds.
func (e *Error) GoString() string {
	errText := ""
	if e.Err != nil {
		errText = e.Err.Error()
	}
	return fmt.Sprintf("&graph.Error{Call:%q, HTTPStatus:%d, Code:%d, Subcode:%d, Type:%q, Message:%q, FBTraceID:%q, RetryAfter:%v, Class:%v, Err:%q}",
		e.Call, e.HTTPStatus, e.Code, e.Subcode, e.Type, e.Message, e.FBTraceID, e.RetryAfter, e.Class, errText)
}

// NotTaken reports whether err certainly means Graph did not act on the call: it was never
// sent (no rate-limit token, the connection could not be opened), or Graph refused it for its
// credentials or for rate (HTTP 429 or a throttling code). A 5xx, a timeout or a reset
// connection is not certain: the request may have been acted on before the failure.
func NotTaken(err error) bool {
	var ge *Error
	if !errors.As(err, &ge) {
		return false
	}
	if ge.notSent || ge.Class == ClassAuth || ge.HTTPStatus == http.StatusTooManyRequests || throttleCodes[ge.Code] {
		return true
	}
	var op *net.OpError
	return ge.HTTPStatus == 0 && errors.As(ge.Err, &op) && op.Op == "dial"
}

// ClassOf returns the class of err: the Class of a *Error in its chain, ClassTransient for a
// context deadline, and ClassPermanent otherwise.
func ClassOf(err error) Class {
	var ge *Error
	if errors.As(err, &ge) {
		return ge.Class
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return ClassTransient
	}
	return ClassPermanent
}

// IsTransient reports whether err is worth retrying later.
func IsTransient(err error) bool { return err != nil && ClassOf(err) == ClassTransient }

// IsAlreadyRequested reports whether err says the one-shot sync was already requested.
func IsAlreadyRequested(err error) bool { return err != nil && ClassOf(err) == ClassAlreadyRequested }

// IsWindowExpired reports whether err says the 24 h sync window has passed.
func IsWindowExpired(err error) bool { return err != nil && ClassOf(err) == ClassWindowExpired }

// IsAuth reports whether err says the credentials are wrong.
func IsAuth(err error) bool { return err != nil && ClassOf(err) == ClassAuth }

// IsCodeExpired reports whether err is the code exchange's refusal of an Embedded Signup
// code that outlived its 30 s (Graph code 100, subcode 36007, "This authorization code has
// expired."): only a new signup yields another. It reads the subcode, never the text.
func IsCodeExpired(err error) bool { return hasSubcode(err, subcodeCodeExpired) }

// IsCodeUsed reports whether err is the code exchange's refusal of a code that was already
// exchanged (Graph code 100, subcode 36009, "This authorization code has been used."). After
// a lost answer that may have been this client's own exchange: the token is gone either way.
func IsCodeUsed(err error) bool { return hasSubcode(err, subcodeCodeUsed) }

// hasSubcode reports whether a *Error in err's chain carries Graph's subcode: the subcode
// names the refusal, whatever top-level code Graph pairs it with.
func hasSubcode(err error, subcode int) bool {
	var ge *Error
	return errors.As(err, &ge) && ge.Subcode == subcode
}
