// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLockKey is the pg_advisory_xact_lock every Open takes while migrating: receivers
// starting together migrate one after the other, and the later ones find nothing to do.
const migrationLockKey int64 = 0x636f65785f6d6967 // "coex_mig"

type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in order. Their versions must be 1, 2, 3, …
// without a gap, so a renumbering mistake fails every test rather than skipping a step.
func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		prefix, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(prefix)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("migration %s is not named NNNN_name.sql", e.Name())
		}
		b, err := migrationFiles.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(b)})
	}
	slices.SortFunc(out, func(a, b migration) int { return a.version - b.version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: expected version %d", m.name, i+1)
		}
	}
	return out, nil
}

// latestVersion is the schema version this code runs on.
func latestVersion() int {
	ms, err := migrations()
	if err != nil {
		panic(err) // the files are embedded: a test catches this before a release does
	}
	return len(ms)
}

// beginner is a pool or a connection.
type beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// migrate brings the schema to version upTo in one transaction, under migrationLockKey. It
// returns the version found and the version left. A database already past upTo (a newer
// receiver migrated it during a rolling update) is left alone: migrations are additive, so
// this code still works on it.
func migrate(ctx context.Context, db beginner, upTo int) (from, to int, err error) {
	ms, err := migrations()
	if err != nil {
		return 0, 0, err
	}
	tx, err := db.Begin(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("migrating the schema: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLockKey); err != nil {
		return 0, 0, fmt.Errorf("migrating the schema: lock: %w", err)
	}
	// Created under the lock: two CREATE TABLE IF NOT EXISTS racing can both fail.
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return 0, 0, fmt.Errorf("migrating the schema: %w", err)
	}
	if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&from); err != nil {
		return 0, 0, fmt.Errorf("migrating the schema: %w", err)
	}
	to = from
	for _, m := range ms {
		if m.version <= from || m.version > upTo {
			continue
		}
		// No arguments: pgx sends it with the simple protocol, which runs a file of statements.
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return from, to, fmt.Errorf("migration %s: %w", m.name, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version) VALUES ($1)", m.version); err != nil {
			return from, to, fmt.Errorf("migration %s: %w", m.name, err)
		}
		to = m.version
	}
	if err := tx.Commit(ctx); err != nil {
		return from, from, fmt.Errorf("migrating the schema: commit: %w", err)
	}
	return from, to, nil
}
