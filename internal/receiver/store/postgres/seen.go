// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package postgres

import (
	"container/list"
	"context"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
)

// A stream's item keys (message ids, chunks, contact changes) live in seen_sets, one row per
// transaction that stored some, and in the memory of the receiver applying the stream: a
// FirstSeen is a map lookup, and a batch writes one row per stream whatever its size. (One row
// and one index probe per key cost a few microseconds each on the server, which made them the
// receiver's largest cost.)
//
// A receiver's copy is current when its version equals the numbers row's seen_version, read
// with the row locked: every transaction that changes a stream's sets holds that lock and
// raises the version, so a copy made before another receiver (or a rolled-back transaction of
// this one) changed them is never used.

// seenSet is one stream's keys as of version.
type seenSet struct {
	stream  string
	version int64
	keys    map[string]struct{}
	bytes   int64 // an estimate of the memory it holds, for the cache's bound
}

// keyOverhead estimates a map entry's memory beyond the key's bytes (string header, slot,
// allocation rounding).
const keyOverhead = 48

func (s *seenSet) add(key string) {
	s.keys[key] = struct{}{}
	s.bytes += int64(len(key)) + keyOverhead
}

// seenCache keeps the sets of the streams applied lately, up to a byte budget, least recently
// used first out. A transaction takes a stream's set out while it applies the stream (no other
// transaction of this receiver can apply it meanwhile: the numbers row lock serializes them)
// and puts it back after its commit or rollback.
type seenCache struct {
	mu     sync.Mutex
	max    int64
	size   int64
	lru    *list.List // of *seenSet, most recent at the front
	byName map[string]*list.Element
}

func newSeenCache(maxBytes int64) *seenCache {
	return &seenCache{max: maxBytes, lru: list.New(), byName: map[string]*list.Element{}}
}

// take removes stream's set from the cache and returns it when it is at version; a set at
// another version is stale and dropped.
func (c *seenCache) take(stream string, version int64) *seenSet {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byName[stream]
	if !ok {
		return nil
	}
	s := e.Value.(*seenSet)
	c.lru.Remove(e)
	delete(c.byName, stream)
	c.size -= s.bytes
	if s.version != version {
		return nil
	}
	return s
}

// put keeps s, evicting the least recently used sets over the budget. A set larger than the
// whole budget is not kept: its stream's keys are read again by each transaction.
func (c *seenCache) put(s *seenSet) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byName[s.stream]; ok { // cannot happen while takes and puts pair up
		c.size -= e.Value.(*seenSet).bytes
		c.lru.Remove(e)
		delete(c.byName, s.stream)
	}
	if s.bytes > c.max {
		return
	}
	c.byName[s.stream] = c.lru.PushFront(s)
	c.size += s.bytes
	for c.size > c.max {
		old := c.lru.Remove(c.lru.Back()).(*seenSet)
		delete(c.byName, old.stream)
		c.size -= old.bytes
	}
}

// compactAbove is how many sets a stream may have before a transaction that reads them all
// merges them into one: a stream fed one webhook per batch would otherwise grow a row per
// webhook, and each read of it with them.
const compactAbove = 64

// loadSeen reads stream's sets in tx (which holds the numbers row lock), merging them into
// one row when there are more than compactAbove. Merging leaves the keys as they are, so the
// version stays.
func loadSeen(ctx context.Context, tx pgx.Tx, stream string, version int64) (*seenSet, error) {
	rows, err := tx.Query(ctx, `SELECT keys FROM seen_sets WHERE stream = $1`, stream)
	if err != nil {
		return nil, fmt.Errorf("seen keys of %s: %w", stream, err)
	}
	s := &seenSet{stream: stream, version: version, keys: map[string]struct{}{}}
	n := 0
	var keys [][]byte
	_, err = pgx.ForEachRow(rows, []any{&keys}, func() error {
		n++
		for _, k := range keys {
			s.add(string(k))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("seen keys of %s: %w", stream, err)
	}
	if n > compactAbove {
		all := make([][]byte, 0, len(s.keys))
		for k := range s.keys {
			all = append(all, []byte(k))
		}
		var b pgx.Batch
		b.Queue(`DELETE FROM seen_sets WHERE stream = $1`, stream)
		b.Queue(`INSERT INTO seen_sets (stream, keys) VALUES ($1, $2)`, stream, all)
		if err := tx.SendBatch(ctx, &b).Close(); err != nil {
			return nil, fmt.Errorf("merging the seen keys of %s: %w", stream, err)
		}
	}
	return s, nil
}
