// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package receiver_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/jackc/pgx/v5"

	"github.com/coex-operator/coex-operator/internal/pgtest"
	"github.com/coex-operator/coex-operator/internal/receiver/store"
	"github.com/coex-operator/coex-operator/internal/receiver/store/postgres"
)

// The PostgreSQL-mode benchmarks run on the test binary's shared pgtest server (fsync and
// synchronous_commit on), each in a database of its own. Without PostgreSQL on the machine
// they skip with pgtest's message.

// benchBodySizes are the webhook bodies of the acknowledgement benchmarks.
var benchBodySizes = []int{64 << 10, 3 << 20}

// BenchmarkPostgresCeiling measures what the database allows without the receiver: the same
// bodies INSERTed, one autocommit statement each, from 8 connections into a table of one bytea
// column (lz4-compressed where the server has lz4, as the inbox) on the same server. It reports MB/s: what BenchmarkAckPostgres is compared with.
func BenchmarkPostgresCeiling(b *testing.B) {
	for _, size := range benchBodySizes {
		b.Run(fmt.Sprintf("body=%dKB/conns=8", size>>10), func(b *testing.B) { benchPostgresCeiling(b, size, 8) })
	}
}

func benchPostgresCeiling(b *testing.B, size, conns int) {
	dsn := pgtest.Shared(b).NewDatabase(b)
	ctx := context.Background()
	cs := make([]*pgx.Conn, conns)
	for i := range cs {
		c, err := pgx.Connect(ctx, dsn)
		must(b, err)
		defer c.Close(ctx)
		cs[i] = c
	}
	// Compressed like the inbox's bodies (migration 4), so the ratio measures the receiver,
	// not a table setting.
	_, err := cs[0].Exec(ctx, `CREATE TABLE ceiling (body bytea NOT NULL);
DO $$ BEGIN
    ALTER TABLE ceiling ALTER COLUMN body SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN NULL;
END $$`)
	must(b, err)
	body := historyBody(size)
	perConn := max(4, (*benchAckMB<<20)/size/conns)
	var spent time.Duration
	rounds := 0
	for b.Loop() {
		t0 := time.Now()
		var wg sync.WaitGroup
		for _, c := range cs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range perConn {
					if _, err := c.Exec(ctx, `INSERT INTO ceiling (body) VALUES ($1)`, body); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		spent += time.Since(t0)
		rounds++
		_, err := cs[0].Exec(ctx, `TRUNCATE ceiling`)
		must(b, err)
	}
	b.ReportMetric(float64(rounds*conns*perConn*size)/spent.Seconds()/1e6, "MB/s")
}

// BenchmarkAckPostgres is BenchmarkAck over the postgres store: 8 senders POST signed bodies,
// each answered 200 once its INSERT is committed, to 1 receiver or to 3 (three handlers, each
// with its own postgres.Store on the same database, the senders spread round-robin). Goal:
// at least 60% of BenchmarkPostgresCeiling's MB/s for the same body size.
func BenchmarkAckPostgres(b *testing.B) {
	for _, size := range benchBodySizes {
		for _, receivers := range []int{1, 3} {
			b.Run(fmt.Sprintf("body=%dKB/receivers=%d/senders=8", size>>10, receivers), func(b *testing.B) {
				dsn := pgtest.Shared(b).NewDatabase(b)
				stores := make([]store.Store, receivers)
				for i := range stores {
					st, err := postgres.Open(context.Background(), postgres.Options{DSN: dsn, Logger: logr.Discard()})
					must(b, err)
					defer st.Close()
					stores[i] = st
				}
				ackRounds(b, size, 8, stores)
			})
		}
	}
}

// BenchmarkDispatchHeavyPostgres is BenchmarkDispatchHeavy over the postgres store: the
// -bench.preset history is spooled through the real handler, then the dispatcher drains it
// into the state, each batch one committed transaction. Goal: 100,000 history messages per
// second.
func BenchmarkDispatchHeavyPostgres(b *testing.B) {
	benchDispatch(b, func(b *testing.B) store.Store {
		st, err := postgres.Open(context.Background(), postgres.Options{DSN: pgtest.Shared(b).NewDatabase(b), Logger: logr.Discard()})
		must(b, err)
		return st
	})
}
