// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/coex-operator/coex-operator/internal/receiver/store"
)

// Store implements store.Store on a PostgreSQL database. It is safe for concurrent use.
type Store struct {
	opts Options
	log  logr.Logger
	pool *pgxpool.Pool

	appended chan struct{}
	emitted  chan struct{}
	notify   notifier

	ctx    context.Context // ends at Close; background goroutines watch it
	cancel context.CancelFunc
	wg     sync.WaitGroup

	closing   atomic.Bool
	closeOnce sync.Once

	// beforeLockRequest, when set (by tests), runs before a pipelined batch sends its
	// request for the app lock: a delay there must not change the order of the grants.
	beforeLockRequest func()

	seen *seenCache // the item keys of the streams applied lately

	mu      sync.Mutex
	chains  map[appKey][]*batch // outstanding batches per MetaApp, in claim order
	batches map[*batch]struct{}
	leases  map[*lease]struct{}
}

var _ store.Store = (*Store)(nil)

// Open connects, migrates the schema to the latest version and returns the store. The pool
// connects lazily: once migrated, a database that goes away is waited for, not fatal.
func Open(ctx context.Context, o Options) (*Store, error) {
	o = o.withDefaults()
	cfg, err := poolConfig(o)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres store: %w", err)
	}
	from, to, err := migrate(ctx, pool, latestVersion())
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres store: %w", err)
	}
	cc := cfg.ConnConfig
	log := o.Logger
	log.Info("postgres store open", "host", cc.Host, "port", cc.Port, "fallbacks", len(cc.Fallbacks),
		"database", cc.Database, "user", cc.User, "schemaVersion", to, "migratedFrom", from)
	if to > latestVersion() {
		log.Info("the database schema is newer than this receiver's; a newer receiver migrated it, and this one fails its batches and relays if the schema dropped what it uses (they roll back and the newer receivers do them)",
			"schemaVersion", to, "known", latestVersion())
	}
	s := &Store{
		opts: o, log: log, pool: pool,
		appended: make(chan struct{}, 1), emitted: make(chan struct{}, 1), seen: newSeenCache(o.SeenCacheBytes),
		chains: map[appKey][]*batch{}, batches: map[*batch]struct{}{}, leases: map[*lease]struct{}{},
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.notify.wake = make(chan struct{}, 1)
	// Work may be waiting from before this process started.
	signal(s.appended)
	signal(s.emitted)
	s.wg.Add(2)
	go s.notifyLoop()
	go s.listenLoop(cc.Copy())
	return s, nil
}

// poolConfig parses the DSN and adds what every session needs.
func poolConfig(o Options) (*pgxpool.Config, error) {
	if o.DSN == "" {
		return nil, errors.New("postgres store: no DSN")
	}
	// pgx redacts passwords in its parse errors.
	cfg, err := pgxpool.ParseConfig(o.DSN)
	if err != nil {
		return nil, fmt.Errorf("postgres store: %w", err)
	}
	cfg.MaxConns = int32(o.MaxConns)
	cc := cfg.ConnConfig
	if cc.ConnectTimeout == 0 {
		// Per host: a black-holed former primary must not stall the move to the next one.
		cc.ConnectTimeout = DefaultConnectTimeout
	}
	params := cc.RuntimeParams
	if params["application_name"] == "" {
		params["application_name"] = o.ApplicationName
	}
	// The server notices a client that vanished without closing its socket (a dead node)
	// within about 20s and ends its session, freeing its claim and leases. These apply to
	// TCP connections only and are ignored over a unix socket.
	params["tcp_keepalives_idle"] = "10"
	params["tcp_keepalives_interval"] = "5"
	params["tcp_keepalives_count"] = "3"
	if o.IdleInTransactionTimeout > 0 {
		params["idle_in_transaction_session_timeout"] = strconv.FormatInt(o.IdleInTransactionTimeout.Milliseconds(), 10)
	} else {
		params["idle_in_transaction_session_timeout"] = "0"
	}
	cfg.AfterConnect = setupSession
	// pgxpool's default ShouldPing is kept: a connection idle for over a second is pinged
	// before it is handed out, so one left broken by a failover is replaced, not used; and
	// check() resets the pool when an operation finds the server gone.
	return cfg, nil
}

// sessionSetupSQL runs once per new connection (setupSession), in one round trip:
//   - synchronous_commit is raised to "on" unless it already is at least that: a server or
//     role default of off or local would let Append return before the body is durable (or,
//     with a synchronous standby, before the standby has it). remote_apply is stronger and
//     kept.
//   - client_connection_check_interval (PostgreSQL 14+) lets a backend waiting on a lock
//     notice its client is gone, so a receiver killed while its pipelined claim waits for an
//     app lock does not hold that lock once granted.
const sessionSetupSQL = `
SELECT set_config('synchronous_commit', 'on', false)
 WHERE current_setting('synchronous_commit') NOT IN ('on', 'remote_apply');
SELECT set_config('client_connection_check_interval', '2s', false)
 WHERE current_setting('server_version_num')::int >= 140000;`

func setupSession(ctx context.Context, conn *pgx.Conn) error {
	_, err := conn.Exec(ctx, sessionSetupSQL)
	return err
}

// Close releases every batch and lease still held (their transactions roll back and their
// locks go), stops the LISTEN connection, waits for appends in flight and closes the pool.
// Appends after Close fail with store.ErrClosed. It is safe to call more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closing.Store(true)
		s.cancel()
		s.mu.Lock()
		var bs []*batch
		for b := range s.batches {
			bs = append(bs, b)
		}
		var ls []*lease
		for l := range s.leases {
			ls = append(ls, l)
		}
		s.mu.Unlock()
		for _, b := range bs {
			b.Release()
		}
		for _, l := range ls {
			l.Release()
		}
		s.wg.Wait()
		s.pool.Close() // waits for connections in use (appends in flight) to come back
	})
	return nil
}

// closedErr turns an error seen while closing into store.ErrClosed.
func (s *Store) closedErr(err error) error {
	if err != nil && s.closing.Load() {
		return store.ErrClosed
	}
	return err
}

// Appended implements store.Inbox.
func (s *Store) Appended() <-chan struct{} { return s.appended }

// Emitted implements store.Outbox.
func (s *Store) Emitted() <-chan struct{} { return s.emitted }

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// opCtx bounds a cleanup that must run even when the caller's context has ended.
func opCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 5*time.Second)
}

// CheckWritable implements store.WriteChecker: the pool reaches a server that is not in
// recovery, so an Append now would commit.
func (s *Store) CheckWritable(ctx context.Context) error {
	var standby bool
	if err := s.pool.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&standby); err != nil {
		return fmt.Errorf("database unreachable: %w", err)
	}
	if standby {
		return errors.New("database is a read-only standby")
	}
	return nil
}
