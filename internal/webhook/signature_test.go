// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package webhook

import (
	"strings"
	"testing"
)

func TestSignAndVerify(t *testing.T) {
	secret := []byte("app-secret")
	body := []byte(`{"object":"whatsapp_business_account","entry":[]}`)
	sig := Sign(secret, body)
	// Computed independently, with Python's hmac module.
	if want := "sha256=d3e4f9da0ce6c71ab3dba55929b8eeeee2455349e534924ead19f98d143e904f"; sig != want {
		t.Fatalf("Sign = %s, want %s", sig, want)
	}

	cases := map[string]struct {
		secret []byte
		body   []byte
		header string
		want   bool
	}{
		"the signature":              {secret, body, sig, true},
		"upper-case hex":             {secret, body, "sha256=" + strings.ToUpper(sig[7:]), true},
		"another secret":             {[]byte("rotated"), body, sig, false},
		"a changed body":             {secret, []byte(`{"object":"whatsapp_business_account","entry":[{}]}`), sig, false},
		"missing":                    {secret, body, "", false},
		"sha1 prefix":                {secret, body, "sha1=" + sig[7:], false},
		"no prefix":                  {secret, body, sig[7:], false},
		"truncated":                  {secret, body, sig[:len(sig)-2], false},
		"not hex":                    {secret, body, "sha256=" + strings.Repeat("z", 64), false},
		"empty secret never matches": {nil, body, Sign(nil, body), false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := Verify(tc.secret, tc.body, tc.header); got != tc.want {
				t.Errorf("Verify = %v, want %v", got, tc.want)
			}
		})
	}
}
