// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package receiver

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/coex-operator/coex-operator/api/v1alpha1"
	"github.com/coex-operator/coex-operator/internal/receiver/ingest"
	"github.com/coex-operator/coex-operator/internal/receiver/process"
	"github.com/coex-operator/coex-operator/internal/receiver/relay"
)

// Field indexes the receiver looks CoexNumbers up by.
const (
	IndexPhoneNumberID = "spec.phoneNumberID"
	IndexWABAID        = "spec.wabaID"
)

// IndexFields registers the receiver's field indexes on the cache.
func IndexFields(ctx context.Context, idx client.FieldIndexer) error {
	if err := idx.IndexField(ctx, &v1.CoexNumber{}, IndexPhoneNumberID, func(o client.Object) []string {
		return []string{o.(*v1.CoexNumber).Spec.PhoneNumberID}
	}); err != nil {
		return err
	}
	return idx.IndexField(ctx, &v1.CoexNumber{}, IndexWABAID, func(o client.Object) []string {
		return []string{o.(*v1.CoexNumber).Spec.WABAID}
	})
}

// Kube answers the receiver's questions from the cluster (through a cache): which CoexNumber a
// webhook is about (process.Resolver), a MetaApp's credentials (ingest.CredentialSource), and
// a number's relay endpoint (relay.EndpointFunc). Secret values come from Secrets, the
// projection the manager keeps of exactly the keys the receiver needs (package
// receivercreds): the receiver holds no right on any tenant's Secret. They are looked up at
// each question, so a rotation needs no restart.
type Kube struct {
	Reader  client.Reader
	Secrets SecretValues
	// RotationGrace is how long a replaced app secret still verifies webhooks (default 15 min):
	// Meta keeps retrying deliveries it signed with the old one.
	RotationGrace time.Duration
	Now           func() time.Time

	mu      sync.Mutex
	secrets map[string]rotatedSecret
}

type rotatedSecret struct {
	current, previous []byte
	changedAt         time.Time
}

// ByPhoneNumberID implements process.Resolver.
func (k *Kube) ByPhoneNumberID(ns, app, phoneNumberID string) (process.Target, bool, error) {
	nums, err := k.list(ns, app, IndexPhoneNumberID, phoneNumberID)
	if err != nil || len(nums) == 0 {
		return process.Target{}, false, err
	}
	t, err := k.target(&nums[0])
	return t, err == nil, err
}

// ByWABA implements process.Resolver.
func (k *Kube) ByWABA(ns, app, wabaID string) ([]process.Target, error) {
	nums, err := k.list(ns, app, IndexWABAID, wabaID)
	if err != nil {
		return nil, err
	}
	out := make([]process.Target, 0, len(nums))
	for i := range nums {
		t, err := k.target(&nums[i])
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// list finds the app's numbers with an indexed field, oldest first: two objects claiming one
// phone number is a mistake, and the first one keeps receiving.
func (k *Kube) list(ns, app, index, value string) ([]v1.CoexNumber, error) {
	var l v1.CoexNumberList
	if err := k.Reader.List(context.Background(), &l, client.InNamespace(ns), client.MatchingFields{index: value}); err != nil {
		return nil, fmt.Errorf("list CoexNumbers by %s: %w", index, err)
	}
	out := slices.DeleteFunc(l.Items, func(n v1.CoexNumber) bool { return n.Spec.AppRef.Name != app })
	slices.SortFunc(out, func(a, b v1.CoexNumber) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out, nil
}

func (k *Kube) target(n *v1.CoexNumber) (process.Target, error) {
	relayed := n.Spec.Relay != nil
	if !relayed {
		app, err := k.app(n.Namespace, n.Spec.AppRef.Name)
		if err != nil && !apierrors.IsNotFound(err) {
			return process.Target{}, err
		}
		relayed = app != nil && app.Spec.Relay != nil
	}
	return process.Target{Namespace: n.Namespace, Name: n.Name, UID: string(n.UID), PhoneNumberID: n.Spec.PhoneNumberID,
		WABAID: n.Spec.WABAID, DisplayPhoneNumber: n.Spec.DisplayPhoneNumber, OnboardedAt: n.SyncWindowStart().Time,
		Relay: relayed}, nil
}

func (k *Kube) app(ns, name string) (*v1.MetaApp, error) {
	app := &v1.MetaApp{}
	if err := k.Reader.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, app); err != nil {
		return nil, err
	}
	return app, nil
}

// Credentials implements ingest.CredentialSource.
func (k *Kube) Credentials(ctx context.Context, ns, name string) (ingest.Credentials, error) {
	app := &v1.MetaApp{}
	if err := k.Reader.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, app); err != nil {
		if apierrors.IsNotFound(err) {
			return ingest.Credentials{}, ingest.ErrUnknownApp
		}
		return ingest.Credentials{}, err
	}
	secret, err := k.secretKey(ctx, ns, app.Spec.AppSecretRef)
	if err != nil {
		return ingest.Credentials{}, fmt.Errorf("%w: app secret: %v", ingest.ErrNoCredentials, err)
	}
	token, err := k.secretKey(ctx, ns, app.Spec.VerifyTokenRef)
	if err != nil {
		return ingest.Credentials{}, fmt.Errorf("%w: verify token: %v", ingest.ErrNoCredentials, err)
	}
	secrets := k.rotation(ns+"/"+name, secret)
	// A "<key>.previous" entry beside the app secret keeps the replaced secret valid for as
	// long as it is there, across receiver restarts (the grace above is in memory only).
	prevRef := v1.SecretKeySelector{Name: app.Spec.AppSecretRef.Name, Key: app.Spec.AppSecretRef.Key + PreviousKeySuffix}
	if prev, err := k.secretKey(ctx, ns, prevRef); err == nil && !slices.ContainsFunc(secrets, func(s []byte) bool { return bytes.Equal(s, prev) }) {
		secrets = append(secrets, prev)
	}
	return ingest.Credentials{AppSecrets: secrets, VerifyToken: token}, nil
}

// PreviousKeySuffix names the Secret key that holds a MetaApp's previous app secret during a
// rotation: "app-secret.previous" beside "app-secret".
const PreviousKeySuffix = ".previous"

// rotation returns the app secrets that verify webhooks now: the current one and, within the
// grace period after a change, the one before.
func (k *Kube) rotation(key string, current []byte) [][]byte {
	now := time.Now()
	if k.Now != nil {
		now = k.Now()
	}
	grace := k.RotationGrace
	if grace <= 0 {
		grace = 15 * time.Minute
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.secrets == nil {
		k.secrets = map[string]rotatedSecret{}
	}
	r, seen := k.secrets[key]
	if !seen || !bytes.Equal(r.current, current) {
		if seen {
			r = rotatedSecret{current: current, previous: r.current, changedAt: now}
		} else {
			r = rotatedSecret{current: current}
		}
		k.secrets[key] = r
	}
	if r.previous != nil && now.Sub(r.changedAt) < grace {
		return [][]byte{r.current, r.previous}
	}
	return [][]byte{r.current}
}

// Endpoint is a relay.EndpointFunc: the number's spec.relay, or its MetaApp's.
func (k *Kube) Endpoint(stream string) (relay.Endpoint, bool, error) {
	ns, name, _ := strings.Cut(stream, "/")
	ctx := context.Background()
	n := &v1.CoexNumber{}
	if err := k.Reader.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, n); err != nil {
		if apierrors.IsNotFound(err) {
			return relay.Endpoint{}, false, nil
		}
		return relay.Endpoint{}, false, err
	}
	spec := n.Spec.Relay
	if spec == nil {
		app, err := k.app(ns, n.Spec.AppRef.Name)
		if err != nil {
			if apierrors.IsNotFound(err) {
				return relay.Endpoint{}, false, nil
			}
			return relay.Endpoint{}, false, err
		}
		spec = app.Spec.Relay
	}
	if spec == nil {
		return relay.Endpoint{}, false, nil
	}
	secret, err := k.secretKey(ctx, ns, spec.SecretRef)
	if err != nil {
		return relay.Endpoint{}, false, nil
	}
	return relay.Endpoint{URL: spec.URL, Secret: secret}, true, nil
}

// SecretValues hands out tenant Secret values (receivercreds.Source in production).
type SecretValues interface {
	Value(ctx context.Context, namespace, name, key string) ([]byte, bool)
}

func (k *Kube) secretKey(ctx context.Context, ns string, ref v1.SecretKeySelector) ([]byte, error) {
	v, ok := k.Secrets.Value(ctx, ns, ref.Name, ref.Key)
	if !ok || len(v) == 0 {
		return nil, fmt.Errorf("key %q of Secret %s/%s is not among the receiver's credentials (missing, or not projected yet)", ref.Key, ns, ref.Name)
	}
	return v, nil
}
