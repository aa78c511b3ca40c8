// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package storetest_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/coex-operator/coex-operator/internal/receiver/store"
	"github.com/coex-operator/coex-operator/internal/receiver/store/storetest"
)

func memOptions() storetest.Options {
	return storetest.Options{
		Open: func(*testing.T) store.Store { return newMemData().open() },
		Reopen: func(_ *testing.T, s store.Store) store.Store {
			m := s.(*memStore)
			m.Close()
			d := m.d
			switch mutant {
			case "reopen-loses":
				d = newMemData()
			case "seen-not-durable":
				clear(d.seen)
			}
			return d.open()
		},
		Second: func(_ *testing.T, s store.Store) store.Store { return s.(*memStore).d.open() },
		Crash:  func(_ *testing.T, s store.Store) { s.(*memStore).drop(mutant == "crash-keeps") },
		// Waiting for a mutant that never frees is the only slow part.
		FreeWithin: time.Second,
	}
}

// The suite passes on a correct store.
func TestMemStore(t *testing.T) {
	storetest.Run(t, memOptions())
}

// Each mutant breaks one promise; the suite must notice, in the case named. Each runs the
// suite in a child process (a failing case cannot be observed from inside the test).
func TestMutants(t *testing.T) {
	if mutant != "" {
		t.Skip("in a mutant's child process")
	}
	if testing.Short() {
		t.Skip("short")
	}
	for name, want := range map[string]string{
		"reopen-loses":         "AppendSeqSurvivesReopen",
		"append-drops":         "ConcurrentAppends",
		"claim-ignores-max":    "ClaimOrderAndLimits",
		"claim-unordered":      "ClaimOrderAndLimits",
		"apply-keeps-records":  "ApplyCommitsAndRemoves",
		"failed-apply-commits": "FailedApplyCommitsNothing",
		"release-drops":        "ReleaseGivesBack",
		"no-order-check":       "PipelinedClaims",
		"no-body-dedup":        "Dedup",
		"seen-not-durable":     "Dedup",
		"tx-number-fresh":      "NumberSavedOnCommit",
		"uid-keeps-seen":       "NumberNewUID",
		"uid-drops-outbox":     "NumberNewUID",
		"touched-all":          "Touched",
		"ack-all":              "OutboxOrderPeekAck",
		"outbox-seq-reuse":     "OutboxOrderPeekAck",
		"streams-all":          "OutboxOrderPeekAck",
		"lease-shared":         "LeaseExclusive",
		"dead-dup":             "DeadLetters",
		"dead-keeps-hash":      "DeadLetters",
		"replay-keeps":         "DeadLetters",
		"prune-all":            "PruneBodies",
		"numbers-missing":      "CountsAndNumbers",
		"outbox-depth-zero":    "Depths",
		"no-signal":            "Signals",
		"app-shared":           "MultiClaimsExclusive",
		"close-keeps":          "MultiClosedFrees",
		"crash-keeps":          "MultiCrashedFrees",
		"no-cross-signal":      "MultiSignals",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestMemStore$", "-test.v", "-test.count=1", "-test.timeout=2m")
			cmd.Env = append(os.Environ(), "STORETEST_MUTANT="+name)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed on mutant %s", name)
			}
			if !strings.Contains(string(out), "--- FAIL: TestMemStore/"+want+" ") {
				t.Errorf("mutant %s: case %s did not fail; output:\n%s", name, want, out)
			}
		})
	}
}
