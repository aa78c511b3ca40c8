// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package receivercreds

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// secretReader serves one Secret (or err) and counts the reads.
type secretReader struct {
	mu    sync.Mutex
	data  map[string][]byte
	err   error
	reads int
}

func (r *secretReader) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reads++
	if key != (client.ObjectKey{Namespace: "ops", Name: DefaultSecretName}) {
		return errors.New("the receiver read a Secret other than its own: " + key.String())
	}
	if r.err != nil {
		return r.err
	}
	obj.(*corev1.Secret).Data = r.data
	return nil
}

func (r *secretReader) List(context.Context, client.ObjectList, ...client.ListOption) error {
	return errors.New("the receiver may not list Secrets")
}

func (r *secretReader) set(data map[string][]byte, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.data, r.err = data, err
}

func (r *secretReader) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reads
}

func TestSource(t *testing.T) {
	ctx := context.Background()
	r := &secretReader{err: errors.New("forbidden")}
	s := &Source{Reader: r, Namespace: "ops", Name: DefaultSecretName, MinInterval: time.Hour}
	if err := s.Ready(); err == nil {
		t.Fatal("ready before any read")
	}
	if _, ok := s.Value(ctx, "a", "meta", "secret"); ok {
		t.Fatal("a value before any read")
	}
	if err := s.Ready(); err == nil || !errorsContains(err, "forbidden") {
		t.Errorf("Ready after a failed read = %v; want it to name the error", err)
	}

	// A miss reads at once, but at most once per MinInterval.
	r.set(map[string][]byte{Key("a", "meta", "secret"): []byte("s1")}, nil)
	s.MinInterval = 0
	s.last = time.Time{}
	if v, ok := s.Value(ctx, "a", "meta", "secret"); !ok || string(v) != "s1" {
		t.Fatalf("Value after the Secret appeared = %q, %v", v, ok)
	}
	if err := s.Ready(); err != nil {
		t.Errorf("Ready after a read = %v", err)
	}
	s.MinInterval = time.Hour
	before := r.count()
	for range 100 {
		s.Value(ctx, "b", "unknown", "k") // an unknown app, say a probe from the internet
	}
	if n := r.count() - before; n != 0 {
		t.Errorf("100 misses within MinInterval read the Secret %d times, want 0", n)
	}
	// A hit never reads.
	s.Value(ctx, "a", "meta", "secret")
	if n := r.count() - before; n != 0 {
		t.Errorf("a hit read the Secret")
	}

	// A failed refresh keeps the last copy (and readiness).
	r.set(nil, errors.New("etcd timeout"))
	_ = s.refresh(ctx)
	if v, ok := s.Value(ctx, "a", "meta", "secret"); !ok || string(v) != "s1" {
		t.Errorf("after a failed refresh: %q, %v; want the last copy", v, ok)
	}
	if err := s.Ready(); err != nil {
		t.Errorf("Ready after a failed refresh that follows a good one = %v", err)
	}
	// A rotation is seen at the next refresh.
	r.set(map[string][]byte{Key("a", "meta", "secret"): []byte("s2")}, nil)
	_ = s.refresh(ctx)
	if v, _ := s.Value(ctx, "a", "meta", "secret"); string(v) != "s2" {
		t.Errorf("after the rotation: %q, want s2", v)
	}
}

func errorsContains(err error, s string) bool { return err != nil && strings.Contains(err.Error(), s) }
