// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package bolt

import (
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/coex-operator/coex-operator/internal/receiver/store"
)

// State is the dispatcher's durable memory, a second bbolt file beside the spool: what has been
// applied (the spool sequence), what has been seen (for de-duplication), each number's true
// counts, the relay outbox, and dead letters. The dispatcher changes all of it in one
// transaction per batch, with the sequence of the last record applied, so a crash at any point
// replays whole batches or none: every record is applied exactly once. A separate file keeps
// the dispatcher's transactions from holding the spool's writer lock while Meta waits for a 200.
type State struct {
	db       *bolt.DB
	appended chan struct{}
}

var (
	metaBucket    = []byte("meta")
	bodiesBucket  = []byte("bodies")  // payload hash -> first received (unix seconds)
	numbersBucket = []byte("numbers") // stream -> store.NumberCounts (JSON)
	seenBucket    = []byte("seen")    // stream -> {key -> nil}
	outboxBucket  = []byte("outbox")  // stream -> {seq -> event JSON}
	deadBucket    = []byte("dead")    // payload hash -> dead letter (JSON)
	appliedKey    = []byte("applied")
)

// OpenState opens (or creates) the state database at path.
func OpenState(path string) (*State, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout: 10 * time.Second, NoFreelistSync: true, FreelistType: bolt.FreelistMapType,
	})
	if err != nil {
		return nil, fmt.Errorf("open state %s: %w", path, err)
	}
	db.AllocSize = 32 << 20
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{metaBucket, bodiesBucket, numbersBucket, seenBucket, outboxBucket, deadBucket} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open state %s: %w", path, err)
	}
	return &State{db: db, appended: make(chan struct{}, 1)}, nil
}

// OpenStateReadOnly opens an existing state database for inspection (dead letters, counts).
// bbolt locks the file, so it waits while a receiver has it open.
func OpenStateReadOnly(path string) (*State, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open state %s (is a receiver still running on it?): %w", path, err)
	}
	return &State{db: db}, nil
}

// Close closes the database.
func (s *State) Close() error { return s.db.Close() }

// Applied is the spool sequence of the last record applied.
func (s *State) Applied() (uint64, error) {
	var seq uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(metaBucket).Get(appliedKey); len(v) == 8 {
			seq = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	return seq, err
}

// Counts returns a number's counts; ok is false when nothing was received for it yet.
func (s *State) Counts(stream string) (c store.NumberCounts, ok bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(numbersBucket).Get([]byte(stream))
		if v == nil {
			return nil
		}
		ok = true
		return json.Unmarshal(v, &c)
	})
	return c, ok, err
}

// Numbers lists the streams the state holds counts for.
func (s *State) Numbers() ([]string, error) {
	var out []string
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(numbersBucket).ForEach(func(k, _ []byte) error {
			out = append(out, string(k))
			return nil
		})
	})
	return out, err
}

// DeadLetters returns every dead letter, oldest first.
func (s *State) DeadLetters() ([]store.DeadLetter, error) {
	var out []store.DeadLetter
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = readDeadLetters(tx)
		return err
	})
	return out, err
}

func readDeadLetters(tx *bolt.Tx) ([]store.DeadLetter, error) {
	b := tx.Bucket(deadBucket)
	if b == nil {
		return nil, nil
	}
	var out []store.DeadLetter
	err := b.ForEach(func(_, v []byte) error {
		var d store.DeadLetter
		if err := json.Unmarshal(v, &d); err != nil {
			return err
		}
		out = append(out, d)
		return nil
	})
	slices.SortFunc(out, func(a, b store.DeadLetter) int { return cmp.Compare(a.Seq, b.Seq) })
	return out, err
}

// PruneBodies forgets payload hashes first seen before cutoff. Meta stops retrying after
// seven days, so an older hash can no longer catch a duplicate.
func (s *State) PruneBodies(cutoff time.Time) (int, error) {
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		n = 0
		c := tx.Bucket(bodiesBucket).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if len(v) == 8 && int64(binary.BigEndian.Uint64(v)) < cutoff.Unix() {
				if err := c.Delete(); err != nil {
					return err
				}
				n++
			}
		}
		return nil
	})
	return n, err
}

// Apply runs fn in one write transaction; the counts fn changed are saved with it.
func (s *State) Apply(fn func(tx *StateTx) error) error {
	emitted := false
	err := s.db.Update(func(btx *bolt.Tx) error {
		tx := &StateTx{tx: btx, numbers: map[string]*store.NumberCounts{}, seen: map[string]*bolt.Bucket{},
			pending: map[string]map[string]struct{}{}, outbox: map[string]*bolt.Bucket{}}
		if err := fn(tx); err != nil {
			return err
		}
		emitted = tx.emitted > 0
		if err := tx.saveSeen(); err != nil {
			return err
		}
		return tx.saveNumbers()
	})
	if err == nil && emitted {
		select {
		case s.appended <- struct{}{}:
		default:
		}
	}
	return err
}

// StateTx is one dispatcher transaction.
type StateTx struct {
	tx      *bolt.Tx
	numbers map[string]*store.NumberCounts
	seen    map[string]*bolt.Bucket
	// pending holds the keys first seen in this transaction, written sorted at the end: bbolt
	// splits nodes only at commit, so random inserts into one growing node cost a copy of
	// the node each, while sorted ones land in order.
	pending map[string]map[string]struct{}
	outbox  map[string]*bolt.Bucket
	emitted int
}

// SetApplied records the spool sequence applied by this transaction.
func (t *StateTx) SetApplied(seq uint64) error {
	return t.tx.Bucket(metaBucket).Put(appliedKey, seqKey(seq))
}

// FirstBody marks a payload hash seen and reports whether it is new.
func (t *StateTx) FirstBody(hash []byte, at time.Time) (bool, error) {
	b := t.tx.Bucket(bodiesBucket)
	if b.Get(hash) != nil {
		return false, nil
	}
	return true, b.Put(hash, seqKey(uint64(at.Unix())))
}

// FirstSeen marks key seen for stream and reports whether it is new.
func (t *StateTx) FirstSeen(stream string, key []byte) (bool, error) {
	b, err := t.sub(seenBucket, t.seen, stream)
	if err != nil {
		return false, err
	}
	p := t.pending[stream]
	if p == nil {
		p = map[string]struct{}{}
		t.pending[stream] = p
	}
	if _, ok := p[string(key)]; ok || b.Get(key) != nil {
		return false, nil
	}
	p[string(key)] = struct{}{}
	return true, nil
}

func (t *StateTx) saveSeen() error {
	for stream, keys := range t.pending {
		b := t.seen[stream]
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		slices.Sort(sorted)
		for _, k := range sorted {
			if err := b.Put([]byte(k), []byte{}); err != nil {
				return err
			}
		}
	}
	return nil
}

// counts returns the stream's counts for update; they are saved when the transaction commits.
func (t *StateTx) counts(stream string) (*store.NumberCounts, error) {
	if c, ok := t.numbers[stream]; ok {
		return c, nil
	}
	c := &store.NumberCounts{}
	if v := t.tx.Bucket(numbersBucket).Get([]byte(stream)); v != nil {
		if err := json.Unmarshal(v, c); err != nil {
			return nil, fmt.Errorf("counts of %s are corrupt: %w", stream, err)
		}
	}
	t.numbers[stream] = c
	return c, nil
}

// Number implements store.Tx. When the counts belong to an earlier CoexNumber of the same
// name (another UID), that number's counts and de-duplication keys are dropped first: a
// re-onboarded number's history arrives again and must be counted again. Events still in the
// outbox are kept and delivered.
func (t *StateTx) Number(stream, uid string) (*store.NumberCounts, error) {
	n, err := t.counts(stream)
	if err != nil || uid == "" || n.UID == uid {
		return n, err
	}
	if n.UID != "" {
		if err := t.tx.Bucket(seenBucket).DeleteBucket([]byte(stream)); err != nil && !errors.Is(err, bolterrors.ErrBucketNotFound) {
			return nil, err
		}
		delete(t.seen, stream)
		delete(t.pending, stream)
		*n = store.NumberCounts{}
	}
	n.UID = uid
	return n, nil
}

// Touched lists the streams whose counts this transaction loaded for update.
func (t *StateTx) Touched() []string {
	out := make([]string, 0, len(t.numbers))
	for k := range t.numbers {
		out = append(out, k)
	}
	return out
}

// Emit appends an encoded event to the stream's outbox.
func (t *StateTx) Emit(stream string, event []byte) error {
	b, err := t.sub(outboxBucket, t.outbox, stream)
	if err != nil {
		return err
	}
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	t.emitted++
	return b.Put(seqKey(seq), event)
}

// DeadLetter keeps a record the dispatcher cannot apply, under its payload hash (so Meta's
// duplicates of it are kept once), and forgets the hash as a seen payload: the same body,
// delivered or replayed once its CoexNumber exists, is applied then.
func (t *StateTx) DeadLetter(rec store.Record, hash []byte, reason string) error {
	v, err := json.Marshal(store.DeadLetter{Seq: rec.Seq, Namespace: rec.Namespace, App: rec.App,
		ReceivedAt: rec.ReceivedAt, Reason: reason, Body: rec.Body})
	if err != nil {
		return err
	}
	if err := t.tx.Bucket(bodiesBucket).Delete(hash); err != nil {
		return err
	}
	return t.tx.Bucket(deadBucket).Put(hash, v)
}

// TakeDeadLetters removes the dead letters and returns them, oldest first, calling keep with
// them before the removal commits: if keep fails, they stay.
func (s *State) TakeDeadLetters(keep func([]store.DeadLetter) error) (int, error) {
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		letters, err := readDeadLetters(tx)
		if err != nil || len(letters) == 0 {
			return err
		}
		if err := keep(letters); err != nil {
			return err
		}
		n = len(letters)
		if err := tx.DeleteBucket(deadBucket); err != nil {
			return err
		}
		_, err = tx.CreateBucket(deadBucket)
		return err
	})
	return n, err
}

func (t *StateTx) sub(parent []byte, cache map[string]*bolt.Bucket, stream string) (*bolt.Bucket, error) {
	if b, ok := cache[stream]; ok {
		return b, nil
	}
	b, err := t.tx.Bucket(parent).CreateBucketIfNotExists([]byte(stream))
	if err != nil {
		return nil, err
	}
	cache[stream] = b
	return b, nil
}

func (t *StateTx) saveNumbers() error {
	b := t.tx.Bucket(numbersBucket)
	for stream, c := range t.numbers {
		v, err := json.Marshal(c)
		if err != nil {
			return err
		}
		if err := b.Put([]byte(stream), v); err != nil {
			return err
		}
	}
	return nil
}

// Streams implements Outbox.
func (s *State) Streams() ([]string, error) {
	var out []string
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(outboxBucket).ForEachBucket(func(stream []byte) error {
			if k, _ := tx.Bucket(outboxBucket).Bucket(stream).Cursor().First(); k != nil {
				out = append(out, string(stream))
			}
			return nil
		})
	})
	return out, err
}

// Peek implements Outbox.
func (s *State) Peek(stream string, max int) ([]store.OutboxItem, error) {
	var out []store.OutboxItem
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(outboxBucket).Bucket([]byte(stream))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.First(); k != nil && len(out) < max; k, v = c.Next() {
			out = append(out, store.OutboxItem{Seq: binary.BigEndian.Uint64(k), Event: append([]byte(nil), v...)})
		}
		return nil
	})
	return out, err
}

// Ack implements Outbox.
func (s *State) Ack(stream string, seq uint64) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(outboxBucket).Bucket([]byte(stream))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, _ := c.First(); k != nil && binary.BigEndian.Uint64(k) <= seq; k, _ = c.Next() {
			if err := c.Delete(); err != nil {
				return err
			}
		}
		return nil
	})
}

// Appended implements Outbox.
func (s *State) Appended() <-chan struct{} { return s.appended }

// OutboxDepth counts the events waiting in every stream.
func (s *State) OutboxDepth() (int64, error) {
	var n int64
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(outboxBucket).ForEachBucket(func(k []byte) error {
			n += int64(tx.Bucket(outboxBucket).Bucket(k).Stats().KeyN)
			return nil
		})
	})
	return n, err
}
