// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package webhook

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// Run with: go test ./internal/webhook -run '^$' -fuzz '^FuzzParse$' -fuzztime 60s (or
// FuzzVerify). Beside the seeds added here, testdata/fuzz/<name>/ holds a committed corpus.

// isSignature is the exact rule Verify follows, written independently: the header is
// "sha256=" (that case only) and the 64 hex digits of want, in either case (Verify decodes the
// hex, and hex decoding accepts upper case).
func isSignature(header, want string) bool {
	if len(header) != len(want) || !strings.HasPrefix(header, signaturePrefix) {
		return false
	}
	for i := len(signaturePrefix); i < len(header); i++ {
		c := header[i]
		if 'A' <= c && c <= 'F' {
			c += 'a' - 'A'
		}
		if c != want[i] {
			return false
		}
	}
	return true
}

func FuzzVerify(f *testing.F) {
	secret := []byte("app-secret")
	for _, body := range testdataBodies(f) {
		sig := Sign(secret, body)
		f.Add(secret, body, sig)
		f.Add(secret, body, signaturePrefix+strings.ToUpper(sig[len(signaturePrefix):]))
		f.Add(secret, body, sig[len(signaturePrefix):])         // no prefix
		f.Add(secret, body, sig[:len(sig)-1])                   // truncated
		f.Add([]byte("rotated"), body, sig)                     // another secret
		f.Add(secret, body[:len(body)-1], sig)                  // another body
		f.Add(secret, body, "sha1="+sig[len(signaturePrefix):]) // another algorithm
	}
	f.Add([]byte(nil), []byte(`{}`), Sign(nil, []byte(`{}`))) // an empty secret never matches
	f.Add(secret, []byte{}, "")
	f.Add(secret, []byte{}, "SHA256="+Sign(secret, nil)[len(signaturePrefix):])

	f.Fuzz(func(t *testing.T, secret, body []byte, header string) {
		want := Sign(secret, body)
		if len(secret) > 0 && !Verify(secret, body, want) {
			t.Fatalf("Verify(%q, %q, Sign(...) = %q) = false", secret, body, want)
		}
		if got, exp := Verify(secret, body, header), len(secret) > 0 && isSignature(header, want); got != exp {
			t.Fatalf("Verify(%q, %q, %q) = %v, want %v (signature is %s)", secret, body, header, got, exp, want)
		}
	})
}

// checkDecoded fails unless DecodeChange's result fits c.Field: the field's type, or nil with
// ErrUnknownField for an unknown field, or nil with ErrMalformed.
func checkDecoded(t *testing.T, c Change, v any, err error) {
	t.Helper()
	want, known := valueTypes[c.Field]
	switch {
	case !known:
		if v != nil || !errors.Is(err, ErrUnknownField) {
			t.Fatalf("DecodeChange(%q) = %#v, %v; want nil and ErrUnknownField", c.Field, v, err)
		}
	case err != nil:
		if v != nil || !errors.Is(err, ErrMalformed) {
			t.Fatalf("DecodeChange(%q) = %#v, %v; want nil and ErrMalformed", c.Field, v, err)
		}
	default:
		if reflect.TypeOf(v) != want || reflect.ValueOf(v).IsNil() {
			t.Fatalf("DecodeChange(%q) = %#v, want a non-nil %v", c.Field, v, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, body := range testdataBodies(f) {
		f.Add(body)
	}
	const head = `{"object":"whatsapp_business_account","entry":[{"id":"1","time":"1739212624","changes":[`
	for _, changes := range []string{
		`{"field":"history","value":null}`,
		`{"field":"history"}`,
		`{"field":"history","value":"x"},{"field":"messages","value":[]}`,
		`{"field":"history","value":{"history":[{"metadata":{"phase":"x"}}]}}`,
		`{"field":"smb_app_state_sync","value":{"state_sync":[{"metadata":{"timestamp":1.5e3}}]}}`,
		`{"field":"message_template_status_update","value":{"event":"APPROVED"}}`,
	} {
		f.Add([]byte(head + changes + `]}]}`))
	}
	f.Add([]byte(`{"object":"page","entry":[]}`))
	f.Add([]byte(`{"object":"whatsapp_business_account","entry":{}}`))
	f.Add([]byte(`null`))

	f.Fuzz(func(t *testing.T, body []byte) {
		env, err := ParseEnvelope(body)
		if err != nil {
			if env != nil || !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseEnvelope = %+v, %v; want nil and ErrMalformed", env, err)
			}
			return
		}
		if env.Object != ObjectWABA || len(env.Entry) == 0 {
			t.Fatalf("ParseEnvelope accepted %+v", env)
		}
		again, err := json.Marshal(env)
		if err != nil {
			t.Fatalf("re-marshalling %+v: %v", env, err)
		}
		env2, err := ParseEnvelope(again)
		if err != nil {
			t.Fatalf("ParseEnvelope(%s) after re-marshalling: %v", again, err)
		}
		if len(env2.Entry) != len(env.Entry) {
			t.Fatalf("%d entries, %d after re-marshalling", len(env.Entry), len(env2.Entry))
		}
		for i, e := range env.Entry {
			if len(env2.Entry[i].Changes) != len(e.Changes) {
				t.Fatalf("entry %d: %d changes, %d after re-marshalling", i, len(e.Changes), len(env2.Entry[i].Changes))
			}
			for j, c := range e.Changes {
				v, err := DecodeChange(c)
				checkDecoded(t, c, v, err)
				// The re-marshalled value means the same: it decodes to the same result.
				v2, err2 := DecodeChange(env2.Entry[i].Changes[j])
				if (err == nil) != (err2 == nil) || !reflect.DeepEqual(v, v2) {
					t.Fatalf("change %d.%d: %#v, %v; after re-marshalling %#v, %v", i, j, v, err, v2, err2)
				}
			}
		}
	})
}
