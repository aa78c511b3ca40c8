// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// A bad command line is refused before anything starts, with exit status 2 and a message
// that names what is wrong.
func TestBadCommandLines(t *testing.T) {
	dir := t.TempDir()
	badFile := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(badFile, []byte("repeat_sync_answer: sometimes\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		args []string
		want string // in the error or on stderr
	}{
		"unknown repeat sync answer":  {[]string{"--repeat-sync-answer", "maybe"}, "code-only"},
		"lost-response share above 1": {[]string{"--fault-lost-response", "1.5"}, "share_lost_response"},
		"shares adding up above 1":    {[]string{"--fault-429", "0.6", "--fault-lost-response", "0.6"}, "more than 1"},
		"page size zero":              {[]string{"--list-page-size", "0"}, "list-page-size"},
		"unknown flag":                {[]string{"--no-such-flag"}, "no-such-flag"},
		"unknown mode in the file":    {[]string{"--scenario", badFile}, "sometimes"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), append(tc.args, "--listen", "127.0.0.1:0"), &stdout, &stderr)
			if code := exitCode(err); code != 2 {
				t.Fatalf("exit status %d (%v), want 2", code, err)
			}
			if !strings.Contains(err.Error()+stderr.String(), tc.want) {
				t.Errorf("error %q and stderr do not name %q", err, tc.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("it started anyway: %s", stdout.String())
			}
		})
	}
}

// syncBuffer is stdout written by run's goroutine and read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The flags reach the running simulator: its control API reports them. The flag's mode wins
// over the scenario file's.
func TestFlagsReachTheSimulator(t *testing.T) {
	file := filepath.Join(t.TempDir(), "s.yaml")
	if err := os.WriteFile(file, []byte("repeat_sync_answer: unknown\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--listen", "127.0.0.1:0", "--scenario", file,
			"--repeat-sync-answer", "code-only", "--fault-lost-response", "0.25"}, &stdout, &stderr)
	}()
	addr := regexp.MustCompile(`listening on (http://\S+)`)
	var base string
	for deadline := time.Now().Add(30 * time.Second); base == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := addr.FindStringSubmatch(stdout.String()); m != nil {
			base = m[1]
		}
	}
	if base == "" {
		cancel()
		t.Fatalf("did not start: %s", stderr.String())
	}
	get := func(path string, out any) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	var mode struct {
		Mode string `json:"repeat_sync_answer"`
	}
	get("/_sim/repeat-sync-answer", &mode)
	var faults struct {
		Lost float64 `json:"share_lost_response"`
	}
	get("/_sim/faults", &faults)
	if mode.Mode != "code-only" || faults.Lost != 0.25 {
		t.Errorf("running with mode %q and lost share %v, want code-only and 0.25", mode.Mode, faults.Lost)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("shutdown: %v", err)
	}
}
