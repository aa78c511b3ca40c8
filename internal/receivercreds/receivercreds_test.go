// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package receivercreds

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/coex-operator/coex-operator/api/v1alpha1"
)

func TestKeyRoundTrip(t *testing.T) {
	for _, r := range []Ref{
		{"ns", "app.secrets", "app-secret"},
		{"tenant-a", "s", "key_with_underscores.previous"},
	} {
		got, ok := ParseKey(r.ProjectedKey())
		if !ok || got != r {
			t.Errorf("ParseKey(%q) = %+v, %v; want %+v", r.ProjectedKey(), got, ok, r)
		}
	}
	// Names a tenant may choose that would overflow a Secret key (253) hash instead: the
	// projection stays writable, and both sides compute the same key.
	long := Ref{"tenant", strings.Repeat("s", 200), strings.Repeat("k", 100)}
	if k := long.ProjectedKey(); len(k) > 253 || !strings.HasPrefix(k, "h_") || k != Key(long.Namespace, long.Name, long.Key) {
		t.Errorf("long key = %q", k)
	}
	if prev := (Ref{long.Namespace, long.Name, long.Key + PreviousSuffix}).ProjectedKey(); prev == long.ProjectedKey() || len(prev) > 253 {
		t.Errorf("the previous value of a long key = %q", prev)
	}
	if _, ok := ParseKey(long.ProjectedKey()); ok {
		t.Error("a hashed key parsed as a plain one")
	}
	for _, bad := range []string{"", "ns", "ns_name", "_name_key", "ns__key", "ns_name_"} {
		if r, ok := ParseKey(bad); ok {
			t.Errorf("ParseKey(%q) = %+v, want no ref", bad, r)
		}
	}
}

// TestNeeded: exactly the keys the receiver reads, from apps and numbers, and nothing the
// manager alone reads (access tokens, signup codes).
func TestNeeded(t *testing.T) {
	relay := func(name string) *v1.RelaySpec {
		return &v1.RelaySpec{URL: "https://x", SecretRef: v1.SecretKeySelector{Name: name, Key: "hmac"}}
	}
	apps := []v1.MetaApp{{
		ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "app"},
		Spec: v1.MetaAppSpec{AppSecretRef: v1.SecretKeySelector{Name: "meta", Key: "secret"},
			VerifyTokenRef: v1.SecretKeySelector{Name: "meta", Key: "verify"}, Relay: relay("relay")},
	}}
	nums := []v1.CoexNumber{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "n1"}, Spec: v1.CoexNumberSpec{
			TokenSecretRef: &v1.SecretKeySelector{Name: "token", Key: "token"}, Relay: relay("own")}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "n2"}, Spec: v1.CoexNumberSpec{
			SignupCodeSecretRef: &v1.SecretKeySelector{Name: "code", Key: "code"}, Relay: relay("relay")}},
	}
	refs, appSecret := Needed(apps, nums)
	want := []Ref{{"a", "meta", "secret"}, {"a", "meta", "secret.previous"}, {"a", "meta", "verify"},
		{"a", "own", "hmac"}, {"a", "relay", "hmac"}}
	if !slices.Equal(refs, want) {
		t.Errorf("Needed = %+v\nwant %+v", refs, want)
	}
	if !maps.Equal(appSecret, map[Ref]bool{{"a", "meta", "secret"}: true}) {
		t.Errorf("app secrets = %v", appSecret)
	}
}

func TestBuild(t *testing.T) {
	secrets := map[string]map[string][]byte{
		"a/meta": {"secret": []byte("s"), "verify": []byte("v"), "other": []byte("never copied"), "empty": nil},
	}
	reads := 0
	read := func(ns, name string) (map[string][]byte, bool, error) {
		reads++
		d, ok := secrets[ns+"/"+name]
		return d, ok, nil
	}
	refs := []Ref{{"a", "meta", "secret"}, {"a", "meta", "verify"}, {"a", "meta", "empty"}, {"a", "gone", "k"}}
	got, err := Build(refs, read)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{"a_meta_secret": []byte("s"), "a_meta_verify": []byte("v")}
	if !maps.EqualFunc(got, want, func(a, b []byte) bool { return string(a) == string(b) }) {
		t.Errorf("Build = %q, want %q", got, want)
	}
	if reads != 2 {
		t.Errorf("%d reads, want one per Secret (2)", reads)
	}
	boom := errors.New("etcd timeout")
	if _, err := Build(refs, func(string, string) (map[string][]byte, bool, error) { return nil, false, boom }); !errors.Is(err, boom) {
		t.Errorf("Build with a failing read = %v; a passing error must not drop credentials silently", err)
	}
}

// TestRetain walks a rotation: the old value stays for the grace, survives rebuilds within it,
// goes after it, and never shadows a previous value the tenant set.
func TestRetain(t *testing.T) {
	ref := Ref{"a", "meta", "secret"}
	app := map[Ref]bool{ref: true}
	k, prev := ref.ProjectedKey(), ref.ProjectedKey()+PreviousSuffix
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	grace := 15 * time.Minute

	v1data := map[string][]byte{k: []byte("one")}
	until := Retain(nil, v1data, app, nil, t0, grace)
	if len(until) != 0 || len(v1data) != 1 {
		t.Fatalf("first projection retained %v", until)
	}
	// Rotated.
	v2 := map[string][]byte{k: []byte("two")}
	until = Retain(v1data, v2, app, until, t0.Add(time.Minute), grace)
	if string(v2[prev]) != "one" || !until[prev].Equal(t0.Add(time.Minute+grace)) {
		t.Fatalf("after the rotation: %q until %v; want the old value kept for the grace", v2, until)
	}
	// Rebuilt within the grace (another app changed): still kept, same deadline.
	v3 := map[string][]byte{k: []byte("two")}
	until3 := Retain(v2, v3, app, until, t0.Add(10*time.Minute), grace)
	if string(v3[prev]) != "one" || !until3[prev].Equal(until[prev]) {
		t.Errorf("rebuilt within the grace: %q until %v", v3, until3)
	}
	// Rebuilt after it: gone.
	v4 := map[string][]byte{k: []byte("two")}
	if until4 := Retain(v3, v4, app, until3, t0.Add(time.Minute+grace+time.Second), grace); len(until4) != 0 || v4[prev] != nil {
		t.Errorf("after the grace: %q until %v; want the old value dropped", v4, until4)
	}
	// Rotated back to the retained value: nothing to keep beside itself.
	v5 := map[string][]byte{k: []byte("one")}
	if Retain(v2, v5, app, until, t0.Add(2*time.Minute), grace); string(v5[prev]) != "two" {
		t.Errorf("rotated back: %q; want the value just replaced kept", v5)
	}
	// The tenant keeps its own previous value: it wins, and nothing is retained.
	v6 := map[string][]byte{k: []byte("three"), prev: []byte("tenant's")}
	if u := Retain(v2, v6, app, until, t0.Add(2*time.Minute), grace); len(u) != 0 || string(v6[prev]) != "tenant's" {
		t.Errorf("tenant's previous: %q until %v", v6, u)
	}
	// Verify tokens and relay keys are not app secrets: no previous value kept.
	other := Ref{"a", "meta", "verify"}.ProjectedKey()
	v7 := map[string][]byte{k: []byte("two"), other: []byte("new")}
	Retain(map[string][]byte{k: []byte("two"), other: []byte("old")}, v7, app, nil, t0, grace)
	if _, ok := v7[other+PreviousSuffix]; ok {
		t.Errorf("a verify token's previous value was kept: %q", v7)
	}
}

// TestRetainLongKey: a hashed app secret key keeps its previous value under the key the
// receiver looks up (the hash of "<key>.previous", not the hash plus a suffix).
func TestRetainLongKey(t *testing.T) {
	ref := Ref{"a", strings.Repeat("n", 250), "secret"}
	old := map[string][]byte{ref.ProjectedKey(): []byte("one")}
	next := map[string][]byte{ref.ProjectedKey(): []byte("two")}
	Retain(old, next, map[Ref]bool{ref: true}, nil, time.Now(), time.Minute)
	if got := next[Key(ref.Namespace, ref.Name, ref.Key+PreviousSuffix)]; string(got) != "one" {
		t.Errorf("previous value under the receiver's key = %q, want one; projection %q", got, next)
	}
}

func TestUntilRoundTrip(t *testing.T) {
	u := map[string]time.Time{"a_b_c.previous": time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	got := ParseUntil(map[string]string{AnnotationPreviousUntil: FormatUntil(u)})
	if !maps.EqualFunc(got, u, time.Time.Equal) {
		t.Errorf("round trip = %v, want %v", got, u)
	}
	if FormatUntil(nil) != "" || len(ParseUntil(map[string]string{AnnotationPreviousUntil: "{bad"})) != 0 {
		t.Error("empty or unreadable annotations must retain nothing")
	}
}
