// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package postgres

import (
	"fmt"
	"testing"
)

func newSet(stream string, version int64, keys int) *seenSet {
	s := &seenSet{stream: stream, version: version, keys: map[string]struct{}{}}
	for i := range keys {
		s.add(fmt.Sprintf("key-%04d", i))
	}
	return s
}

// The cache gives a set back only at the version asked for, keeps at most its budget (least
// recently used out first) and does not keep a set larger than the budget.
func TestSeenCache(t *testing.T) {
	one := newSet("ns/a", 1, 10) // 10 * (8+48) = 560 bytes
	c := newSeenCache(3 * one.bytes)

	c.put(one)
	if got := c.take("ns/a", 2); got != nil {
		t.Fatalf("take at another version = %v, want nil (stale)", got)
	}
	if got := c.take("ns/a", 1); got != nil {
		t.Fatalf("a stale set was dropped by the take that found it, yet came back: %v", got)
	}
	if c.size != 0 || c.lru.Len() != 0 {
		t.Fatalf("after takes, size %d with %d sets, want empty", c.size, c.lru.Len())
	}

	for _, s := range []string{"ns/a", "ns/b", "ns/c"} {
		c.put(newSet(s, 1, 10))
	}
	if got := c.take("ns/a", 1); got == nil { // a is now the most recent
		t.Fatal("ns/a was evicted within the budget")
	} else {
		c.put(got)
	}
	c.put(newSet("ns/d", 1, 10)) // over the budget: b, the least recently used, goes
	if c.take("ns/b", 1) != nil {
		t.Error("ns/b, the least recently used, was kept over the budget")
	}
	for _, s := range []string{"ns/a", "ns/c", "ns/d"} {
		if got := c.take(s, 1); got == nil || len(got.keys) != 10 {
			t.Errorf("take(%s) = %v, want its 10 keys", s, got)
		}
	}
	if c.size != 0 {
		t.Errorf("size %d after taking every set, want 0", c.size)
	}

	c.put(newSet("ns/huge", 1, 40))
	if c.take("ns/huge", 1) != nil || c.size != 0 {
		t.Error("a set larger than the whole budget was kept")
	}
}
