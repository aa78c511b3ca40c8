// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/coex-operator/coex-operator/internal/receiver/store"
	"github.com/coex-operator/coex-operator/internal/receiver/store/bolt"
	"github.com/coex-operator/coex-operator/internal/receiver/store/postgres"
)

// storeFlags choose where the receiver keeps what it must not lose.
type storeFlags struct {
	kind    string // "bolt" or "postgres"
	dir     string // bolt: the volume's directory
	dsnFile string // postgres: a file holding the DSN (a mounted Secret)
}

// open opens the chosen store. The DSN is read from --postgres-dsn-file, else from
// $COEX_POSTGRES_DSN; it is never printed.
func (f storeFlags) open(ctx context.Context) (store.Store, error) {
	switch f.kind {
	case "bolt", "":
		return bolt.Open(f.dir)
	case "postgres":
		dsn, err := postgres.DSNFromEnvOrFile(f.dsnFile, "")
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		return postgres.Open(ctx, postgres.Options{DSN: dsn})
	default:
		return nil, fmt.Errorf("--store=%q: want bolt or postgres", f.kind)
	}
}

// printDeadLetters writes each dead letter as a JSON line: where it came from, when, why it
// was kept, its size and, if asked, its body. The bolt files are opened read-only.
func (f storeFlags) printDeadLetters(ctx context.Context, w io.Writer, withBodies bool) error {
	var letters []store.DeadLetter
	if f.kind == "bolt" || f.kind == "" {
		state, err := bolt.OpenStateReadOnly(filepath.Join(f.dir, bolt.StateFile))
		if err != nil {
			return err
		}
		defer state.Close()
		if letters, err = state.DeadLetters(); err != nil {
			return err
		}
	} else {
		st, err := f.open(ctx)
		if err != nil {
			return err
		}
		defer st.Close()
		if letters, err = st.DeadLetters(ctx); err != nil {
			return err
		}
	}
	enc := json.NewEncoder(w)
	for _, d := range letters {
		line := map[string]any{"seq": d.Seq, "namespace": d.Namespace, "metaapp": d.App,
			"receivedAt": d.ReceivedAt.UTC().Format(time.RFC3339Nano), "reason": d.Reason, "bytes": len(d.Body)}
		if withBodies {
			line["body"] = string(d.Body)
		}
		if err := enc.Encode(line); err != nil {
			return err
		}
	}
	return nil
}

// replayDeadLetters moves the dead letters back into the store's inbox.
func (f storeFlags) replayDeadLetters(ctx context.Context) (int, error) {
	st, err := f.open(ctx)
	if err != nil {
		return 0, err
	}
	defer st.Close()
	return st.ReplayDeadLetters(ctx)
}
