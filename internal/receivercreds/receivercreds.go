// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

// Package receivercreds is the one Secret through which the manager hands the webhook
// receiver exactly the credentials it needs, and nothing else: each MetaApp's app secret
// (with the previous one during a rotation) and verify token, and the relay signing keys of
// MetaApps and CoexNumbers. The manager builds it from the tenants' Secrets (Build, Retain);
// the receiver reads only that Secret, in the operator's namespace, and so needs no right on
// any tenant's Secret (Values).
//
// A value is stored under Key(namespace, secret, key): the tenant Secret's namespace and name
// and the key within it, joined by "_". Namespaces and Secret names are DNS names, which never
// hold "_", so a key parses back without ambiguity (the Secret key itself may hold "_"). One
// longer than a Secret key may be is hashed (Key).
package receivercreds

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	v1 "github.com/coex-operator/coex-operator/api/v1alpha1"
)

// DefaultSecretName is the projection Secret's name in the operator's namespace.
const DefaultSecretName = "coex-receiver-credentials"

// PreviousSuffix names the previous value of an app secret: "app-secret.previous" beside
// "app-secret", in a tenant's Secret (kept as long as the tenant keeps it) or in the projection
// (kept by the manager for the rotation grace after the value changed).
const PreviousSuffix = ".previous"

// AnnotationPreviousUntil, on the projection Secret, maps each ".previous" key the manager
// retained to the time it drops it (JSON object of RFC 3339 times).
const AnnotationPreviousUntil = "whatsapp.coex.dev/previous-until"

// MaxBytes is the most the projection holds: the API server refuses a Secret over 1 MiB;
// the margin is for its metadata.
const MaxBytes = 1000 * 1024

// Ref is one key of a tenant Secret.
type Ref struct {
	Namespace, Name, Key string
}

// ProjectedKey is r's key in the projection.
func (r Ref) ProjectedKey() string { return Key(r.Namespace, r.Name, r.Key) }

// maxKeyLen is the longest Secret data key the API server takes.
const maxKeyLen = 253

// Key is the projection key of key in Secret namespace/name. One that would be longer than a
// Secret key may be (a long Secret name and key) is "h_" and the SHA-256 of the three instead,
// so no tenant's names can make the projection unwritable; it holds one "_", where every plain
// key holds two, so the two forms never meet.
func Key(namespace, name, key string) string {
	k := namespace + "_" + name + "_" + key
	if len(k) <= maxKeyLen {
		return k
	}
	sum := sha256.Sum256([]byte(namespace + "/" + name + "/" + key))
	return "h_" + hex.EncodeToString(sum[:])
}

// ParseKey splits a plain projection key back into its Ref (a hashed one does not parse).
func ParseKey(k string) (Ref, bool) {
	ns, rest, ok1 := strings.Cut(k, "_")
	name, key, ok2 := strings.Cut(rest, "_")
	if !ok1 || !ok2 || ns == "" || name == "" || key == "" {
		return Ref{}, false
	}
	return Ref{Namespace: ns, Name: name, Key: key}, true
}

// Needed lists the tenant Secret keys the receiver reads for these objects, sorted and
// without repeats. appSecret reports which of them are app secrets (the ones whose previous
// value is retained during a rotation).
func Needed(apps []v1.MetaApp, numbers []v1.CoexNumber) (refs []Ref, appSecret map[Ref]bool) {
	appSecret = map[Ref]bool{}
	add := func(ns string, sel v1.SecretKeySelector) {
		if sel.Name != "" && sel.Key != "" {
			refs = append(refs, Ref{Namespace: ns, Name: sel.Name, Key: sel.Key})
		}
	}
	for i := range apps {
		a := &apps[i]
		s := Ref{Namespace: a.Namespace, Name: a.Spec.AppSecretRef.Name, Key: a.Spec.AppSecretRef.Key}
		appSecret[s] = true
		add(a.Namespace, a.Spec.AppSecretRef)
		// A tenant doing a rotation by hand keeps the old secret beside the new one.
		add(a.Namespace, v1.SecretKeySelector{Name: s.Name, Key: s.Key + PreviousSuffix})
		add(a.Namespace, a.Spec.VerifyTokenRef)
		if a.Spec.Relay != nil {
			add(a.Namespace, a.Spec.Relay.SecretRef)
		}
	}
	for i := range numbers {
		if r := numbers[i].Spec.Relay; r != nil {
			add(numbers[i].Namespace, r.SecretRef)
		}
	}
	slices.SortFunc(refs, func(a, b Ref) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Key, b.Key))
	})
	return slices.Compact(refs), appSecret
}

// SecretData reads a tenant Secret's data; found is false when the Secret does not exist.
type SecretData func(namespace, name string) (data map[string][]byte, found bool, err error)

// Build reads each ref and returns the projection's data. A missing Secret or key is left
// out (the receiver then refuses that app's webhooks, as it would without the Secret); any
// other read error fails the build, so a passing API error never drops a credential.
func Build(refs []Ref, read SecretData) (map[string][]byte, error) {
	type secret struct {
		data  map[string][]byte
		found bool
	}
	read1 := map[[2]string]secret{}
	out := make(map[string][]byte, len(refs))
	for _, r := range refs {
		id := [2]string{r.Namespace, r.Name}
		s, ok := read1[id]
		if !ok {
			data, found, err := read(r.Namespace, r.Name)
			if err != nil {
				return nil, fmt.Errorf("read Secret %s/%s: %w", r.Namespace, r.Name, err)
			}
			s = secret{data, found}
			read1[id] = s
		}
		if v := s.data[r.Key]; s.found && len(v) > 0 {
			out[r.ProjectedKey()] = v
		}
	}
	return out, nil
}

// Retain carries an app secret's replaced value into the new projection for grace after the
// change, under its ".previous" key, so that webhooks Meta signed with the old secret (it
// retries them for days) still verify on every replica, including one started after the
// change. A ".previous" key the tenant set wins over a retained one. until is the projection's
// AnnotationPreviousUntil, read and returned updated.
func Retain(old, next map[string][]byte, appSecret map[Ref]bool, until map[string]time.Time, now time.Time, grace time.Duration) map[string]time.Time {
	kept := map[string]time.Time{}
	for ref := range appSecret {
		k := ref.ProjectedKey()
		prevKey := Ref{Namespace: ref.Namespace, Name: ref.Name, Key: ref.Key + PreviousSuffix}.ProjectedKey()
		if _, tenant := next[prevKey]; tenant {
			continue
		}
		switch cur, was := next[k], old[k]; {
		case len(was) > 0 && len(cur) > 0 && string(was) != string(cur):
			next[prevKey], kept[prevKey] = was, now.Add(grace)
		case until[prevKey].After(now) && len(old[prevKey]) > 0 && string(old[prevKey]) != string(cur):
			next[prevKey], kept[prevKey] = old[prevKey], until[prevKey]
		}
	}
	return kept
}

// Size is the bytes data takes in the Secret, keys included.
func Size(data map[string][]byte) int {
	n := 0
	for k, v := range data {
		n += len(k) + len(v)
	}
	return n
}

// ParseUntil reads AnnotationPreviousUntil; an unreadable value retains nothing.
func ParseUntil(annotations map[string]string) map[string]time.Time {
	out := map[string]time.Time{}
	_ = json.Unmarshal([]byte(annotations[AnnotationPreviousUntil]), &out)
	return out
}

// FormatUntil writes AnnotationPreviousUntil's value; empty when nothing is retained.
func FormatUntil(until map[string]time.Time) string {
	if len(until) == 0 {
		return ""
	}
	b, _ := json.Marshal(until)
	return string(b)
}

// OperatorNamespace is the namespace the operator runs in: $POD_NAMESPACE (the downward API,
// set by config/manager), else the pod's service account namespace file, else "default" (a
// manager and a receiver run by hand outside a cluster agree on it).
func OperatorNamespace() string {
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	if b, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace"); err == nil && len(b) > 0 {
		return strings.TrimSpace(string(b))
	}
	return "default"
}
