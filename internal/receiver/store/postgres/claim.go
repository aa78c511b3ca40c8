// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package postgres

import (
	"context"
	"math"

	"github.com/jackc/pgx/v5"

	"github.com/coex-operator/coex-operator/internal/receiver/store"
)

// maxCandidates is how many MetaApps one Claim tries, oldest waiting record first, before
// reporting that all waiting work is held elsewhere.
const maxCandidates = 8

type appKey struct{ namespace, app string }

// candidatesSQL lists the MetaApps with waiting records, oldest first, skipping the records
// this receiver already holds ($1..$3: per held app, the last seq claimed). It walks the
// distinct apps with a recursive skip scan of inbox_app_seq (one index probe per app, not a
// scan of a backlog of millions), then takes each app's first waiting seq. No lock is taken
// here: locks are tried one app at a time afterwards, so a claim never holds the lock of an
// app it does not return (pg_try_advisory_xact_lock in a WHERE over many rows would).
const candidatesSQL = `
WITH RECURSIVE apps (namespace, app) AS (
    (SELECT namespace, app FROM inbox ORDER BY namespace, app LIMIT 1)
  UNION ALL
    SELECT n.namespace, n.app FROM apps a
     CROSS JOIN LATERAL (
        SELECT i.namespace, i.app FROM inbox i
         WHERE (i.namespace, i.app) > (a.namespace, a.app)
         ORDER BY i.namespace, i.app LIMIT 1) n
), held (namespace, app, after) AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
)
SELECT a.namespace, a.app
  FROM apps a
  LEFT JOIN held h ON h.namespace = a.namespace AND h.app = a.app
 CROSS JOIN LATERAL (
    SELECT i.seq FROM inbox i
     WHERE i.namespace = a.namespace AND i.app = a.app AND i.seq > coalesce(h.after, 0)
     ORDER BY i.seq LIMIT 1) f
 ORDER BY f.seq
 LIMIT $4`

// selectBatchSQL locks an app's next records: after $3, at most $4, and while the bodies
// before a record total under $5 bytes (so at least one). Only the rows returned are locked:
// a locked row left out would be skipped by this receiver's next claim. NOWAIT: under the app
// lock nobody else may hold these rows; if someone does (a claim racing the hand-over of the
// lock), skipping them would break seq order, so the claim of this app fails instead.
const selectBatchSQL = `
SELECT seq, received_at, body FROM inbox
 WHERE seq = ANY (ARRAY(
    SELECT seq FROM (
        SELECT seq, sum(octet_length(body)) OVER (ORDER BY seq) - octet_length(body) AS before
          FROM (SELECT seq, body FROM inbox
                 WHERE namespace = $1 AND app = $2 AND seq > $3
                 ORDER BY seq LIMIT $4) s) w
     WHERE before < $5))
 ORDER BY seq
 FOR UPDATE NOWAIT`

// Claim implements store.Store. A batch holds one MetaApp's records, in seq order.
func (s *Store) Claim(ctx context.Context, maxRecords, maxBytes int) (store.Batch, error) {
	if s.closing.Load() {
		return nil, store.ErrClosed
	}
	maxRecords = max(maxRecords, 1)
	if maxBytes <= 0 {
		maxBytes = math.MaxInt
	}
	cands, err := s.candidates(ctx)
	if err != nil {
		return nil, s.closedErr(s.check(err))
	}
	for _, c := range cands {
		b, err := s.claimApp(ctx, c, maxRecords, maxBytes)
		if err != nil {
			return nil, s.closedErr(s.check(err))
		}
		if b != nil {
			return b, nil
		}
	}
	return nil, nil
}

func (s *Store) candidates(ctx context.Context) ([]appKey, error) {
	var nss, apps []string
	var afters []int64
	s.mu.Lock()
	for k, chain := range s.chains {
		last := chain[len(chain)-1]
		after := last.lastSeq()
		if last.poisoned {
			after = math.MaxInt64 // void batches still held: nothing of the app until they go
		}
		nss, apps, afters = append(nss, k.namespace), append(apps, k.app), append(afters, after)
	}
	s.mu.Unlock()
	rows, err := s.pool.Query(ctx, candidatesSQL, nss, apps, afters, maxCandidates)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (appKey, error) {
		var k appKey
		err := r.Scan(&k.namespace, &k.app)
		return k, err
	})
}

// claimApp claims app's next records, or returns nil when they are held elsewhere.
func (s *Store) claimApp(ctx context.Context, key appKey, maxRecords, maxBytes int) (*batch, error) {
	// pred is this receiver's latest batch of the app still held; the new one follows it.
	var pred *batch
	var after int64
	s.mu.Lock()
	if chain := s.chains[key]; len(chain) > 0 {
		pred = chain[len(chain)-1]
		if pred.poisoned {
			s.mu.Unlock()
			return nil, nil
		}
		after = pred.lastSeq()
	}
	s.mu.Unlock()

	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		conn.Release()
		return nil, err
	}
	giveUp := func() {
		rctx, cancel := opCtx()
		defer cancel()
		_ = tx.Rollback(rctx) // a failure leaves the connection unusable: the pool drops it
		conn.Release()
	}
	lockKey := appLockKey(key.namespace, key.app)
	if pred == nil {
		var ok bool
		if err := tx.QueryRow(ctx, "SELECT pg_try_advisory_xact_lock($1)", lockKey).Scan(&ok); err != nil {
			giveUp()
			return nil, err
		}
		if !ok {
			giveUp() // another receiver applies this app now
			return nil, nil
		}
	}
	rows, err := tx.Query(ctx, selectBatchSQL, key.namespace, key.app, after, maxRecords, maxBytes)
	var recs []store.Record
	if err == nil {
		recs, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Record, error) {
			rec := store.Record{Namespace: key.namespace, App: key.app}
			var seq int64
			err := r.Scan(&seq, &rec.ReceivedAt, &rec.Body)
			rec.Seq = uint64(seq)
			return rec, err
		})
	}
	if err != nil || len(recs) == 0 {
		giveUp()
		if sqlState(err) == stateLockUnavailable {
			return nil, nil
		}
		return nil, err
	}
	b := &batch{s: s, key: key, recs: recs, conn: conn, tx: tx, held: make(chan struct{})}
	for _, r := range recs {
		b.seqs = append(b.seqs, int64(r.Seq))
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	chain := s.chains[key]
	switch {
	case s.closing.Load():
		giveUp()
		return nil, store.ErrClosed
	case pred == nil && len(chain) > 0,
		pred != nil && (pred.failed || pred.poisoned || len(chain) > 0 && chain[len(chain)-1] != pred):
		// Another claim of this receiver changed the app's chain meanwhile (the row locks
		// kept the two from overlapping); let the next Claim sort it out.
		giveUp()
		return nil, nil
	}
	if pred != nil {
		// Queue for the app lock behind pred (see lockWait); Apply waits for the grant.
		b.wait = startLockWait(tx, pred, lockKey, b.markHeld, s.beforeLockRequest)
	} else {
		b.markHeld()
	}
	s.chains[key] = append(chain, b)
	s.batches[b] = struct{}{}
	return b, nil
}
