// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/coex-operator/coex-operator/internal/receiver/store"
)

func openTestSpool(t *testing.T, path string) *Spool {
	t.Helper()
	s, err := OpenSpool(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func newTestSpool(t *testing.T) *Spool {
	t.Helper()
	return openTestSpool(t, filepath.Join(t.TempDir(), "spool.db"))
}

// appendBodies appends one record per body and returns their sequences.
func appendBodies(t *testing.T, s *Spool, bodies ...string) []uint64 {
	t.Helper()
	var seqs []uint64
	for i, b := range bodies {
		rec := &store.Record{Namespace: "ns", App: "app", ReceivedAt: time.Unix(1_700_000_000, int64(i)), Body: []byte(b)}
		if err := s.Append(context.Background(), rec); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		seqs = append(seqs, rec.Seq)
	}
	return seqs
}

func recordBodies(recs []store.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = string(r.Body)
	}
	return out
}

func recordSeqs(recs []store.Record) []uint64 {
	out := make([]uint64, len(recs))
	for i, r := range recs {
		out[i] = r.Seq
	}
	return out
}

func TestSpoolAppendAssignsIncreasingSeq(t *testing.T) {
	s := newTestSpool(t)
	seqs := appendBodies(t, s, "a", "b", "c")
	if want := []uint64{1, 2, 3}; !slices.Equal(seqs, want) {
		t.Fatalf("seqs = %v, want %v", seqs, want)
	}
	if s.LastSeq() != 3 || s.Depth() != 3 {
		t.Errorf("LastSeq = %d, Depth = %d; want 3, 3", s.LastSeq(), s.Depth())
	}
}

func TestSpoolRecordsSurviveReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool.db")
	s, err := OpenSpool(path)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1_739_212_624, 123456789)
	body := []byte("{\"object\":\"whatsapp_business_account\"}\x00\xff binary-safe")
	rec := &store.Record{Namespace: "tenant-a", App: "meta-app", ReceivedAt: at, Body: body}
	if err := s.Append(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	appendBodies(t, s, "second", "third")
	if err := s.DeleteThrough(2); err != nil { // "second" is applied; "third" waits
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openTestSpool(t, path)
	if s.Depth() != 1 || s.LastSeq() != 3 {
		t.Fatalf("after reopen Depth = %d, LastSeq = %d; want 1, 3", s.Depth(), s.LastSeq())
	}
	recs, err := s.Read(0, 10, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Seq != 3 || string(recs[0].Body) != "third" {
		t.Fatalf("after reopen Read = %v, want only seq 3", recordSeqs(recs))
	}

	// Sequences are never reused, even after the records are deleted and the spool reopened.
	next := appendBodies(t, s, "fourth")
	if next[0] != 4 {
		t.Errorf("first seq after reopen = %d, want 4", next[0])
	}

	// The record's route, time and exact bytes survive too.
	path2 := filepath.Join(t.TempDir(), "spool.db")
	s2, err := OpenSpool(path2)
	if err != nil {
		t.Fatal(err)
	}
	rec2 := &store.Record{Namespace: "tenant-a", App: "meta-app", ReceivedAt: at, Body: body}
	if err := s2.Append(context.Background(), rec2); err != nil {
		t.Fatal(err)
	}
	_ = s2.Close()
	s2 = openTestSpool(t, path2)
	got, err := s2.Read(0, 1, 1<<20)
	if err != nil || len(got) != 1 {
		t.Fatalf("Read = %v, %v", got, err)
	}
	g := got[0]
	if g.Seq != 1 || g.Namespace != "tenant-a" || g.App != "meta-app" || !g.ReceivedAt.Equal(at) || !bytes.Equal(g.Body, body) {
		t.Errorf("reopened record = %+v, want seq 1 tenant-a/meta-app at %v with the same body", g, at)
	}
}

func TestSpoolRead(t *testing.T) {
	s := newTestSpool(t)
	// Bodies of 10 bytes each, seqs 1..10.
	var bodies []string
	for i := 1; i <= 10; i++ {
		bodies = append(bodies, fmt.Sprintf("body-%05d", i))
	}
	appendBodies(t, s, bodies...)

	tests := []struct {
		name             string
		after            uint64
		max, maxBytes    int
		wantFirst, wantN int
	}{
		{"all in order", 0, 100, 1 << 20, 1, 10},
		{"after skips through seq", 4, 100, 1 << 20, 5, 6},
		{"max bounds the count", 0, 3, 1 << 20, 1, 3},
		{"max and after", 7, 2, 1 << 20, 8, 2},
		{"maxBytes stops once reached", 0, 100, 25, 1, 3},
		{"maxBytes exactly two bodies", 0, 100, 20, 1, 2},
		{"the first record comes even when larger than maxBytes", 2, 100, 1, 3, 1},
		{"nothing after the last", 10, 100, 1 << 20, 0, 0},
		{"nothing after beyond the last", 99, 100, 1 << 20, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recs, err := s.Read(tc.after, tc.max, tc.maxBytes)
			if err != nil {
				t.Fatal(err)
			}
			var want []uint64
			for i := range tc.wantN {
				want = append(want, uint64(tc.wantFirst+i))
			}
			if got := recordSeqs(recs); !slices.Equal(got, want) {
				t.Fatalf("Read(%d, %d, %d) seqs = %v, want %v", tc.after, tc.max, tc.maxBytes, got, want)
			}
			for _, r := range recs {
				if want := fmt.Sprintf("body-%05d", r.Seq); string(r.Body) != want || r.Namespace != "ns" || r.App != "app" {
					t.Errorf("record %d = %s/%s %q, want ns/app %q", r.Seq, r.Namespace, r.App, r.Body, want)
				}
			}
		})
	}
}

func TestSpoolReadCopiesOutOfTheDatabase(t *testing.T) {
	s := newTestSpool(t)
	appendBodies(t, s, "original")
	recs, err := s.Read(0, 1, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	// Deleting (and then reusing the pages) must not change a body already read.
	if err := s.DeleteThrough(1); err != nil {
		t.Fatal(err)
	}
	appendBodies(t, s, strings.Repeat("x", 4096))
	if string(recs[0].Body) != "original" {
		t.Errorf("body read before the delete changed to %q", recs[0].Body)
	}
}

func TestSpoolDeleteThroughAndDepth(t *testing.T) {
	s := newTestSpool(t)
	// Enough records, and large enough, to span several bbolt pages: deleting while
	// iterating must not skip any.
	bodies := make([]string, 300)
	for i := range bodies {
		bodies[i] = fmt.Sprintf("%04d-%s", i+1, strings.Repeat("p", 400))
	}
	appendBodies(t, s, bodies...)

	steps := []struct {
		through   uint64
		wantDepth int64
		wantFirst uint64 // first remaining seq, 0 when none
	}{
		{0, 300, 1},
		{1, 299, 2},
		{150, 150, 151},
		{150, 150, 151}, // again: nothing more to delete, depth unchanged
		{100, 150, 151}, // behind what was deleted: a no-op
		{299, 1, 300},
		{10_000, 0, 0}, // beyond the last: deletes the rest
	}
	for _, st := range steps {
		if err := s.DeleteThrough(st.through); err != nil {
			t.Fatal(err)
		}
		if s.Depth() != st.wantDepth {
			t.Errorf("after DeleteThrough(%d) Depth = %d, want %d", st.through, s.Depth(), st.wantDepth)
		}
		recs, err := s.Read(0, 1000, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(recs)) != st.wantDepth {
			t.Errorf("after DeleteThrough(%d) %d records remain, want %d", st.through, len(recs), st.wantDepth)
		}
		if len(recs) > 0 && recs[0].Seq != st.wantFirst {
			t.Errorf("after DeleteThrough(%d) first remaining = %d, want %d", st.through, recs[0].Seq, st.wantFirst)
		}
		for i := 1; i < len(recs); i++ {
			if recs[i].Seq != recs[i-1].Seq+1 {
				t.Fatalf("after DeleteThrough(%d) a gap: %d then %d", st.through, recs[i-1].Seq, recs[i].Seq)
			}
		}
	}
	if s.LastSeq() != 300 {
		t.Errorf("LastSeq = %d after deleting everything, want 300 (sequences are never reused)", s.LastSeq())
	}
}

func TestSpoolConcurrentAppendsGroupCommit(t *testing.T) {
	s := newTestSpool(t)
	const n = 64
	var wg sync.WaitGroup
	seqs := make([]uint64, n)
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			rec := &store.Record{Namespace: "ns", App: "app", ReceivedAt: time.Unix(1, 0), Body: []byte(fmt.Sprintf("body-%02d", i))}
			errs[i] = s.Append(context.Background(), rec)
			seqs[i] = rec.Seq
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("append %d: %v", i, err)
		}
	}
	sorted := slices.Sorted(slices.Values(seqs))
	for i, seq := range sorted {
		if seq != uint64(i+1) {
			t.Fatalf("seqs are not 1..%d, each once: %v", n, sorted)
		}
	}
	if s.Depth() != n || s.LastSeq() != n {
		t.Errorf("Depth = %d, LastSeq = %d; want %d, %d", s.Depth(), s.LastSeq(), n, n)
	}
	// Each appender's seq names its own body.
	recs, err := s.Read(0, n, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	bySeq := map[uint64]string{}
	for _, r := range recs {
		bySeq[r.Seq] = string(r.Body)
	}
	for i, seq := range seqs {
		if want := fmt.Sprintf("body-%02d", i); bySeq[seq] != want {
			t.Errorf("seq %d holds %q, want %q", seq, bySeq[seq], want)
		}
	}
}

func TestSpoolAppendedSignalled(t *testing.T) {
	s := newTestSpool(t)
	appendBodies(t, s, "a")
	select {
	case <-s.Appended():
	default:
		t.Fatal("Appended was not signalled after a commit")
	}
	select {
	case <-s.Appended():
		t.Fatal("Appended signalled twice for one commit")
	default:
	}
}

// spoolCloseBug explains why Append can hang once the spool is closed.
const spoolCloseBug = "regression: spool.go:109-120 (Spool.append) after Close, the first select has both `s.reqs <- r` " +
	"(a buffered channel of 256) and `<-s.stop` ready and Go picks one at random; a request queued after commitLoop " +
	"has exited is never answered and `return <-r.done` waits forever, whatever ctx says. The server's POST handler " +
	"then hangs during shutdown instead of answering 503. Fix: check `<-s.stop` in a non-blocking select before " +
	"queueing, and wait with `select { case err := <-r.done: return err; case <-s.done: select { case err := <-r.done: " +
	"return err; default: return store.ErrClosed } }` (commitLoop closes done only after failPending drained the queue)."

// appendWithin runs Append and reports its error, or hung=true when it has not returned
// within a second (the goroutine is then left blocked: see spoolCloseBug).
func appendWithin(s *Spool, rec *store.Record) (err error, hung bool) {
	errc := make(chan error, 1)
	go func() { errc <- s.Append(context.Background(), rec) }()
	select {
	case err := <-errc:
		return err, false
	case <-time.After(time.Second):
		return nil, true
	}
}

func TestSpoolAppendAfterCloseReturnsErrClosed(t *testing.T) {
	s, err := OpenSpool(filepath.Join(t.TempDir(), "spool.db"))
	if err != nil {
		t.Fatal(err)
	}
	appendBodies(t, s, "before close")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// One attempt is enough when it fails cleanly; repeat so a race between the closed stop
	// channel and the request queue shows up.
	for i := range 20 {
		err, hung := appendWithin(s, &store.Record{Namespace: "ns", App: "app", Body: []byte("after close")})
		if hung {
			t.Fatal(spoolCloseBug + " (attempt " + strconv.Itoa(i) + " hung)")
		}
		if !errors.Is(err, store.ErrClosed) {
			t.Fatalf("attempt %d: Append after Close = %v, want store.ErrClosed", i, err)
		}
	}
}

func TestSpoolAppendsRacingCloseAreStoredOrRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool.db")
	s, err := OpenSpool(path)
	if err != nil {
		t.Fatal(err)
	}
	// Appends racing Close either commit (and are then on disk) or fail with store.ErrClosed:
	// none reports success without being stored.
	const n = 32
	type result struct {
		i    int
		err  error
		hung bool
	}
	results := make(chan result, n)
	for i := range n {
		go func() {
			err, hung := appendWithin(s, &store.Record{Namespace: "ns", App: "app", Body: []byte(fmt.Sprintf("racing-%02d", i))})
			results <- result{i, err, hung}
		}()
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	acked, hung := map[int]bool{}, 0
	for range n {
		r := <-results
		switch {
		case r.hung:
			hung++
		case r.err == nil:
			acked[r.i] = true
		case !errors.Is(r.err, store.ErrClosed):
			t.Errorf("append %d: %v, want nil or store.ErrClosed", r.i, r.err)
		}
	}
	s = openTestSpool(t, path)
	recs, err := s.Read(0, 1000, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{}
	for _, r := range recs {
		stored[string(r.Body)] = true
	}
	for i := range acked {
		if body := fmt.Sprintf("racing-%02d", i); !stored[body] {
			t.Errorf("append of %s returned nil but the record is not in the spool", body)
		}
	}
	if hung > 0 {
		t.Fatal(spoolCloseBug + " (" + strconv.Itoa(hung) + " of the racing appends hung)")
	}
}

func TestEncodeDecodeRecordRoundTrip(t *testing.T) {
	tests := []store.Record{
		{Namespace: "ns", App: "app", ReceivedAt: time.Unix(1_739_212_624, 5), Body: []byte(`{"a":1}`)},
		{Namespace: "", App: "", ReceivedAt: time.Unix(0, 0), Body: nil},
		{Namespace: strings.Repeat("n", 63), App: strings.Repeat("a", 253), ReceivedAt: time.Unix(-5, 0), Body: []byte{0, 1, 2}},
	}
	for _, want := range tests {
		got, err := decodeRecord(7, encodeRecord(&want))
		if err != nil {
			t.Fatalf("decode(encode(%+v)): %v", want, err)
		}
		if got.Seq != 7 || got.Namespace != want.Namespace || got.App != want.App ||
			!got.ReceivedAt.Equal(want.ReceivedAt) || !bytes.Equal(got.Body, want.Body) {
			t.Errorf("round trip of %+v gave %+v", want, got)
		}
	}
}

func TestDecodeRecordRejectsCorruptRecords(t *testing.T) {
	valid := encodeRecord(&store.Record{Namespace: "ns", App: "app", ReceivedAt: time.Unix(1, 0), Body: []byte("body")})
	tests := map[string][]byte{
		"empty":                         {},
		"shorter than the header":       valid[:9],
		"time only":                     valid[:8],
		"namespace length without data": append(valid[:8:8], 0, 5, 'n', 's'),
		"no app length":                 valid[:8+2+2],
		"app length beyond the end":     append(valid[:8+2+2:8+2+2], 0xff, 0xff, 'a'),
		"namespace length beyond end":   append(valid[:8:8], 0xff, 0xff, 0, 0),
	}
	for name, v := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := decodeRecord(42, v)
			if err == nil {
				t.Fatalf("decodeRecord(%x) succeeded", v)
			}
			if !strings.Contains(err.Error(), "42") || !strings.Contains(err.Error(), "corrupt") {
				t.Errorf("error %q does not name the record and say it is corrupt", err)
			}
		})
	}
	// A header with empty names and no body is the smallest valid record.
	if r, err := decodeRecord(1, make([]byte, 12)); err != nil || r.Namespace != "" || len(r.Body) != 0 {
		t.Errorf("decodeRecord(12 zero bytes) = %+v, %v; want an empty record", r, err)
	}
}

func TestSpoolAppendRefusesNamesItCannotFrame(t *testing.T) {
	// Names are framed with a 2-byte length. Kubernetes names are far shorter, and the server
	// refuses longer ones before spooling; Append refuses them too rather than mis-frame.
	spool := newTestSpool(t)
	rec := &store.Record{Namespace: strings.Repeat("n", 70_000), App: "app", Body: []byte("body")}
	if err := spool.Append(context.Background(), rec); err == nil {
		t.Fatal("Append accepted a 70,000-byte namespace")
	}
	if spool.Depth() != 0 {
		t.Errorf("depth %d after a refused append", spool.Depth())
	}
}

func TestSpoolReadReportsCorruptRecord(t *testing.T) {
	s := newTestSpool(t)
	appendBodies(t, s, "good")
	// Write a truncated value straight into the inbox, as a torn or foreign write would.
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(inboxBucket).Put(seqKey(2), []byte{1, 2, 3})
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Read(0, 10, 1<<20); err == nil || !strings.Contains(err.Error(), "2 is corrupt") {
		t.Errorf("Read over a corrupt record: err = %v, want one naming record 2", err)
	}
	// Records before it are still readable on their own.
	if recs, err := s.Read(0, 1, 1<<20); err != nil || len(recs) != 1 || string(recs[0].Body) != "good" {
		t.Errorf("Read(0, 1) = %v, %v", recordBodies(recs), err)
	}
}
