// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package postgres

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/jackc/pgx/v5"

	"github.com/coex-operator/coex-operator/internal/pgtest"
	"github.com/coex-operator/coex-operator/internal/receiver/store"
	"github.com/coex-operator/coex-operator/internal/receiver/store/storetest"
)

var instance atomic.Int64

// openTest opens a store under an application_name of its own, which crash() uses to kill
// exactly its connections.
// twoReceivers opens two stores on a new database, as two receivers would, closed when the
// test ends.
func twoReceivers(t *testing.T) (dsn string, s1, s2 *Store) {
	t.Helper()
	dsn = pgtest.Shared(t).NewDatabase(t)
	s1, s2 = openTest(t, dsn), openTest(t, dsn)
	t.Cleanup(func() { _ = s1.Close(); _ = s2.Close() })
	return dsn, s1, s2
}

func openTest(t testing.TB, dsn string, opts ...func(*Options)) *Store {
	t.Helper()
	o := Options{DSN: dsn, MaxConns: 10, Logger: logr.Discard(),
		ApplicationName: fmt.Sprintf("coex-test-%d", instance.Add(1))}
	for _, f := range opts {
		f(&o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func connect(t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// crash ends every session of s from the server side, as if its process had been killed.
func crash(t testing.TB, s *Store) {
	t.Helper()
	var n int
	err := connect(t, s.opts.DSN).QueryRow(context.Background(),
		`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`,
		s.opts.ApplicationName).Scan(&n)
	if err != nil {
		t.Fatalf("terminating the store's sessions: %v", err)
	}
}

func TestConformance(t *testing.T) {
	srv := pgtest.Shared(t)
	storetest.Run(t, storetest.Options{
		Open: func(t *testing.T) store.Store { return openTest(t, srv.NewDatabase(t)) },
		Reopen: func(t *testing.T, s store.Store) store.Store {
			ps := s.(*Store)
			if err := ps.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			return openTest(t, ps.opts.DSN)
		},
		Second: func(t *testing.T, s store.Store) store.Store { return openTest(t, s.(*Store).opts.DSN) },
		Crash:  func(t *testing.T, s store.Store) { crash(t, s.(*Store)) },
		// The server frees a killed session's locks as soon as it notices, at once here.
		FreeWithin: 5 * time.Second,
	})
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func rec(app, body string) *store.Record {
	return &store.Record{Namespace: "ns", App: app, ReceivedAt: time.Now().Truncate(time.Microsecond), Body: []byte(body)}
}

// An appended record survives the server being SIGKILLed right after Append returned, and
// the open store carries on once the server is back.
func TestAppendSurvivesServerCrash(t *testing.T) {
	t.Parallel()
	srv := pgtest.Start(t)
	s := openTest(t, srv.DSN())
	defer s.Close()
	ctx := ctxT(t)
	r := rec("a", "durable")
	if err := s.Append(ctx, r); err != nil {
		t.Fatal(err)
	}
	srv.Kill(t)
	srv.Restart(t)

	var b store.Batch
	deadline := time.Now().Add(30 * time.Second)
	for {
		var err error
		if b, err = s.Claim(ctx, 10, 0); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Claim after the restart: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if b == nil || len(b.Records()) != 1 || b.Records()[0].Seq != r.Seq || string(b.Records()[0].Body) != "durable" {
		t.Fatalf("after the crash, Claim = %v, want record %d", b, r.Seq)
	}
	if err := b.Apply(ctx, func(store.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
}

// A primary lost and a standby promoted: the open store follows the multi-host DSN to the
// new primary without being reopened.
func TestFailover(t *testing.T) {
	t.Parallel()
	primary := pgtest.Start(t)
	standby := primary.StartStandby(t)
	dsn := fmt.Sprintf("postgres://postgres@127.0.0.1:%d,127.0.0.1:%d/test?sslmode=disable&target_session_attrs=read-write",
		primary.Port(), standby.Port())
	s := openTest(t, dsn)
	defer s.Close()
	ctx := ctxT(t)
	r1 := rec("a", "before")
	if err := s.Append(ctx, r1); err != nil {
		t.Fatal(err)
	}
	// Replication here is asynchronous: wait until the standby has the record. (In production
	// a synchronous standby makes Append itself wait for that.)
	sc := connect(t, standby.DSN())
	for deadline := time.Now().Add(30 * time.Second); ; {
		var n int
		if err := sc.QueryRow(ctx, "SELECT count(*) FROM inbox").Scan(&n); err == nil && n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the standby never got the record")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := s.CheckWritable(ctx); err != nil {
		t.Fatalf("CheckWritable on the primary = %v", err)
	}
	primary.Kill(t)
	// The receiver's readiness: not ready while no writable primary answers.
	if err := s.CheckWritable(ctx); err == nil {
		t.Fatal("CheckWritable with the primary down and the standby not promoted = nil, want an error")
	}
	standby.Promote(t)

	start := time.Now()
	r2 := rec("a", "after")
	attempts := 0
	for {
		attempts++
		err := s.Append(ctx, r2)
		if err == nil {
			break
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("Append after the failover: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("Append worked again %v after the promotion, in %d call(s)", time.Since(start).Round(time.Millisecond), attempts)
	if err := s.CheckWritable(ctx); err != nil {
		t.Fatalf("CheckWritable after the promotion = %v", err)
	}
	b, err := s.Claim(ctx, 10, 0)
	if err != nil || b == nil {
		t.Fatalf("Claim after the failover = %v, %v", b, err)
	}
	if got := b.Records(); len(got) != 2 || string(got[0].Body) != "before" || string(got[1].Body) != "after" {
		t.Fatalf("after the failover, claimed %d records", len(got))
	}
	if err := b.Apply(ctx, func(tx store.Tx) error { return tx.Emit("ns/n", []byte("e")) }); err != nil {
		t.Fatal(err)
	}
	l, ok, err := s.Lease(ctx, "ns/n")
	if err != nil || !ok {
		t.Fatalf("Lease after the failover = %v, %v", ok, err)
	}
	l.Release()
}

// Every session runs with synchronous_commit at least on, whatever the server's default.
func TestSessionSettings(t *testing.T) {
	t.Parallel()
	srv := pgtest.Shared(t)
	for _, c := range []struct{ dflt, want string }{{"off", "on"}, {"local", "on"}, {"remote_apply", "remote_apply"}} {
		dsn := srv.NewDatabase(t)
		db := strings.TrimSuffix(dsn[strings.LastIndex(dsn, "/")+1:], "?sslmode=disable")
		if _, err := connect(t, dsn).Exec(context.Background(),
			fmt.Sprintf("ALTER DATABASE %s SET synchronous_commit = %s", pgx.Identifier{db}.Sanitize(), c.dflt)); err != nil {
			t.Fatal(err)
		}
		var plain string
		if err := connect(t, dsn).QueryRow(context.Background(), "SHOW synchronous_commit").Scan(&plain); err != nil || plain != c.dflt {
			t.Fatalf("a plain session has synchronous_commit %q, %v; the test setup did not work", plain, err)
		}
		s := openTest(t, dsn, func(o *Options) { o.IdleInTransactionTimeout = 90 * time.Second })
		got := map[string]string{}
		for _, name := range []string{"synchronous_commit", "client_connection_check_interval", "idle_in_transaction_session_timeout", "application_name"} {
			var v string
			if err := s.pool.QueryRow(context.Background(), "SELECT current_setting($1)", name).Scan(&v); err != nil {
				t.Fatal(err)
			}
			got[name] = v
		}
		s.Close()
		if got["synchronous_commit"] != c.want {
			t.Errorf("server default %s: the store's sessions run with synchronous_commit %s, want %s", c.dflt, got["synchronous_commit"], c.want)
		}
		if got["client_connection_check_interval"] != "2s" || got["idle_in_transaction_session_timeout"] != "90s" ||
			!strings.HasPrefix(got["application_name"], "coex-test-") {
			t.Errorf("session settings = %v", got)
		}
	}
}

func schemaVersions(t *testing.T, conn *pgx.Conn) []int {
	t.Helper()
	rows, err := conn.Query(context.Background(), "SELECT version FROM schema_migrations ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	v, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestMigrationsAreNumbered(t *testing.T) {
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) < 2 || latestVersion() != len(ms) {
		t.Fatalf("%d migrations", len(ms))
	}
}

// A database left at an earlier version by an earlier receiver, with data in it, is migrated
// to the latest version at Open, and its data are read and extended as if written by this one.
// The data are written in the tables of the version migrated from.
func TestMigrateFromEarlierVersions(t *testing.T) {
	for from := 1; from < latestVersion(); from++ {
		t.Run(fmt.Sprintf("from=%d", from), func(t *testing.T) {
			t.Parallel()
			testMigrateFrom(t, from)
		})
	}
}

func testMigrateFrom(t *testing.T, from int) {
	dsn := pgtest.Shared(t).NewDatabase(t)
	ctx := ctxT(t)
	conn := connect(t, dsn)
	if _, to, err := migrate(ctx, conn, from); err != nil || to != from {
		t.Fatalf("migrate to %d = %d, %v", from, to, err)
	}
	if v := schemaVersions(t, conn); len(v) != from {
		t.Fatalf("schema_migrations = %v", v)
	}
	received := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	// The same data in each version's tables: keys and events one per row before version 3,
	// as sets from it on.
	data := []string{
		`INSERT INTO inbox (namespace, app, received_at, body) VALUES ('ns', 'a', '2026-01-02T03:04:05Z', 'one'), ('ns', 'a', '2026-01-02T03:04:05Z', 'two')`,
		`INSERT INTO bodies VALUES ('old-hash', '2026-01-02T03:04:05Z')`,
		`INSERT INTO seen VALUES ('ns/n', 'old-key'), ('ns/n', 'old-key-2'), ('ns/orphan', 'old-key')`,
		`INSERT INTO numbers VALUES ('ns/n', '{"uid": "u1", "messages": 4, "phaseChunks": [{}, {}, {}]}')`,
		`INSERT INTO outbox_streams VALUES ('ns/n', 2)`,
		`INSERT INTO outbox VALUES ('ns/n', 1, 'e1'), ('ns/n', 2, 'e2')`,
		`INSERT INTO dead_letters VALUES ('dead-hash', 1, 'ns', 'a', '2026-01-02T03:04:05Z', 'no number', 'dead')`,
	}
	if from >= 3 {
		data[2] = `INSERT INTO seen_sets (stream, keys) VALUES ('ns/n', ARRAY['old-key'::bytea]), ('ns/n', ARRAY['old-key-2'::bytea]), ('ns/orphan', ARRAY['old-key'::bytea])`
		data[3] = `INSERT INTO numbers VALUES ('ns/n', '{"uid": "u1", "messages": 4, "phaseChunks": [{}, {}, {}]}', 2)`
		data[4] = `INSERT INTO outbox_streams VALUES ('ns/n', 2, 0)`
		data[5] = `INSERT INTO outbox VALUES ('ns/n', 2, 1, ARRAY['e1'::bytea, 'e2'::bytea])`
	}
	for _, q := range data {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	s := openTest(t, dsn)
	defer s.Close()
	if v := schemaVersions(t, conn); len(v) != latestVersion() || v[len(v)-1] != latestVersion() {
		t.Fatalf("after Open, schema_migrations = %v, want 1..%d", v, latestVersion())
	}
	var idx int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_indexes WHERE indexname IN ('inbox_app_seq', 'bodies_first_seen')`).Scan(&idx); err != nil || idx != 2 {
		t.Fatalf("version 2 indexes: %d, %v", idx, err)
	}
	b, err := s.Claim(ctx, 10, 0)
	if err != nil || b == nil {
		t.Fatalf("Claim = %v, %v", b, err)
	}
	if got := b.Records(); len(got) != 2 || string(got[0].Body) != "one" || string(got[1].Body) != "two" || !got[0].ReceivedAt.Equal(received) {
		t.Fatalf("claimed %+v", got)
	}
	var oldKeyFirst, orphanKeyFirst, newKeyFirst bool
	err = b.Apply(ctx, func(tx store.Tx) error {
		if first, err := tx.FirstBody([]byte("old-hash"), received); err != nil || first {
			return fmt.Errorf("FirstBody(old-hash) = %v, %v", first, err)
		}
		first, err := tx.FirstSeen("ns/n", []byte("old-key"))
		if err != nil {
			return err
		}
		oldKeyFirst = first
		if orphanKeyFirst, err = tx.FirstSeen("ns/orphan", []byte("old-key")); err != nil {
			return err
		}
		if newKeyFirst, err = tx.FirstSeen("ns/n", []byte("new-key")); err != nil {
			return err
		}
		n, err := tx.Number("ns/n", "u1")
		if err != nil {
			return err
		}
		n.Messages += 2
		return tx.Emit("ns/n", []byte("e3"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if oldKeyFirst || orphanKeyFirst || !newKeyFirst {
		t.Errorf("FirstSeen(ns/n, old-key) = %v, FirstSeen(ns/orphan, old-key) = %v, FirstSeen(ns/n, new-key) = %v; want false, false, true",
			oldKeyFirst, orphanKeyFirst, newKeyFirst)
	}
	if c, ok, err := s.Counts(ctx, "ns/n"); err != nil || !ok || c.Messages != 6 || c.UID != "u1" {
		t.Errorf("Counts = %+v, %v, %v", c, ok, err)
	}
	l, ok, err := s.Lease(ctx, "ns/n")
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	items, err := l.Peek(ctx, 10)
	l.Release()
	if err != nil || len(items) != 3 || string(items[2].Event) != "e3" || items[2].Seq != 3 {
		t.Errorf("outbox = %+v, %v; want e1, e2 and e3 as seq 3", items, err)
	}
	if dl, err := s.DeadLetters(ctx); err != nil || len(dl) != 1 || string(dl[0].Body) != "dead" {
		t.Errorf("DeadLetters = %+v, %v", dl, err)
	}
}

// Receivers starting together on an empty database migrate it once.
func TestConcurrentOpen(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Shared(t).NewDatabase(t)
	var wg sync.WaitGroup
	stores := make([]*Store, 4)
	errs := make([]error, 4)
	for i := range stores {
		wg.Go(func() {
			stores[i], errs[i] = Open(ctxT(t), Options{DSN: dsn, MaxConns: 4})
		})
	}
	wg.Wait()
	for i, s := range stores {
		if errs[i] != nil {
			t.Fatalf("Open %d: %v", i, errs[i])
		}
		defer s.Close()
		if err := s.Append(ctxT(t), rec("a", fmt.Sprint(i))); err != nil {
			t.Errorf("Append on store %d: %v", i, err)
		}
	}
	want := make([]int, latestVersion())
	for i := range want {
		want[i] = i + 1
	}
	if v := schemaVersions(t, connect(t, dsn)); !slices.Equal(v, want) {
		t.Errorf("schema_migrations = %v, want %v", v, want)
	}
}

// advisoryLocks counts the advisory locks held in the database, by application_name.
func advisoryLocks(t *testing.T, dsn string) map[string]int {
	t.Helper()
	rows, err := connect(t, dsn).Query(context.Background(), `
SELECT a.application_name, count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
 WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
 GROUP BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for rows.Next() {
		var name string
		var n int
		if err := rows.Scan(&name, &n); err != nil {
			t.Fatal(err)
		}
		out[name] = n
	}
	return out
}

// A claim that finds an app held elsewhere tries the next one, and holds the lock of the app
// it returns only.
func TestClaimSkipsHeldAppAndLocksOnlyItsOwn(t *testing.T) {
	t.Parallel()
	dsn, s1, s2 := twoReceivers(t)
	ctx := ctxT(t)
	for _, app := range []string{"a", "a", "b", "c"} {
		if err := s1.Append(ctx, rec(app, app)); err != nil {
			t.Fatal(err)
		}
	}
	b1, err := s1.Claim(ctx, 10, 0)
	if err != nil || b1 == nil || b1.Records()[0].App != "a" {
		t.Fatalf("first Claim = %v, %v; want app a, the oldest", b1, err)
	}
	b2, err := s2.Claim(ctx, 10, 0)
	if err != nil || b2 == nil || b2.Records()[0].App != "b" {
		t.Fatalf("second instance's Claim = %v, %v; want app b", b2, err)
	}
	if got := advisoryLocks(t, dsn); got[s1.opts.ApplicationName] != 1 || got[s2.opts.ApplicationName] != 1 {
		t.Errorf("advisory locks held = %v, want one per instance", got)
	}
	b1.Release()
	b2.Release()
}

// A batch claimed behind an earlier one takes the app lock over as the earlier commits:
// another instance never gets in between.
func TestPipelinedClaimKeepsTheApp(t *testing.T) {
	t.Parallel()
	_, s1, s2 := twoReceivers(t)
	ctx := ctxT(t)
	for i := range 6 {
		if err := s1.Append(ctx, rec("a", fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	b1, _ := s1.Claim(ctx, 2, 0)
	b2, _ := s1.Claim(ctx, 2, 0)
	if b1 == nil || b2 == nil {
		t.Fatal("claims")
	}
	if err := b1.Apply(ctx, func(store.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if b, err := s2.Claim(ctx, 10, 0); err != nil || b != nil {
		t.Fatalf("between two batches of one app, the other instance claimed %v, %v", b, err)
	}
	if err := b2.Apply(ctx, func(store.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	b3, err := s2.Claim(ctx, 10, 0)
	if err != nil || b3 == nil || len(b3.Records()) != 2 || string(b3.Records()[0].Body) != "4" {
		t.Fatalf("after both, the other instance claimed %v, %v; want the last 2", b3, err)
	}
	b3.Release()

	// A deep pipeline is granted the lock in claim order: each Apply finds its lock. (Each
	// batch holds a connection: 7 of the 10 the test's pool has.)
	for i := range 14 {
		if err := s1.Append(ctx, rec("a", fmt.Sprint("deep", i))); err != nil {
			t.Fatal(err)
		}
	}
	// The first waiter is slow to send its request: the next must still queue behind it.
	var slow atomic.Bool
	slow.Store(true)
	s1.beforeLockRequest = func() {
		if slow.CompareAndSwap(true, false) {
			time.Sleep(300 * time.Millisecond)
		}
	}
	var deep []store.Batch
	for range 7 {
		b, err := s1.Claim(ctx, 2, 1<<20)
		if err != nil || b == nil {
			t.Fatalf("pipelined Claim = %v, %v", b, err)
		}
		deep = append(deep, b)
	}
	for i, b := range deep {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := b.Apply(actx, func(store.Tx) error { return nil })
		cancel()
		if err != nil {
			t.Fatalf("Apply of pipelined batch %d: %v", i, err)
		}
	}

	// Releasing a batch waiting for the lock cancels the wait at once (a cancel request,
	// not the 5s fallback of closing the connection).
	c1, _ := s1.Claim(ctx, 1, 0)
	c2, _ := s1.Claim(ctx, 1, 0)
	if c1 == nil || c2 == nil {
		t.Fatal("claims")
	}
	time.Sleep(100 * time.Millisecond) // let c2's request reach the server
	start := time.Now()
	c2.Release()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("releasing a batch waiting for its lock took %v", d)
	}
	if c2, _ = s1.Claim(ctx, 1, 0); c2 == nil {
		t.Fatal("claim after the release")
	}

	// Closing with a batch waiting for the lock behind another does not hang, and frees both.
	done := make(chan struct{})
	go func() { s1.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("Close hung on a batch waiting for its app lock")
	}
	if err := c2.Apply(ctx, func(store.Tx) error { return nil }); err == nil {
		t.Error("Apply after Close succeeded")
	}
	b4, err := s2.Claim(ctx, 10, 0)
	if err != nil || b4 == nil || len(b4.Records()) != 2 {
		t.Fatalf("after Close, the other instance claimed %v, %v; want both records", b4, err)
	}
	b4.Release()
	if err := s1.Append(ctx, rec("a", "late")); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Append after Close = %v, want ErrClosed", err)
	}
}

// A claim left idle in its transaction (a stuck receiver) ends after
// IdleInTransactionTimeout, and its records go to another receiver.
func TestIdleClaimTimesOut(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Shared(t).NewDatabase(t)
	ctx := ctxT(t)
	s1 := openTest(t, dsn, func(o *Options) { o.IdleInTransactionTimeout = 500 * time.Millisecond })
	s2 := openTest(t, dsn)
	defer s1.Close()
	defer s2.Close()
	if err := s1.Append(ctx, rec("a", "x")); err != nil {
		t.Fatal(err)
	}
	b, _ := s1.Claim(ctx, 10, 0)
	if b == nil {
		t.Fatal("claim")
	}
	var b2 store.Batch
	for deadline := time.Now().Add(10 * time.Second); b2 == nil; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the idle claim was never given up")
		}
		b2, _ = s2.Claim(ctx, 10, 0)
	}
	if err := b.Apply(ctx, func(store.Tx) error { return nil }); err == nil {
		t.Error("Apply of a timed-out claim succeeded")
	}
	if err := b2.Apply(ctx, func(store.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
}

func TestDSNFromEnvOrFile(t *testing.T) {
	const secret = "postgres://u:s3cret@db/x"
	dir := t.TempDir()
	file := filepath.Join(dir, "dsn")
	if err := os.WriteFile(file, []byte("  "+secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TEST_COEX_DSN", "from-env")
	if got, err := DSNFromEnvOrFile(file, "TEST_COEX_DSN"); err != nil || got != secret {
		t.Errorf("from file = %q, %v", got, err)
	}
	if got, err := DSNFromEnvOrFile("", "TEST_COEX_DSN"); err != nil || got != "from-env" {
		t.Errorf("from env = %q, %v", got, err)
	}
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	for _, c := range []struct{ file, env string }{{empty, "TEST_COEX_DSN"}, {filepath.Join(dir, "missing"), ""}, {"", "TEST_COEX_UNSET"}} {
		if _, err := DSNFromEnvOrFile(c.file, c.env); err == nil {
			t.Errorf("DSNFromEnvOrFile(%q, %q) succeeded", c.file, c.env)
		}
	}
	_, err := DSNFromEnvOrFile("", "TEST_COEX_UNSET")
	if err == nil || !strings.Contains(err.Error(), "TEST_COEX_UNSET") {
		t.Errorf("error without a DSN = %v, want it to name the variable", err)
	}
}

// Errors never carry the DSN's password.
func TestErrorsHideThePassword(t *testing.T) {
	t.Parallel()
	const pw = "s3cret-pw"
	for _, dsn := range []string{
		"postgres://user:" + pw + "@127.0.0.1:1/db?sslmode=disable&connect_timeout=1",
		"host=127.0.0.1 port=1 user=u password=" + pw + " dbname=x sslmode=disable connect_timeout=1",
		"postgres://user:" + pw + "@[::1/db",
		"host=127.0.0.1 port=notaport password=" + pw,
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		s, err := Open(ctx, Options{DSN: dsn})
		cancel()
		if err == nil {
			s.Close()
			t.Fatalf("Open of an unreachable server succeeded")
		}
		if strings.Contains(err.Error(), pw) {
			t.Errorf("error shows the password: %v", err)
		}
	}
}
