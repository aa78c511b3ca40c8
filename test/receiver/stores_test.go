// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package receiver_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/coex-operator/coex-operator/internal/pgtest"
)

// backend is where the receiver binary keeps what it must not lose.
type backend string

const (
	boltBackend     backend = "bolt"     // embedded files under the world's spool folder
	postgresBackend backend = "postgres" // a database of its own on the test binary's server
)

// backends are the stores every black-box suite that uses eachBackend runs against.
var backends = []backend{boltBackend, postgresBackend}

// eachBackend runs fn once per store, as subtests named after it. Without PostgreSQL on the
// machine its subtest is skipped with pgtest's message (CI requires it: COEX_REQUIRE_POSTGRES).
func eachBackend(t *testing.T, fn func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(string(b), func(t *testing.T) { fn(t, b) })
	}
}

// storeArgs are the receiver's flags for w's store. A postgres world gets a fresh database
// the first time (and after forgetStore), its DSN in a file as a mounted Secret would give it.
func (w *world) storeArgs(dir string) []string {
	args := []string{"--spool-dir", w.spool}
	if w.backend != postgresBackend {
		return args
	}
	if w.dsn == "" {
		w.dsn = pgtest.Shared(w.tb).NewDatabase(w.tb)
	}
	file := filepath.Join(dir, "postgres-dsn")
	must(w.tb, os.WriteFile(file, []byte(w.dsn+"\n"), 0o600))
	return append(args, "--store", "postgres", "--postgres-dsn-file", file)
}

// forgetStore loses everything the receiver kept, as a lost volume or database would: the
// spool folder for bolt, the whole database for postgres (the next start gets a new one).
// Call it with the receiver stopped.
func (w *world) forgetStore() {
	must(w.tb, os.RemoveAll(w.spool))
	if w.dsn != "" {
		w.dsn = ""
		w.storeArgs(w.rcv.Dir) // the same file, now naming a new database
	}
}
