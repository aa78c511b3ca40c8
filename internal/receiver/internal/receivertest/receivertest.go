// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

// Package receivertest holds the fixtures that the tests of several receiver packages share:
// the MetaApp and CoexNumbers they receive webhooks for, Meta's webhook bodies as the tests
// build them (bodies.go), a settable clock, bolt stores in temporary directories, and a
// client.Reader over fixed objects (kube.go).
//
// It imports none of the receiver's packages but the store, so that each package's tests,
// written inside the package they test, can use it without an import cycle. For the same
// reason what speaks a package's own types stays in that package's tests: the dispatcher
// harness and its fake resolver (process.Target) in process, the webhook server fixture in
// ingest.
package receivertest

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/coex-operator/coex-operator/internal/receiver/store"
	"github.com/coex-operator/coex-operator/internal/receiver/store/bolt"
)

// The MetaApp and numbers the tests receive webhooks for. The phone number id, WABA id and
// display number are those of Meta's examples in internal/webhook/testdata.
const (
	NS           = "tenant"
	App          = "shop-app"
	WABA         = "102290129340398"
	PhoneID      = "106540352242922"
	Display      = "15550783881"
	OtherPhoneID = "106540352242999"
	OtherDisplay = "+1 555-078-3882"
	// Stream and OtherStream are the outbox streams (and state keys) of the CoexNumbers
	// NS/shop and NS/shop-two, which have PhoneID and OtherPhoneID.
	Stream      = NS + "/shop"
	OtherStream = NS + "/shop-two"
	// TestdataDir holds Meta's example bodies. go test runs in the tested package's
	// directory, and every package that reads them is one level under internal/receiver.
	TestdataDir = "../../webhook/testdata"
)

// OnboardedAt is when the test numbers were onboarded: after Meta's history examples (Feb
// 2025), before its messages examples (Jun 2025).
var OnboardedAt = time.Unix(1_745_000_000, 0).UTC()

// ReadTestdata returns one of Meta's example bodies.
func ReadTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(TestdataDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Clock is a settable clock for the Now fields.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock at a fixed instant, which only the test moves.
func NewClock() *Clock { return ClockAt(time.Unix(1_800_000_000, 0)) }

// ClockAt returns a clock at t.
func ClockAt(t time.Time) *Clock { return &Clock{t: t} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// WaitUntil polls cond; the deadline only bounds a broken test, nothing is timed.
func WaitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// NewStore is a bolt store in a temporary directory, closed when the test ends.
func NewStore(t *testing.T) *bolt.Store {
	t.Helper()
	s, err := bolt.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// Spooled returns the records waiting in s's inbox, claimed and given back.
func Spooled(t *testing.T, s store.Store) []store.Record {
	t.Helper()
	b, err := s.Claim(context.Background(), 1000, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	if b == nil {
		return nil
	}
	defer b.Release()
	return b.Records()
}

// RecordBodies returns the records' bodies as strings, for comparing and printing.
func RecordBodies(recs []store.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = string(r.Body)
	}
	return out
}
