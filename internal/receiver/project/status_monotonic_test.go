// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package project

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	v1 "github.com/coex-operator/coex-operator/api/v1alpha1"
	"github.com/coex-operator/coex-operator/internal/receiver/internal/receivertest"
	"github.com/coex-operator/coex-operator/internal/receiver/store"
	"github.com/coex-operator/coex-operator/internal/webhook"
)

// putCounts stores c as stream's counts, as a dispatcher transaction would: in the
// transaction of a batch of one placeholder record.
func putCounts(t *testing.T, s store.Store, stream string, c store.NumberCounts) {
	t.Helper()
	if err := store.Put(context.Background(), s, func(tx store.Tx) error {
		n, err := tx.Number(stream, "")
		*n = c
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// showing returns receivertest.NS/shop with the receiver's fields of its status as the receiver
// wrote them from shown, beside the reconcilers' fields.
func showing(shown store.NumberCounts) *v1.CoexNumber {
	n := receivertest.CoexNumber(receivertest.NS, "shop")
	st := applyStatus(n, shown).Status
	if st.History != nil {
		st.History.SyncRequestRecord = n.Status.History.SyncRequestRecord
	}
	n.Status.History, n.Status.Contacts, n.Status.Echoes = st.History, st.Contacts, st.Echoes
	n.Status.UnsupportedMessages, n.Status.Offboarding = st.UnsupportedMessages, st.Offboarding
	n.Status.Conditions = append(n.Status.Conditions, st.Conditions...)
	return n
}

// synced is a number whose history completed and which was then removed by its partner:
// what the object shows before the receiver lost its state.
var synced = store.NumberCounts{
	UID: "uid-shop", HistoryPhase: ptr(int32(2)), Chunks: 9, Progress: 100, Threads: 5, Messages: 120,
	FinalChunkSeen: true, HistoryStartedAt: tp(1_745_000_100), CompletedAt: tp(1_745_003_700),
	ContactsAdded: 4, ContactsRemoved: 1, Echoes: 6, EchoLastAt: tp(1_745_100_000),
	Unsupported: 2, UnsupportedLastAt: tp(1_745_200_000),
	Offboarding: &store.OffboardingRecord{Event: webhook.EventPartnerRemoved, Reason: "PRIMARY_INACTIVITY",
		InitiatedBy: "SYSTEM", At: time.Unix(1_746_000_000, 0)},
	OffboardedSince: tp(1_746_000_000),
}

// with returns synced changed by fn.
func with(fn func(c *store.NumberCounts)) store.NumberCounts {
	c := synced
	fn(&c)
	return c
}

// TestStatusWriterNeverGoesBackwards: the counts the receiver applies are at least what the
// object shows, for the object's own UID; a completed or declined history and an
// offboarding record stay until a newer event replaces them. The state holds less than the
// object after its volume was lost: what it counts since then must not lower the status.
func TestStatusWriterNeverGoesBackwards(t *testing.T) {
	tests := []struct {
		name  string
		shown store.NumberCounts // what the object shows
		state store.NumberCounts // what the receiver's state holds
		want  *store.NumberCounts
	}{
		{name: "state lost, one echo since: nothing lowers, nothing is written",
			shown: synced, state: store.NumberCounts{UID: "uid-shop", Echoes: 1, EchoLastAt: tp(1_745_050_000)}},
		{name: "state lost, history sent again from its start: the synced history is kept",
			shown: synced,
			state: store.NumberCounts{UID: "uid-shop", HistoryPhase: ptr(int32(0)), Chunks: 1, Progress: 10, Threads: 1, Messages: 3,
				HistoryStartedAt: tp(1_747_000_000)}},
		{name: "state lost, a newer echo: its time is written, the count is kept",
			shown: synced, state: store.NumberCounts{UID: "uid-shop", Echoes: 1, EchoLastAt: tp(1_747_000_000)},
			want: ptr(with(func(c *store.NumberCounts) { c.EchoLastAt = tp(1_747_000_000) }))},
		{name: "state lost, later history: completedAt and HistorySynced=True are kept, counts rise",
			shown: synced,
			state: store.NumberCounts{UID: "uid-shop", HistoryPhase: ptr(int32(2)), Chunks: 10, Progress: 100, Threads: 6, Messages: 130,
				HistoryStartedAt: tp(1_747_000_000), CompletedAt: tp(1_747_000_100)},
			want: ptr(with(func(c *store.NumberCounts) { c.Chunks, c.Threads, c.Messages = 10, 6, 130 }))},
		{name: "state ahead in every count: the state's counts are written",
			shown: synced,
			state: with(func(c *store.NumberCounts) {
				c.Chunks, c.Threads, c.Messages, c.ContactsAdded, c.ContactsRemoved = 10, 7, 200, 9, 3
				c.Echoes, c.Unsupported = 8, 4
			}),
			want: ptr(with(func(c *store.NumberCounts) {
				c.Chunks, c.Threads, c.Messages, c.ContactsAdded, c.ContactsRemoved = 10, 7, 200, 9, 3
				c.Echoes, c.Unsupported = 8, 4
			}))},
		{name: "a declined history stays declined",
			shown: store.NumberCounts{UID: "uid-shop", Declined: true, CompletedAt: tp(1_745_003_700)},
			state: store.NumberCounts{UID: "uid-shop", HistoryPhase: ptr(int32(0)), Chunks: 1, Progress: 20, HistoryStartedAt: tp(1_747_000_000)},
			want: &store.NumberCounts{Declined: true, CompletedAt: tp(1_745_003_700), HistoryPhase: ptr(int32(0)), Chunks: 1, Progress: 100,
				HistoryStartedAt: tp(1_745_003_700)}},
		{name: "a newer account event replaces the offboarding shown",
			shown: synced,
			state: store.NumberCounts{UID: "uid-shop", Offboarding: &store.OffboardingRecord{Event: webhook.EventAccountReconnected,
				At: time.Unix(1_747_000_000, 0)}, OffboardedSince: tp(1_747_000_000)},
			want: ptr(with(func(c *store.NumberCounts) {
				c.Offboarding = &store.OffboardingRecord{Event: webhook.EventAccountReconnected, At: time.Unix(1_747_000_000, 0)}
				c.OffboardedSince = tp(1_747_000_000)
			}))},
		{name: "an older account event does not",
			shown: synced,
			state: store.NumberCounts{UID: "uid-shop", Offboarding: &store.OffboardingRecord{Event: webhook.EventAccountReconnected,
				At: time.Unix(1_745_900_000, 0)}, OffboardedSince: tp(1_745_900_000)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newStatusFixture(t)
			obj := showing(tc.shown)
			f.reader.Objs[receivertest.ObjKey(obj, types.NamespacedName{Namespace: receivertest.NS, Name: "shop"})] = obj
			putCounts(t, f.h.store, receivertest.Stream, tc.state)
			f.w.Mark([]string{receivertest.Stream}, nil)
			f.w.Flush(context.Background())

			ps := f.patchesFor(receivertest.Stream)
			if tc.want == nil {
				if len(ps) != 0 {
					t.Fatalf("the object already shows at least the state's counts, yet the receiver applied %s", ps[0].body)
				}
				return
			}
			if len(ps) != 1 {
				t.Fatalf("%d patches, want 1", len(ps))
			}
			var got statusApply
			if err := json.Unmarshal(ps[0].body, &got); err != nil {
				t.Fatal(err)
			}
			wantJSON, _ := json.Marshal(applyStatus(obj, *tc.want).Status)
			gotJSON, _ := json.Marshal(got.Status)
			if string(gotJSON) != string(wantJSON) {
				t.Errorf("applied status went backwards or lost a field:\n got %s\nwant %s", gotJSON, wantJSON)
			}
		})
	}
}

// TestStatusWriterWithAnEmptyStateErasesNothing: a receiver restarted on an empty state (its
// volume lost) checks the numbers it knows, which are none, and a number marked without
// counts is not written: an apply of nothing would remove the history, the HistorySynced
// and Offboarded conditions and the offboarding record the object shows.
func TestStatusWriterWithAnEmptyStateErasesNothing(t *testing.T) {
	f := newStatusFixture(t)
	obj := showing(synced)
	f.reader.Objs[receivertest.ObjKey(obj, types.NamespacedName{Namespace: receivertest.NS, Name: "shop"})] = obj
	w := NewStatusWriter(Options{Client: f.rec, Reader: f.reader, Store: f.h.store, Interval: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- w.Start(ctx) }()
	w.Mark([]string{receivertest.Stream}, nil)
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if ps := f.patchesFor(receivertest.Stream); len(ps) != 0 {
		t.Fatalf("with nothing in its state the receiver applied %s, which removes what the object shows", ps[0].body)
	}
}

// TestShownCountsReadBackWhatWasWritten: reading the receiver's status back gives the counts
// it was written from, so carrying it forward changes nothing by itself.
func TestShownCountsReadBackWhatWasWritten(t *testing.T) {
	for name, c := range map[string]store.NumberCounts{
		"synced and offboarded": synced,
		"in progress":           {HistoryPhase: ptr(int32(1)), Chunks: 2, Progress: 40, HistoryStartedAt: tp(1_745_000_100)},
		"declined":              {Declined: true, CompletedAt: tp(1_745_003_700)},
		"nothing":               {},
	} {
		t.Run(name, func(t *testing.T) {
			obj := showing(c)
			want, _ := json.Marshal(applyStatus(obj, c).Status)
			got, _ := json.Marshal(applyStatus(obj, carryForward(store.NumberCounts{}, obj)).Status)
			if string(got) != string(want) {
				t.Errorf("status carried forward from an empty state differs from the status shown:\n got %s\nwant %s", got, want)
			}
		})
	}
}
