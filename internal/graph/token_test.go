// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graph

import (
	"context"
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
