// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package pgtest_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/coex-operator/coex-operator/internal/pgtest"
)

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func exec(t *testing.T, conn *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := conn.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func count(t *testing.T, conn *pgx.Conn, sql string) int {
	t.Helper()
	var n int
	if err := conn.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func TestCommittedRowsSurviveKill(t *testing.T) {
	t.Parallel()
	s := pgtest.Start(t)
	conn := connect(t, s.DSN())
	exec(t, conn, "CREATE TABLE kv (k text PRIMARY KEY, v text)")
	exec(t, conn, "INSERT INTO kv VALUES ('a', '1'), ('b', '2')")
	tx, err := conn.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(context.Background(), "INSERT INTO kv VALUES ('uncommitted', '3')"); err != nil {
		t.Fatal(err)
	}

	s.Kill(t)
	if err := conn.Ping(context.Background()); err == nil {
		t.Fatal("connection still works after Kill")
	}
	s.Restart(t)

	if n := count(t, connect(t, s.DSN()), "SELECT count(*) FROM kv"); n != 2 {
		t.Fatalf("after crash recovery kv has %d rows, want the 2 committed ones", n)
	}
}

func TestStopRestart(t *testing.T) {
	t.Parallel()
	s := pgtest.Start(t)
	exec(t, connect(t, s.DSN()), "CREATE TABLE t (x int)")
	s.Stop(t)
	s.Restart(t)
	s.Restart(t) // while running: stops first
	exec(t, connect(t, s.DSN()), "INSERT INTO t VALUES (1)")
}

func TestNewDatabaseIsolation(t *testing.T) {
	t.Parallel()
	s := pgtest.Shared(t)
	a, b := s.NewDatabase(t), s.NewDatabase(t)
	if a == b {
		t.Fatalf("NewDatabase returned %s twice", a)
	}
	ca, cb := connect(t, a), connect(t, b)
	exec(t, ca, "CREATE TABLE only_in_a (x int)")
	exec(t, cb, "CREATE TABLE only_in_b (x int)")
	if n := count(t, cb, "SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'"); n != 0 {
		t.Fatal("a table created in one database is visible in the other")
	}
	if pgtest.Shared(t) != s {
		t.Fatal("Shared started a second server")
	}
}

func TestStandbyFollowsThenPromotes(t *testing.T) {
	t.Parallel()
	primary := pgtest.Start(t)
	exec(t, connect(t, primary.DSN()), "CREATE TABLE t (x int)")
	standby := primary.StartStandby(t)

	exec(t, connect(t, primary.DSN()), "INSERT INTO t VALUES (42)")
	sconn := connect(t, standby.DSN())
	waitFor(t, func() bool { return count(t, sconn, "SELECT count(*) FROM t WHERE x = 42") == 1 })

	_, err := sconn.Exec(context.Background(), "INSERT INTO t VALUES (1)")
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); !ok || pgErr.Code != "25006" { // read_only_sql_transaction
		t.Fatalf("write on standby: got %v, want read_only_sql_transaction", err)
	}

	standby.Promote(t)
	exec(t, sconn, "INSERT INTO t VALUES (43)")
	if n := count(t, sconn, "SELECT count(*) FROM t"); n != 2 {
		t.Fatalf("promoted standby has %d rows, want 2", n)
	}
}

func TestMultiHostDSNReachesWritable(t *testing.T) {
	t.Parallel()
	primary := pgtest.Start(t)
	standby := primary.StartStandby(t)
	// The standby comes first, so reaching the primary proves target_session_attrs is honoured.
	dsns := map[string]string{
		"keyword": fmt.Sprintf("host=127.0.0.1,127.0.0.1 port=%d,%d user=postgres dbname=test sslmode=disable target_session_attrs=read-write",
			standby.Port(), primary.Port()),
		"url": fmt.Sprintf("postgres://postgres@127.0.0.1:%d,127.0.0.1:%d/test?sslmode=disable&target_session_attrs=read-write",
			standby.Port(), primary.Port()),
	}
	writable := func(dsn string) int {
		conn := connect(t, dsn)
		var port int
		if err := conn.QueryRow(context.Background(), "SELECT current_setting('port')::int").Scan(&port); err != nil {
			t.Fatal(err)
		}
		return port
	}
	for form, dsn := range dsns {
		if got := writable(dsn); got != primary.Port() {
			t.Fatalf("%s DSN reached port %d, want the primary's %d", form, got, primary.Port())
		}
	}

	primary.Stop(t)
	standby.Promote(t)
	for form, dsn := range dsns {
		if got := writable(dsn); got != standby.Port() {
			t.Fatalf("after failover, %s DSN reached port %d, want the promoted standby's %d", form, got, standby.Port())
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
	}
}
