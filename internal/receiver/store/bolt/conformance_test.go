// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package bolt_test

import (
	"sync"
	"testing"

	"github.com/coex-operator/coex-operator/internal/receiver/store"
	"github.com/coex-operator/coex-operator/internal/receiver/store/bolt"
	"github.com/coex-operator/coex-operator/internal/receiver/store/storetest"
)

// TestConformance runs the store suite against the embedded store. It allows one instance on
// its files (bbolt locks them), so the multi-receiver cases are skipped.
func TestConformance(t *testing.T) {
	var dirs sync.Map // *bolt.Store -> its directory
	open := func(t *testing.T, dir string) store.Store {
		s, err := bolt.Open(dir)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		dirs.Store(s, dir)
		return s
	}
	storetest.Run(t, storetest.Options{
		Open: func(t *testing.T) store.Store { return open(t, t.TempDir()) },
		Reopen: func(t *testing.T, s store.Store) store.Store {
			dir, _ := dirs.Load(s)
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			return open(t, dir.(string))
		},
	})
}
