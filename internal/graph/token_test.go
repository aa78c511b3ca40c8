// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graph

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestParseAccessToken(t *testing.T) {
	cases := map[string]struct {
		body string
		want Secret // empty: an error is expected
	}{
		"JSON object":             {body: `{"access_token":"EAAGtok1","token_type":"bearer"}`, want: "EAAGtok1"},
		"JSON object, more keys":  {body: ` {"token_type":"bearer","expires_in":5183944,"access_token":"EAAGtok2","x":{"y":1}}` + "\n", want: "EAAGtok2"},
		"JSON string":             {body: `"EAAGtok3"`, want: "EAAGtok3"},
		"plain text":              {body: "EAAGtok4", want: "EAAGtok4"},
		"plain text with newline": {body: "EAAGtok5\r\n", want: "EAAGtok5"},
		"form encoded":            {body: "access_token=EAAGtok6&expires=5183944", want: "EAAGtok6"},
		"form encoded, escaped":   {body: "expires=1&access_token=EAAG%7Ctok7", want: "EAAG|tok7"},
		"empty":                   {body: "  "},
		"JSON without token":      {body: `{"token_type":"bearer"}`},
		"JSON empty token":        {body: `{"access_token":""}`},
		"broken JSON":             {body: `{"access_token":"EAAGsecretleak`},
		"broken JSON string":      {body: `"EAAGsecretleak`},
		"JSON string with spaces": {body: `"EAAG secretleak"`},
		"HTML page":               {body: `<html><body>EAAGsecretleak</body></html>`},
		"text with spaces":        {body: "token is EAAGsecretleak"},
		"form without token":      {body: "access_token=&expires=1"},
		"non-ASCII":               {body: "EAAGsecretleak\u00e9"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := parseAccessToken([]byte(tc.body))
			if tc.want == "" {
				if err == nil {
					t.Fatalf("parsed %q, want an error", got.Reveal())
				}
				if strings.Contains(err.Error(), "secretleak") {
					t.Errorf("error %q quotes the body", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %q, %v; want %q", got.Reveal(), err, tc.want.Reveal())
			}
		})
	}
}

// Both documented shapes, end to end, with the content types Graph would send.
func TestExchangeCodeShapes(t *testing.T) {
	cases := map[string]response{
		"JSON":       {status: 200, body: `{"access_token":"EAAGjson","token_type":"bearer"}`},
		"bare token": {status: 200, header: map[string]string{"Content-Type": "text/plain"}, body: `EAAGjson`},
		"form":       {status: 200, header: map[string]string{"Content-Type": "text/plain"}, body: `access_token=EAAGjson&expires=5183944`},
	}
	for name, r := range cases {
		t.Run(name, func(t *testing.T) {
			c, _ := testClient(t, respond(r), Options{})
			tok, err := c.ExchangeCode(context.Background(), testApp, "AQBcode")
			if err != nil || tok.Reveal() != "EAAGjson" {
				t.Errorf("got %q, %v", tok.Reveal(), err)
			}
		})
	}
	t.Run("unreadable", func(t *testing.T) {
		c, _ := testClient(t, respond(ok(`<html>EAAGsecretleak</html>`)), Options{})
		_, err := c.ExchangeCode(context.Background(), testApp, "AQBcode")
		if ge := asError(t, err); ge.Class != ClassPermanent || strings.Contains(err.Error(), "secretleak") {
			t.Errorf("got %v", err)
		}
	})
}

// The exchange's refusals of a signup code are terminal: named by subcode on a *Error, and
// sent once however generous the retry policy.
func TestExchangeRefusalsAreTerminal(t *testing.T) {
	cases := map[string]struct {
		status           int
		body             string
		expired, used    bool
		wantSubcode      int
		wantClass        Class
		wantRequestsSent int
	}{
		"expired code": {
			status: 400, expired: true, wantSubcode: 36007, wantClass: ClassPermanent, wantRequestsSent: 1,
			body: `{"error":{"message":"This authorization code has expired.","type":"OAuthException","code":100,"error_subcode":36007,"fbtrace_id":"E1"}}`,
		},
		"used code": {
			status: 400, used: true, wantSubcode: 36009, wantClass: ClassPermanent, wantRequestsSent: 1,
			body: `{"error":{"message":"This authorization code has been used.","type":"OAuthException","code":100,"error_subcode":36009,"fbtrace_id":"E2"}}`,
		},
		"used code, subcode as a string and odd text": {
			status: 400, used: true, wantSubcode: 36009, wantClass: ClassPermanent, wantRequestsSent: 1,
			body: `{"error":{"message":"Invalid verification code","type":"OAuthException","code":"100","error_subcode":"36009"}}`,
		},
		"expired code marked transient on a 503": {
			status: 503, expired: true, wantSubcode: 36007, wantClass: ClassPermanent, wantRequestsSent: 1,
			body: `{"error":{"message":"This authorization code has expired.","type":"OAuthException","code":100,"error_subcode":36007,"is_transient":true}}`,
		},
		"malformed code is neither": {
			status: 400, wantSubcode: 36008, wantClass: ClassPermanent, wantRequestsSent: 1,
			body: `{"error":{"message":"Invalid verification code format.","type":"OAuthException","code":100,"error_subcode":36008}}`,
		},
		"'expired' text without the subcode is neither": {
			status: 400, wantClass: ClassPermanent, wantRequestsSent: 1,
			body: `{"error":{"message":"This authorization code has expired.","type":"OAuthException","code":100}}`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rec := respond(response{status: tc.status, body: tc.body})
			c, _ := testClient(t, rec, Options{Retry: RetryPolicy{MaxAttempts: 5}})
			_, err := c.ExchangeCode(context.Background(), testApp, "AQBcode")
			ge := asError(t, err)
			if ge.Subcode != tc.wantSubcode || ge.Class != tc.wantClass {
				t.Errorf("got subcode %d class %v, want %d %v", ge.Subcode, ge.Class, tc.wantSubcode, tc.wantClass)
			}
			if IsCodeExpired(err) != tc.expired || IsCodeUsed(err) != tc.used {
				t.Errorf("IsCodeExpired %v IsCodeUsed %v, want %v %v", IsCodeExpired(err), IsCodeUsed(err), tc.expired, tc.used)
			}
			if n := len(rec.Seen()); n != tc.wantRequestsSent {
				t.Errorf("the exchange was sent %d times, want %d: a spent code must not be retried", n, tc.wantRequestsSent)
			}
			if strings.Contains(err.Error(), "AQBcode") || strings.Contains(err.Error(), testApp.Secret.Reveal()) {
				t.Errorf("error %q holds the code or the secret", err)
			}
		})
	}
	t.Run("wrapped and absent", func(t *testing.T) {
		wrapped := fmt.Errorf("intake: %w", &Error{Call: CallExchangeCode, Code: 100, Subcode: 36009})
		if !IsCodeUsed(wrapped) || IsCodeExpired(wrapped) {
			t.Error("a wrapped used-code *Error is not recognised")
		}
		if IsCodeUsed(nil) || IsCodeExpired(errors.New("This authorization code has expired.")) {
			t.Error("a nil or plain error reads as a refused code")
		}
	})
}
