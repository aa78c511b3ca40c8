// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package postgres

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// Other receivers learn of new records and events through LISTEN/NOTIFY. It only wakes them
// early: callers also poll, so a notification lost with a connection only delays.
const (
	inboxChannel  = "coex_inbox"
	outboxChannel = "coex_outbox"
	// notifyEvery bounds the NOTIFYs sent per channel: each wakes every receiver, whose
	// dispatcher then runs a Claim, so a burst of appends sends a few, not one per webhook.
	notifyEvery = 20 * time.Millisecond
)

// notifier sends the NOTIFYs after the commits that call for them, from one goroutine.
// They are not sent inside the appending transaction on purpose: a transaction that notifies
// takes a database-wide lock at commit and holds it through the WAL flush, which would
// serialize concurrent appends' commits instead of letting them share fsyncs.
type notifier struct {
	inbox, outbox atomic.Bool
	wake          chan struct{}
}

func (s *Store) notifyInbox() {
	s.notify.inbox.Store(true)
	signal(s.notify.wake)
}

func (s *Store) notifyOutbox() {
	s.notify.outbox.Store(true)
	signal(s.notify.wake)
}

func (s *Store) notifyLoop() {
	defer s.wg.Done()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.notify.wake:
		}
		for _, c := range []struct {
			flag    *atomic.Bool
			channel string
		}{{&s.notify.inbox, inboxChannel}, {&s.notify.outbox, outboxChannel}} {
			if !c.flag.Swap(false) {
				continue
			}
			ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
			if _, err := s.pool.Exec(ctx, "NOTIFY "+c.channel); err != nil && s.ctx.Err() == nil {
				s.log.V(1).Info("NOTIFY failed; other receivers will find the work when they poll", "channel", c.channel, "error", err.Error())
			}
			cancel()
		}
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(notifyEvery):
		}
	}
}

// listenLoop keeps a dedicated connection LISTENing (a pooled one would be handed to others),
// reconnecting after any failure, a failover included.
func (s *Store) listenLoop(cfg *pgx.ConnConfig) {
	defer s.wg.Done()
	pause := 100 * time.Millisecond
	for s.ctx.Err() == nil {
		listening, err := s.listen(cfg)
		if s.ctx.Err() != nil {
			return
		}
		if listening {
			pause = 100 * time.Millisecond
		}
		s.log.V(1).Info("LISTEN connection lost; reconnecting", "error", err.Error(), "pause", pause)
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, 5*time.Second)
	}
}

// listen connects, listens and forwards notifications until the connection fails. It
// reports whether it got as far as listening.
func (s *Store) listen(cfg *pgx.ConnConfig) (bool, error) {
	conn, err := pgx.ConnectConfig(s.ctx, cfg)
	if err != nil {
		return false, err
	}
	defer func() {
		ctx, cancel := opCtx()
		defer cancel()
		conn.Close(ctx)
	}()
	if _, err := conn.Exec(s.ctx, "LISTEN "+inboxChannel+"; LISTEN "+outboxChannel); err != nil {
		return false, err
	}
	// Whatever was notified while this connection was down is found by looking.
	signal(s.appended)
	signal(s.emitted)
	for {
		n, err := conn.WaitForNotification(s.ctx)
		if err != nil {
			return true, err
		}
		switch n.Channel {
		case inboxChannel:
			signal(s.appended)
		case outboxChannel:
			signal(s.emitted)
		}
	}
}
