// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package bolt

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/coex-operator/coex-operator/internal/receiver/store"
)

var inboxBucket = []byte("inbox")

// Spool is the durable inbox. Append returns only once the record is on disk (bbolt commits
// with fdatasync), so a 200 to Meta is never a promise the receiver cannot keep. Concurrent
// appends share one commit (group commit): while one transaction syncs, the next requests
// queue and go together in the following one, so durability costs one fsync per batch, not
// per webhook, and no request waits for a timer.
type Spool struct {
	db       *bolt.DB
	reqs     chan *appendReq
	appended chan struct{}
	depth    atomic.Int64
	lastSeq  atomic.Uint64

	closeOnce sync.Once
	stop      chan struct{}
	done      chan struct{}

	// MaxBatchBytes bounds one group commit (default 64 MiB).
	maxBatchBytes int
}

type appendReq struct {
	rec  *store.Record
	val  []byte
	done chan error
}

// OpenSpool opens (or creates) the spool database at path.
func OpenSpool(path string) (*Spool, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout: 10 * time.Second,
		// The freelist is rebuilt on open instead of written at every commit: cheaper commits
		// for a database that is mostly appended to and deleted from.
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	})
	if err != nil {
		return nil, fmt.Errorf("open spool %s: %w", path, err)
	}
	// Grow the file in large steps: fewer remaps under a burst of 3 MB bodies.
	db.AllocSize = 64 << 20
	s := &Spool{
		db: db, reqs: make(chan *appendReq, 256), appended: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{}), maxBatchBytes: 64 << 20,
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(inboxBucket)
		if err != nil {
			return err
		}
		s.depth.Store(int64(b.Stats().KeyN))
		s.lastSeq.Store(b.Sequence())
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open spool %s: %w", path, err)
	}
	go s.commitLoop()
	return s, nil
}

// Append writes rec durably and sets rec.Seq. ctx bounds only the wait for a place in the
// queue; a queued record is committed (within one group commit) before Append returns.
func (s *Spool) Append(ctx context.Context, rec *store.Record) error {
	if len(rec.Namespace) > math.MaxUint16 || len(rec.App) > math.MaxUint16 {
		return fmt.Errorf("spool record names are limited to %d bytes", math.MaxUint16)
	}
	return s.append(ctx, rec, encodeRecord(rec))
}

// AppendEncoded is Append for a record laid out by RecordHeader followed by its body: the
// webhook server reads bodies straight after the header, so a 3 MB body is not copied again.
// It returns the record's sequence.
func (s *Spool) AppendEncoded(ctx context.Context, encoded []byte) (uint64, error) {
	rec := &store.Record{}
	err := s.append(ctx, rec, encoded)
	return rec.Seq, err
}

func (s *Spool) append(ctx context.Context, rec *store.Record, val []byte) error {
	r := &appendReq{rec: rec, val: val, done: make(chan error, 1)}
	select {
	case s.reqs <- r:
	case <-s.stop:
		return store.ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once queued, the commit is waited for whatever ctx says: the commit loop reads val until
	// then, and the caller may reuse it as soon as this returns. If the loop has exited (the
	// spool closed), nothing reads val any more.
	select {
	case err := <-r.done:
		return err
	case <-s.done:
		select {
		case err := <-r.done:
			return err
		default:
			return store.ErrClosed
		}
	}
}

func (s *Spool) commitLoop() {
	defer close(s.done)
	for {
		var first *appendReq
		select {
		case first = <-s.reqs:
		case <-s.stop:
			s.failPending()
			return
		}
		batch, size := []*appendReq{first}, len(first.val)
	gather:
		for size < s.maxBatchBytes {
			select {
			case r := <-s.reqs:
				batch = append(batch, r)
				size += len(r.val)
			default:
				break gather
			}
		}
		err := s.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(inboxBucket)
			for _, r := range batch {
				seq, err := b.NextSequence()
				if err != nil {
					return err
				}
				r.rec.Seq = seq
				if err := b.Put(seqKey(seq), r.val); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			s.depth.Add(int64(len(batch)))
			s.lastSeq.Store(batch[len(batch)-1].rec.Seq)
			select {
			case s.appended <- struct{}{}:
			default:
			}
		}
		for _, r := range batch {
			r.done <- err
		}
	}
}

func (s *Spool) failPending() {
	for {
		select {
		case r := <-s.reqs:
			r.done <- store.ErrClosed
		default:
			return
		}
	}
}

// Read returns records after seq in order, at most max of them and, beyond the first, about
// maxBytes of bodies.
func (s *Spool) Read(after uint64, max, maxBytes int) ([]store.Record, error) {
	var out []store.Record
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(inboxBucket).Cursor()
		size := 0
		for k, v := c.Seek(seqKey(after + 1)); k != nil && len(out) < max; k, v = c.Next() {
			rec, err := decodeRecord(binary.BigEndian.Uint64(k), v)
			if err != nil {
				return err
			}
			out = append(out, rec)
			if size += len(rec.Body); size >= maxBytes {
				break
			}
		}
		return nil
	})
	return out, err
}

// DeleteThrough removes every record up to and including seq: they have been applied.
func (s *Spool) DeleteThrough(seq uint64) error {
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		n = 0
		c := tx.Bucket(inboxBucket).Cursor()
		for k, _ := c.First(); k != nil && binary.BigEndian.Uint64(k) <= seq; k, _ = c.Next() {
			if err := c.Delete(); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err == nil {
		s.depth.Add(-int64(n))
	}
	return err
}

// Appended is signalled after each commit that added records.
func (s *Spool) Appended() <-chan struct{} { return s.appended }

// Depth is the number of records waiting to be applied.
func (s *Spool) Depth() int64 { return s.depth.Load() }

// LastSeq is the sequence of the newest record ever appended.
func (s *Spool) LastSeq() uint64 { return s.lastSeq.Load() }

// Close stops accepting appends, fails those still queued and closes the database.
func (s *Spool) Close() error {
	s.closeOnce.Do(func() { close(s.stop) })
	<-s.done
	return s.db.Close()
}

func seqKey(seq uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return k[:]
}

// encodeRecord lays a record out as: received-at (unix nanos, 8 bytes), namespace and app
// (each a 2-byte length and the bytes), then the body.
func encodeRecord(r *store.Record) []byte {
	v := make([]byte, 0, 12+len(r.Namespace)+len(r.App)+len(r.Body))
	v = RecordHeader(v, r.Namespace, r.App, r.ReceivedAt)
	return append(v, r.Body...)
}

// RecordHeader appends a record's header to dst; the body follows it. Names must be shorter
// than 64 KiB (Kubernetes names are at most 253 bytes).
func RecordHeader(dst []byte, namespace, app string, receivedAt time.Time) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(receivedAt.UnixNano()))
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(namespace)))
	dst = append(dst, namespace...)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(app)))
	return append(dst, app...)
}

// decodeRecord copies out of bbolt's memory, which is only valid inside the transaction.
func decodeRecord(seq uint64, v []byte) (store.Record, error) {
	bad := fmt.Errorf("spool record %d is corrupt", seq)
	if len(v) < 10 {
		return store.Record{}, bad
	}
	r := store.Record{Seq: seq, ReceivedAt: time.Unix(0, int64(binary.BigEndian.Uint64(v)))}
	v = v[8:]
	var ok bool
	if r.Namespace, v, ok = cutString(v); !ok {
		return store.Record{}, bad
	}
	if r.App, v, ok = cutString(v); !ok {
		return store.Record{}, bad
	}
	r.Body = append([]byte(nil), v...)
	return r, nil
}

func cutString(v []byte) (string, []byte, bool) {
	if len(v) < 2 {
		return "", nil, false
	}
	n := int(binary.BigEndian.Uint16(v))
	if len(v) < 2+n {
		return "", nil, false
	}
	return string(v[2 : 2+n]), v[2+n:], true
}
