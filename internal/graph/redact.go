// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graph

import (
	"context"
	"errors"
	"net/url"
	"sort"
	"strings"
)

// redactor replaces the secrets of one call wherever they could show up in text: Graph may
// echo a token in its message, and a transport error names the URL, whose query carries
// client_secret and code. Each secret is matched raw and in its query- and path-escaped forms.
type redactor []string

func newRedactor(secrets ...Secret) redactor {
	seen := map[string]bool{}
	var r redactor
	for _, s := range secrets {
		if s.IsZero() {
			continue
		}
		v := s.Reveal()
		for _, form := range []string{v, url.QueryEscape(v), url.PathEscape(v)} {
			if !seen[form] {
				seen[form] = true
				r = append(r, form)
			}
		}
	}
	// Longest first, so a secret that contains another (the app token holds the app secret)
	// is replaced whole.
	sort.Slice(r, func(i, j int) bool { return len(r[i]) > len(r[j]) })
	return r
}

// String returns s with every secret replaced by "[redacted]".
func (r redactor) String(s string) string {
	for _, v := range r {
		s = strings.ReplaceAll(s, v, redacted)
	}
	return s
}

// contains reports whether s holds any of the secrets.
func (r redactor) contains(s string) bool {
	for _, v := range r {
		if strings.Contains(s, v) {
			return true
		}
	}
	return false
}

// apply redacts the text fields of e, which come from Graph's answer.
func (r redactor) apply(e *Error) {
	e.Message = r.String(e.Message)
	e.Type = r.String(e.Type)
	e.FBTraceID = r.String(e.FBTraceID)
	e.Err = r.err(e.Err)
}

// err returns err made safe to print: a *url.Error loses its URL's query, user info and
// fragment; if the text still holds a secret, the whole chain is replaced by its redacted
// text, keeping only whether it was a timeout and which context error it wrapped.
func (r redactor) err(err error) error {
	if err == nil {
		return nil
	}
	if ue, ok := err.(*url.Error); ok {
		err = &url.Error{Op: ue.Op, URL: stripURL(ue.URL), Err: ue.Err}
	}
	if !r.contains(err.Error()) {
		return err
	}
	re := &redactedError{msg: r.String(err.Error()), timeout: isTimeout(err)}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		re.cause = context.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		re.cause = context.Canceled
	}
	return re
}

// stripURL drops the parts of a URL that can carry secrets: query, user info and fragment.
func stripURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "[unparsable URL]"
	}
	u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment, u.User = "", false, "", "", nil
	return u.String()
}

// redactedError stands in for an error whose text held a secret.
type redactedError struct {
	msg     string
	timeout bool
	cause   error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.cause }
func (e *redactedError) Timeout() bool { return e.timeout }

// isTimeout reports whether err says it is a timeout (net.Error and friends).
func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
