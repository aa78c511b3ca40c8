// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package receivercreds

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Source is the receiver's copy of the projection. It reads the one Secret with a GET (the
// receiver's identity may get that Secret by name, and may not list or watch any): every
// Interval, and at once, at most every MinInterval, when asked for a key it lacks, so a new
// MetaApp's webhooks verify a moment after the manager projected its Secret.
type Source struct {
	// Reader must not be a cache: a cached Secret read would list and watch Secrets.
	Reader          client.Reader
	Namespace, Name string
	// Interval between reads (default 10 s); MinInterval between reads a missing key
	// triggers (default 1 s).
	Interval, MinInterval time.Duration

	mu      sync.Mutex
	data    map[string][]byte
	loaded  bool
	lastErr error
	last    time.Time // start of the last read
	reading bool
}

// Value returns key in tenant Secret namespace/name, as last projected.
func (s *Source) Value(ctx context.Context, namespace, name, key string) ([]byte, bool) {
	k := Key(namespace, name, key)
	s.mu.Lock()
	v, ok := s.data[k]
	stale := !s.reading && time.Since(s.last) >= s.minInterval()
	s.mu.Unlock()
	if ok || !stale {
		return v, ok
	}
	_ = s.refresh(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok = s.data[k]
	return v, ok
}

// Ready fails until the projection has been read once, and names the last read error.
func (s *Source) Ready() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case !s.loaded && s.lastErr != nil:
		return fmt.Errorf("credentials Secret %s/%s not read yet: %w", s.Namespace, s.Name, s.lastErr)
	case !s.loaded:
		return fmt.Errorf("credentials Secret %s/%s not read yet", s.Namespace, s.Name)
	}
	return nil
}

// Start reads the projection every Interval until ctx ends (a manager.Runnable; every
// replica's receiver runs it, leader or not).
func (s *Source) Start(ctx context.Context) error {
	interval := s.Interval
	if interval <= 0 {
		interval = 10 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		_ = s.refresh(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// NeedLeaderElection: every replica reads its own copy.
func (s *Source) NeedLeaderElection() bool { return false }

func (s *Source) minInterval() time.Duration {
	if s.MinInterval > 0 {
		return s.MinInterval
	}
	return time.Second
}

// refresh reads the Secret once; one read at a time. Until a first read succeeds (the
// manager creates the Secret when it starts) the receiver is not ready.
func (s *Source) refresh(ctx context.Context) error {
	s.mu.Lock()
	if s.reading {
		s.mu.Unlock()
		return nil
	}
	s.reading, s.last = true, time.Now()
	s.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	sec := &corev1.Secret{}
	err := s.Reader.Get(ctx, client.ObjectKey{Namespace: s.Namespace, Name: s.Name}, sec)

	s.mu.Lock()
	defer s.mu.Unlock()
	s.reading = false
	if err != nil {
		// Keep the last copy: a passing API error, or the Secret deleted by hand (the manager
		// writes it again), must not refuse every tenant's webhooks.
		s.lastErr = err
		return err
	}
	s.data, s.loaded, s.lastErr = sec.Data, true, nil
	return nil
}
