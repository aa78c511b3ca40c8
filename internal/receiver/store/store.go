// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

// Package store is what the receiver keeps, behind one interface with two implementations:
// bolt (two embedded bbolt files on the pod's volume; one receiver) and postgres (one
// database shared by any number of receivers). The processing code sees only this package.
//
// The promises, the same in both:
//   - Append returns only once the body is durable: the 200 Meta gets is kept.
//   - A claimed batch is applied in one transaction together with its removal from the
//     inbox, so a crash repeats a whole batch or none of it, and a webhook changes counts and
//     the outbox exactly once.
//   - A batch is claimed by one receiver at a time, and the records of one MetaApp are
//     applied in the order they were claimed; each stream's outbox is relayed in order by one
//     receiver at a time (Outbox.Lease).
package store

import (
	"context"
	"errors"
	"time"
)

// Record is one verified webhook body as Meta sent it, with the route it came in on.
type Record struct {
	// Seq orders a store's records; assigned by Append, never reused.
	Seq        uint64
	Namespace  string // the MetaApp's namespace
	App        string // the MetaApp's name
	ReceivedAt time.Time
	Body       []byte
}

// ErrClosed is returned by Append once the store is closing.
var ErrClosed = errors.New("store is closed")

// Store is the receiver's durable state.
type Store interface {
	Inbox
	// Claim returns the next batch of records this receiver may apply (at most maxRecords,
	// both bounds positive, and about maxBytes: at least one record), or nil when none is
	// waiting or all waiting work is held by other receivers. A batch claimed while an
	// earlier one of this receiver is not yet applied follows it; batches must be applied in
	// the order they were claimed, and an Apply out of that order, or after the release of
	// an earlier batch, fails without effect.
	Claim(ctx context.Context, maxRecords, maxBytes int) (Batch, error)
	// Counts returns a number's counts; ok is false when nothing was received for it yet.
	Counts(ctx context.Context, stream string) (c NumberCounts, ok bool, err error)
	// Numbers lists the streams the store holds counts for.
	Numbers(ctx context.Context) ([]string, error)
	// PruneBodies forgets payload hashes first seen before cutoff (Meta retries for 7 days).
	PruneBodies(ctx context.Context, cutoff time.Time) (int, error)
	DeadLetters
	Outbox
	Close() error
}

// WriteChecker is a store that can tell whether an Append would be made durable now: the
// receiver's readiness. A PostgreSQL store checks it reaches a primary that accepts writes
// (after a failover, the old address may answer as a read-only standby). A store without it
// (bbolt: the open file is the check) is ready once open.
type WriteChecker interface {
	CheckWritable(ctx context.Context) error
}

// Inbox takes verified bodies.
type Inbox interface {
	// Append stores rec durably, setting rec.Seq, before it returns nil.
	Append(ctx context.Context, rec *Record) error
	// Appended is signalled (without blocking, coalesced) when records may be waiting.
	Appended() <-chan struct{}
	// Depth is how many records wait to be applied, as far as this receiver knows.
	Depth(ctx context.Context) (int64, error)
}

// HeaderedInbox is implemented by an Inbox that keeps a record as one buffer, a header
// followed by the body: the webhook server reads a body straight after the header, so a
// 3 MB body is not copied again on its way to disk.
type HeaderedInbox interface {
	Inbox
	Header(dst []byte, namespace, app string, receivedAt time.Time) []byte
	AppendEncoded(ctx context.Context, encoded []byte) (uint64, error)
}

// Batch is records claimed for applying.
type Batch interface {
	Records() []Record
	// Apply runs fn in one transaction that also removes the records from the inbox, and
	// commits it: all of fn's effects and the removal, or none. fn runs once and acts only
	// through its Tx. After an error the caller releases the batch (and any claimed after
	// it) and claims again.
	Apply(ctx context.Context, fn func(Tx) error) error
	// Release gives the records back unapplied (another receiver, or a later claim, takes
	// them). It is a no-op after Apply.
	Release()
}

// Tx is one batch's transaction.
type Tx interface {
	// FirstBody reports whether a payload hash is new, and remembers it with at.
	FirstBody(hash []byte, at time.Time) (bool, error)
	// FirstSeen reports whether key (a message id, a chunk, a contact change) is new for
	// stream, and remembers it.
	FirstSeen(stream string, key []byte) (bool, error)
	// Number returns stream's counts for update; they are saved when the transaction
	// commits. When uid is not empty and the counts were recorded for another UID (a
	// CoexNumber deleted and created again under the same name), that number's counts and
	// de-duplication keys are dropped first; its events still in the outbox are kept.
	Number(stream, uid string) (*NumberCounts, error)
	// Touched lists the streams whose counts this transaction loaded for update.
	Touched() []string
	// Emit appends an encoded event to stream's outbox.
	Emit(stream string, event []byte) error
	// DeadLetter keeps a record that cannot be applied, under its payload hash (Meta's
	// duplicates of it are kept once), and forgets the hash as seen: the same body,
	// replayed or delivered again once its CoexNumber exists, is applied then.
	DeadLetter(rec Record, hash []byte, reason string) error
}

// DeadLetter is a signed body the receiver could not apply, kept for a human.
type DeadLetter struct {
	Seq        uint64    `json:"seq"`
	Namespace  string    `json:"namespace"`
	App        string    `json:"app"`
	ReceivedAt time.Time `json:"receivedAt"`
	Reason     string    `json:"reason"`
	Body       []byte    `json:"body"`
}

// DeadLetters are the records kept for a human.
type DeadLetters interface {
	// DeadLetters returns every dead letter, oldest first.
	DeadLetters(ctx context.Context) ([]DeadLetter, error)
	// ReplayDeadLetters moves every dead letter back into the inbox, to be applied again,
	// and reports how many.
	ReplayDeadLetters(ctx context.Context) (int, error)
}

// OutboxItem is one event waiting in a stream.
type OutboxItem struct {
	Seq   uint64
	Event []byte // JSON of an Event
}

// Outbox is the durable queue the relay drains: one ordered stream per CoexNumber
// ("namespace/name").
type Outbox interface {
	// Streams lists the streams with events waiting.
	Streams(ctx context.Context) ([]string, error)
	// Lease gives this receiver stream's outbox for as long as it holds the lease: no other
	// receiver relays the stream meanwhile. ok is false when another receiver holds it. A
	// receiver that dies loses its leases within seconds.
	Lease(ctx context.Context, stream string) (l Lease, ok bool, err error)
	// OutboxDepth is how many events wait, in all streams.
	OutboxDepth(ctx context.Context) (int64, error)
	// Emitted is signalled (without blocking, coalesced) when events may have been added.
	Emitted() <-chan struct{}
}

// Lease is one stream's outbox, held by this receiver.
type Lease interface {
	// Peek returns up to max of the oldest events, in order.
	Peek(ctx context.Context, max int) ([]OutboxItem, error)
	// Ack removes the events up to and including seq, once they are delivered.
	Ack(ctx context.Context, seq uint64) error
	// Release gives the stream back.
	Release()
}

// Put runs fn in a transaction of its own, outside the inbox's flow: it appends a placeholder
// record and applies fn in that record's batch. For tools and tests that must set state as a
// dispatcher would; the placeholder is removed with the batch.
func Put(ctx context.Context, s Store, fn func(Tx) error) error {
	if err := s.Append(ctx, &Record{Namespace: "-", App: "-", ReceivedAt: time.Now(), Body: []byte("{}")}); err != nil {
		return err
	}
	b, err := s.Claim(ctx, 1, 1)
	if err != nil {
		return err
	}
	if b == nil {
		return errors.New("store.Put: the placeholder record was not claimable")
	}
	if b.Records()[0].Namespace != "-" {
		b.Release()
		return errors.New("store.Put: other records wait in the inbox; apply them first")
	}
	return b.Apply(ctx, fn)
}
