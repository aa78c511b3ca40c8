// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graph

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"unicode"
)

// parseAccessToken reads the token exchange's answer in any of the shapes sources show:
// a JSON object {"access_token":"…","token_type":"bearer"}, a JSON string "…", a form
// "access_token=…&expires=…" (Graph's oldest shape), or the bare token as plain text.
// Its errors never quote the body: the body is the token.
func parseAccessToken(body []byte) (Secret, error) {
	b := bytes.TrimSpace(body)
	switch {
	case len(b) == 0:
		return "", errors.New("cannot find a token in an empty body")
	case b[0] == '{':
		var obj struct {
			AccessToken string `json:"access_token"`
		}
		if err := json.Unmarshal(b, &obj); err != nil {
			return "", errors.New("cannot parse the JSON object")
		}
		return token(obj.AccessToken, "cannot find access_token in the JSON object")
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return "", errors.New("cannot parse the JSON string")
		}
		return token(s, "cannot use the JSON string as a token")
	case bytes.Contains(b, []byte("access_token=")):
		q, err := url.ParseQuery(string(b))
		if err != nil {
			return "", errors.New("cannot parse the form-encoded body")
		}
		return token(q.Get("access_token"), "cannot find access_token in the form-encoded body")
	default:
		return token(string(b), "cannot use the plain-text body as a token")
	}
}

// token accepts s when it looks like a token: non-empty printable ASCII without spaces or
// markup, so an HTML page served with a 200 is not taken for one.
func token(s, failure string) (Secret, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New(failure)
	}
	for _, r := range s {
		if r > unicode.MaxASCII || !unicode.IsPrint(r) || unicode.IsSpace(r) || strings.ContainsRune(`<>"'{}`, r) {
			return "", errors.New(failure)
		}
	}
	return Secret(s), nil
}
