// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package process

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/coex-operator/coex-operator/internal/webhook"

	"github.com/coex-operator/coex-operator/internal/receiver/event"
	"github.com/coex-operator/coex-operator/internal/receiver/internal/receivertest"
	"github.com/coex-operator/coex-operator/internal/receiver/store"
	"github.com/coex-operator/coex-operator/internal/receiver/store/bolt"
)

// Ids from Meta's examples in internal/webhook/testdata.
const (
	sharedPlaceholderID = "wamid.QyNUEHBgLMTY0NjcwNDM1OTUVAgARGBI1Rj3NEYxMzAzMzQ5MkEA" // media_placeholder, then media
	editRevokeID        = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA="
	originalMessageID   = "wamid.HBgLMTQxMjU1NTA4MjkVAgASGBQzQUNCNjk5RDUwNUZGMUZEM0VBRAA="
	exampleEchoID       = "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDNkZBRTlFN0U2RTA1QzQ1RjMA"
)

// --- history ---

func TestHistoryCountsDistinctChunksThreadsAndMessages(t *testing.T) {
	h := newHarness(t, newResolver(shopTarget(true)))
	h.deliverAndDrain(
		receivertest.HistoryBody(t, receivertest.PhoneID, 1, receivertest.Chunk(0, 1, 10, receivertest.Thread("u1", "m1", "m2"), receivertest.Thread("u2", "m3"))),
		// u1 again (one thread), a new user, a new phase.
		receivertest.HistoryBody(t, receivertest.PhoneID, 2, receivertest.Chunk(1, 1, 40, receivertest.Thread("u1", "m4"), receivertest.Thread("u3", "m5", "m6"))),
	)
	c := h.counts(receivertest.Stream)
	if c.Chunks != 2 || c.Threads != 3 || c.Messages != 6 {
		t.Errorf("chunks/threads/messages = %d/%d/%d, want 2/3/6", c.Chunks, c.Threads, c.Messages)
	}
	if c.HistoryPhase == nil || *c.HistoryPhase != 1 || c.Progress != 40 {
		t.Errorf("phase %v progress %d, want phase 1 progress 40", c.HistoryPhase, c.Progress)
	}
	if c.HistoryStartedAt == nil || c.CompletedAt != nil {
		t.Errorf("started %v completed %v, want started and not completed", c.HistoryStartedAt, c.CompletedAt)
	}
	msgs := h.eventsOfType(receivertest.Stream, event.TypeHistoryMessage)
	if got, want := eventIDs(msgs), []string{"history.message:m1", "history.message:m2", "history.message:m3",
		"history.message:m4", "history.message:m5", "history.message:m6"}; !slices.Equal(got, want) {
		t.Errorf("history events = %v, want %v", got, want)
	}
	if ev := msgs[3]; ev.ThreadID != "u1" || ev.HistoryPhase == nil || *ev.HistoryPhase != 1 ||
		ev.HistoryChunk == nil || *ev.HistoryChunk != 1 || ev.WindowClosesAt != nil {
		t.Errorf("m4 event = %+v, want thread u1, phase 1, chunk 1 and no window", ev)
	}
	if got := testutil.ToFloat64(h.metrics.HistoryMessages); got != 6 {
		t.Errorf("history_messages_total = %v, want 6", got)
	}
}

func TestHistoryExampleFromMeta(t *testing.T) {
	h := newHarness(t, newResolver(shopTarget(true)))
	h.deliverAndDrain(receivertest.ReadTestdata(t, "history_shared.json"))
	c := h.counts(receivertest.Stream)
	if c.Chunks != 1 || c.Threads != 2 || c.Messages != 4 || c.Progress != 55 || c.MediaFollows != 0 {
		t.Errorf("counts = %+v, want 1 chunk, 2 threads, 4 messages (placeholder included), progress 55", c)
	}
}

func TestHistoryRedeliveryCountsOnce(t *testing.T) {
	first := receivertest.HistoryBody(t, receivertest.PhoneID, 100, receivertest.Chunk(0, 1, 30, receivertest.Thread("u1", "m1", "m2"), receivertest.Thread("u2", "m3")))
	tests := []struct {
		name      string
		again     []byte
		wantDup   float64 // whole payloads recognised as seen
		wantEvent int
	}{
		{"same bytes", first, 1, 3},
		{"same chunk in another envelope", receivertest.HistoryBody(t, receivertest.PhoneID, 200, receivertest.Chunk(0, 1, 30, receivertest.Thread("u1", "m1", "m2"), receivertest.Thread("u2", "m3"))), 0, 3},
		{"same messages in another chunk", receivertest.HistoryBody(t, receivertest.PhoneID, 300, receivertest.Chunk(0, 2, 30, receivertest.Thread("u2", "m3"), receivertest.Thread("u1", "m2", "m1"))), 0, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, newResolver(shopTarget(true)))
			h.deliverAndDrain(first, tc.again)
			c := h.counts(receivertest.Stream)
			wantChunks := int64(1)
			if strings.Contains(tc.name, "another chunk") {
				wantChunks = 2 // a new (phase, order) is a new chunk, even with old messages
			}
			if c.Chunks != wantChunks || c.Threads != 2 || c.Messages != 3 {
				t.Errorf("chunks/threads/messages = %d/%d/%d, want %d/2/3", c.Chunks, c.Threads, c.Messages, wantChunks)
			}
			if n := len(h.events(receivertest.Stream)); n != tc.wantEvent {
				t.Errorf("%d events, want %d", n, tc.wantEvent)
			}
			if got := testutil.ToFloat64(h.metrics.Duplicates); got != tc.wantDup {
				t.Errorf("duplicates_total = %v, want %v", got, tc.wantDup)
			}
			if h.d.AppliedRecords() != 2 {
				t.Errorf("AppliedRecords = %d, want 2", h.d.AppliedRecords())
			}
		})
	}
}

func TestHistoryCompletesOnlyWhenNoChunkIsMissing(t *testing.T) {
	// Phase 0 chunks 1-2, phase 1 chunk 1, phase 2 chunks 1-3; progress 100 on phase 2 chunk 3.
	type c struct{ phase, order, progress int64 }
	all := []c{{0, 1, 5}, {0, 2, 10}, {1, 1, 50}, {2, 1, 80}, {2, 2, 90}, {2, 3, 100}}
	tests := []struct {
		name  string
		order []int // indexes into all, in arrival order
	}{
		{"in order", []int{0, 1, 2, 3, 4, 5}},
		{"last chunk first", []int{5, 0, 1, 2, 3, 4}},
		{"gap in phase 2 filled last", []int{0, 1, 2, 3, 5, 4}},
		{"gap in phase 0 filled last", []int{1, 2, 3, 4, 5, 0}},
		{"first chunk of phase 2 last", []int{0, 1, 2, 4, 5, 3}},
		{"shuffled", []int{2, 5, 0, 3, 1, 4}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, newResolver(shopTarget(false)))
			for i, idx := range tc.order {
				ch := all[idx]
				h.deliverAndDrain(receivertest.HistoryBody(t, receivertest.PhoneID, int64(i+1),
					receivertest.Chunk(ch.phase, ch.order, ch.progress, receivertest.Thread("user"+strconv.Itoa(idx), "msg"+strconv.Itoa(idx)))))
				got := h.counts(receivertest.Stream)
				last := i == len(tc.order)-1
				if !last && got.CompletedAt != nil {
					t.Fatalf("after %d of %d chunks (%v) CompletedAt = %v, want none: a chunk is missing",
						i+1, len(all), tc.order[:i+1], got.CompletedAt)
				}
				if last {
					if got.CompletedAt == nil {
						t.Fatalf("all chunks in, CompletedAt not set (counts %+v)", got)
					}
					if !got.CompletedAt.Equal(h.clk.Now()) {
						t.Errorf("CompletedAt = %v, want the receipt of the chunk that filled the gap (%v)", got.CompletedAt, h.clk.Now())
					}
				}
			}
			got := h.counts(receivertest.Stream)
			if got.Chunks != 6 || got.Progress != 100 || got.HistoryPhase == nil || *got.HistoryPhase != 2 || !got.FinalChunkSeen {
				t.Errorf("final counts %+v", got)
			}
		})
	}
}

func TestHistoryNotCompleteWhileAWholeEarlierPhaseIsMissing(t *testing.T) {
	h := newHarness(t, newResolver(shopTarget(false)))
	// Phase 2 arrives whole, its last chunk with progress 100, before any chunk of phases 0
	// and 1 (chunks, and so phases, may arrive out of order).
	h.deliverAndDrain(
		receivertest.HistoryBody(t, receivertest.PhoneID, 1, receivertest.Chunk(2, 3, 100, receivertest.Thread("u3", "p2-3"))),
		receivertest.HistoryBody(t, receivertest.PhoneID, 2, receivertest.Chunk(2, 2, 90, receivertest.Thread("u2", "p2-2"))),
		receivertest.HistoryBody(t, receivertest.PhoneID, 3, receivertest.Chunk(2, 1, 80, receivertest.Thread("u1", "p2-1"))),
	)
	if c := h.counts(receivertest.Stream); c.CompletedAt != nil {
		t.Fatal("BUG: normalize.go:333-343 historyComplete treats a phase with no chunk yet as complete " +
			"(`r.Count > 0 && !r.complete()`), so when phase 2 arrives whole before phases 0 and 1, history is marked " +
			"completed (HistorySynced=True/Completed) while two phases are still missing; the later phases then " +
			"arrive after CompletedAt. Fix: remember the phase of the progress-100 chunk and require every phase " +
			"up to it to have at least one chunk and no gap (Meta sends an empty chunk where a phase has nothing).")
	}
	h.deliverAndDrain(receivertest.HistoryBody(t, receivertest.PhoneID, 4, receivertest.Chunk(0, 1, 30, receivertest.Thread("u0", "p0-1")), receivertest.Chunk(1, 1, 60, receivertest.Thread("u0", "p1-1"))))
	if c := h.counts(receivertest.Stream); c.CompletedAt == nil {
		t.Error("all phases in, CompletedAt not set")
	}
}

func TestHistoryCompletedAtDoesNotMoveOnLaterChunks(t *testing.T) {
	h := newHarness(t, newResolver(shopTarget(false)))
	h.deliverAndDrain(receivertest.HistoryBody(t, receivertest.PhoneID, 1, receivertest.Chunk(0, 1, 100, receivertest.Thread("u", "m1"))))
	done := h.counts(receivertest.Stream).CompletedAt
	if done == nil {
		t.Fatal("a single chunk with progress 100 did not complete history")
	}
	h.deliverAndDrain(receivertest.HistoryBody(t, receivertest.PhoneID, 2, receivertest.Chunk(0, 1, 100, receivertest.Thread("u", "m2"))))
	if got := h.counts(receivertest.Stream).CompletedAt; got == nil || !got.Equal(*done) {
		t.Errorf("CompletedAt moved from %v to %v", done, got)
	}
}

func TestHistoryEmptyLastChunkAloneIsNotComplete(t *testing.T) {
	h := newHarness(t, newResolver(shopTarget(false)))
	// Meta's example: phase 2, chunk 7, progress 100, no threads: chunks 1-6 are missing.
	h.deliverAndDrain(receivertest.ReadTestdata(t, "history_last_chunk_empty.json"))
	c := h.counts(receivertest.Stream)
	if c.Progress != 100 || c.Chunks != 1 || !c.FinalChunkSeen || c.CompletedAt != nil {
		t.Errorf("counts = %+v, want progress 100, 1 chunk, final seen, not completed", c)
	}
	if c.HistoryPhase == nil || *c.HistoryPhase != 2 {
		t.Errorf("phase = %v, want 2 (quoted in the example)", c.HistoryPhase)
	}
	// Chunks 1-6 of phase 2 arrive: phase 2 is whole, but phases 0 and 1 have not come.
	var chunks []webhook.HistoryChunk
	for o := int64(1); o <= 6; o++ {
		chunks = append(chunks, receivertest.Chunk(2, o, 90, receivertest.Thread("u"+strconv.Itoa(int(o)), "p2-"+strconv.Itoa(int(o)))))
	}
	h.deliverAndDrain(receivertest.HistoryBody(t, receivertest.PhoneID, 9, chunks...))
	if c := h.counts(receivertest.Stream); c.CompletedAt != nil || c.Chunks != 7 {
		t.Errorf("with phases 0 and 1 missing: counts = %+v, want 7 chunks, not completed", c)
	}
	// Phases 0 and 1 (one chunk each): now it is whole.
	h.deliverAndDrain(receivertest.HistoryBody(t, receivertest.PhoneID, 10, receivertest.Chunk(0, 1, 20, receivertest.Thread("u0", "p0-1")), receivertest.Chunk(1, 1, 40)))
	if c := h.counts(receivertest.Stream); c.CompletedAt == nil || c.Chunks != 9 || c.Progress != 100 {
		t.Errorf("after the missing chunks: counts = %+v, want completed with 9 chunks and progress still 100", c)
	}
}

func TestHistoryDeclined(t *testing.T) {
	h := newHarness(t, newResolver(shopTarget(true)))
	declined := receivertest.ReadTestdata(t, "history_declined.json")
	h.deliverAndDrain(declined)
	at := h.clk.Now()
	c := h.counts(receivertest.Stream)
	if !c.Declined || c.CompletedAt == nil || !c.CompletedAt.Equal(at) {
		t.Errorf("counts = %+v, want declined and completed at %v", c, at)
	}
	if c.Chunks != 0 || c.Messages != 0 {
		t.Errorf("a declined history counted chunks %d, messages %d", c.Chunks, c.Messages)
	}
	// The same refusal in another envelope is not a second event, and does not move the time.
	again := bytes.Replace(declined, []byte(`"time": 1739212624`), []byte(`"time": 1739212999`), 1)
	if bytes.Equal(again, declined) {
		t.Fatal("test body was not changed")
	}
	h.deliverAndDrain(again)
	if evs := h.eventsOfType(receivertest.Stream, event.TypeHistoryDecline); len(evs) != 1 || evs[0].ID != event.TypeHistoryDecline+":"+receivertest.PhoneID {
		t.Errorf("declined events = %v, want one with a stable id", eventIDs(evs))
	}
	if c := h.counts(receivertest.Stream); !c.CompletedAt.Equal(at) {
		t.Errorf("CompletedAt moved to %v", c.CompletedAt)
	}
}

func TestHistoryMediaFollowUps(t *testing.T) {
	h := newHarness(t, newResolver(shopTarget(true)))
	h.deliverAndDrain(receivertest.ReadTestdata(t, "history_shared.json"), receivertest.ReadTestdata(t, "history_media.json"))
	c := h.counts(receivertest.Stream)
	if c.Messages != 4 || c.MediaFollows != 1 {
		t.Errorf("messages %d, media follows %d; want 4 and 1 (the media follows its placeholder, it is not a new message)",
			c.Messages, c.MediaFollows)
	}
	media := h.eventsOfType(receivertest.Stream, event.TypeHistoryMedia)
	if len(media) != 1 {
		t.Fatalf("%d history.media events, want 1", len(media))
	}
	ev := media[0]
	if ev.ID != event.TypeHistoryMedia+":"+sharedPlaceholderID || ev.MessageID != sharedPlaceholderID ||
		ev.ThreadID != "16505551234" || ev.Timestamp != 1738796547 || !strings.Contains(string(ev.Data), "Black Prince echeveria") {
		t.Errorf("media event = %+v", ev)
	}
	if n := len(h.eventsOfType(receivertest.Stream, event.TypeHistoryMessage)); n != 4 {
		t.Errorf("%d history.message events, want 4", n)
	}
	// Delivered again in another envelope: counted and emitted once.
	h.deliverAndDrain(receivertest.MediaBody(t, receivertest.PhoneID, 77, webhook.Message{From: "16505551234", ID: sharedPlaceholderID,
		Timestamp: 1738796547, Type: webhook.TypeImage, Image: &webhook.Media{ID: "24230790383178626"}}))
	if c := h.counts(receivertest.Stream); c.MediaFollows != 1 || c.Messages != 4 {
		t.Errorf("after redelivery: media follows %d, messages %d; want 1 and 4", c.MediaFollows, c.Messages)
	}
	if n := len(h.eventsOfType(receivertest.Stream, event.TypeHistoryMedia)); n != 1 {
		t.Errorf("after redelivery: %d history.media events, want 1", n)
	}
}

func TestHistoryMediaFollowUpAfterADuplicate(t *testing.T) {
	h := newHarness(t, newResolver(shopTarget(true)))
	h.deliverAndDrain(
		receivertest.MediaBody(t, receivertest.PhoneID, 1, receivertest.ImageMessage("media-1", "u1", 1_739_000_000)),
		// Meta batches a retried media message with a new one.
		receivertest.MediaBody(t, receivertest.PhoneID, 2, receivertest.ImageMessage("media-1", "u1", 1_739_000_000), receivertest.ImageMessage("media-2", "u1", 1_739_000_001)),
	)
	if c := h.counts(receivertest.Stream); c.MediaFollows != 2 {
		t.Fatal("BUG: normalize.go:282-285 in applier.history the media loop does `if err != nil || !first { return err }`, " +
			"so the first already-seen media message returns from history() and every message after it in the same " +
			"webhook is dropped (not counted, no history.media event), and the CompletedAt check at the end is skipped. " +
			"Got MediaFollows " + strconv.Itoa(int(c.MediaFollows)) + ", want 2. Fix: `if err != nil { return err }; if !first { continue }`.")
	}
	if n := len(h.eventsOfType(receivertest.Stream, event.TypeHistoryMedia)); n != 2 {
		t.Errorf("%d history.media events, want 2", n)
	}
}

// --- contacts, echoes, messages ---

func TestContactsCountedOnceEvenIfRedelivered(t *testing.T) {
	h := newHarness(t, newResolver(shopTarget(true)))
	example := receivertest.ReadTestdata(t, "state_sync.json") // one add, one remove
	h.deliverAndDrain(example, example)
	// The same two items in another envelope, in the other order.
	h.deliverAndDrain(receivertest.ContactsBody(t, receivertest.PhoneID, 5,
		receivertest.Contact(webhook.ActionRemove, "12125557890", "", 1738346232),
		receivertest.Contact(webhook.ActionAdd, "16505551234", "Sheena Nelson", 1738346231)))
	c := h.counts(receivertest.Stream)
	if c.ContactsAdded != 1 || c.ContactsRemoved != 1 {
		t.Errorf("added %d removed %d, want 1 and 1", c.ContactsAdded, c.ContactsRemoved)
	}
	if evs := h.eventsOfType(receivertest.Stream, event.TypeContact); len(evs) != 2 {
		t.Errorf("%d contact events, want 2", len(evs))
	}
	// An edit is a new add (another name, later timestamp); a contact removed again later is
	// a new removal.
	h.deliverAndDrain(receivertest.ContactsBody(t, receivertest.PhoneID, 6,
		receivertest.Contact(webhook.ActionAdd, "16505551234", "Sheena N.", 1738346300),
		receivertest.Contact(webhook.ActionRemove, "12125557890", "", 1738346400)))
	if c := h.counts(receivertest.Stream); c.ContactsAdded != 2 || c.ContactsRemoved != 2 {
		t.Errorf("after an edit and a second removal: added %d removed %d, want 2 and 2", c.ContactsAdded, c.ContactsRemoved)
	}
}

func TestEchoesCountedWithNewestTimestamp(t *testing.T) {
	h := newHarness(t, newResolver(shopTarget(true)))
	h.deliverAndDrain(
		receivertest.EchoesBody(t, receivertest.PhoneID, 1, receivertest.Echo("e1", "u1", 1_739_000_100), receivertest.Echo("e2", "u2", 1_739_000_300)),
		receivertest.EchoesBody(t, receivertest.PhoneID, 2, receivertest.Echo("e3", "u1", 1_739_000_200)), // older than e2, arrives later
		receivertest.EchoesBody(t, receivertest.PhoneID, 3, receivertest.Echo("e2", "u2", 1_739_000_300)), // redelivered
	)
	c := h.counts(receivertest.Stream)
	if c.Echoes != 3 {
		t.Errorf("echoes = %d, want 3", c.Echoes)
	}
	if want := time.Unix(1_739_000_300, 0); c.EchoLastAt == nil || !c.EchoLastAt.Equal(want) {
		t.Errorf("EchoLastAt = %v, want %v (the newest echo)", c.EchoLastAt, want)
	}
	evs := h.eventsOfType(receivertest.Stream, event.TypeEcho)
	if got := eventIDs(evs); !slices.Equal(got, []string{"echo:e1", "echo:e2", "echo:e3"}) {
		t.Errorf("echo events = %v", got)
	}
	for _, ev := range evs {
		if ev.WindowClosesAt != nil {
			t.Errorf("echo %s opened a customer service window", ev.ID)
		}
	}
}

func TestEchoExampleFromMeta(t *testing.T) {
	h := newHarness(t, newResolver(shopTarget(true)))
	h.deliverAndDrain(receivertest.ReadTestdata(t, "echoes.json"))
	evs := h.eventsOfType(receivertest.Stream, event.TypeEcho)
	if len(evs) != 1 || evs[0].MessageID != exampleEchoID || evs[0].ThreadID != "16505551234" || evs[0].Timestamp != 1739321024 {
		t.Fatalf("echo events = %+v", evs)
	}
	// Fields the types do not know are relayed as Meta sent them.
	if !strings.Contains(string(evs[0].Data), "business_scoped_user_id") {
		t.Errorf("echo data lost Meta's extra fields: %s", evs[0].Data)
	}
	if c := h.counts(receivertest.Stream); c.Echoes != 1 || c.EchoLastAt == nil || c.EchoLastAt.Unix() != 1739321024 {
		t.Errorf("counts = %+v", c)
	}
}

func TestInboundMessageOpensWindowOnlyAfterOnboarding(t *testing.T) {
	onboarded := receivertest.OnboardedAt.Unix()
	tests := []struct {
		name       string
		ts         int64
		wantWindow bool
	}{
		{"after onboarding", onboarded + 600, true},
		{"at onboarding", onboarded, true},
		{"before onboarding", onboarded - 1, false},
		{"long before onboarding", onboarded - 30*24*3600, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, newResolver(shopTarget(true)))
			h.deliverAndDrain(receivertest.MessagesBody(t, receivertest.PhoneID, 1, webhook.MessagesValue{
				Messages: []webhook.Message{receivertest.TextMessage("in-1", "16505551234", tc.ts)}}))
			evs := h.eventsOfType(receivertest.Stream, event.TypeMessage)
			if len(evs) != 1 {
				t.Fatalf("%d message events, want 1", len(evs))
			}
			ev := evs[0]
			if ev.ID != "message:in-1" || ev.ThreadID != "16505551234" || ev.Timestamp != tc.ts {
				t.Errorf("event = %+v", ev)
			}
			switch {
			case tc.wantWindow && ev.WindowClosesAt == nil:
				t.Error("no WindowClosesAt for a message after onboarding")
			case tc.wantWindow && !ev.WindowClosesAt.Equal(time.Unix(tc.ts, 0).Add(24*time.Hour)):
				t.Errorf("WindowClosesAt = %v, want timestamp + 24h", ev.WindowClosesAt)
			case !tc.wantWindow && ev.WindowClosesAt != nil:
				t.Errorf("WindowClosesAt = %v for a message before onboarding, want none", ev.WindowClosesAt)
			}
		})
	}
}

func TestEditAndRevokeCarryTheOriginalMessageID(t *testing.T) {
	tests := []struct {
		file     string
		wantType string
	}{
		{"edit.json", event.TypeEdit},
		{"revoke.json", event.TypeRevoke},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			h := newHarness(t, newResolver(shopTarget(true)))
			h.deliverAndDrain(receivertest.ReadTestdata(t, tc.file))
			evs := h.events(receivertest.Stream)
			if len(evs) != 1 {
				t.Fatalf("%d events, want 1", len(evs))
			}
			ev := evs[0]
			if ev.Type != tc.wantType || ev.ID != tc.wantType+":"+editRevokeID || ev.MessageID != editRevokeID ||
				ev.OriginalMessageID != originalMessageID {
				t.Errorf("event = %+v, want %s of %s", ev, tc.wantType, originalMessageID)
			}
			if c := h.counts(receivertest.Stream); c.Unsupported != 0 || c.Messages != 0 {
				t.Errorf("counts = %+v", c)
			}
		})
	}
}

func TestUnsupportedMessagesCountedAndReported(t *testing.T) {
	h := newHarness(t, newResolver(shopTarget(true)))
	unsupported := receivertest.ReadTestdata(t, "unsupported.json")
	h.deliverAndDrain(unsupported)
	c := h.counts(receivertest.Stream)
	if c.Unsupported != 1 || c.UnsupportedLastAt == nil || c.UnsupportedLastAt.Unix() != 1749854575 {
		t.Errorf("unsupported %d at %v, want 1 at 1749854575", c.Unsupported, c.UnsupportedLastAt)
	}
	evs := h.events(receivertest.Stream)
	if len(evs) != 1 || evs[0].Type != event.TypeUnsupported || evs[0].ID != event.TypeUnsupported+":"+editRevokeID || evs[0].WindowClosesAt != nil {
		t.Errorf("events = %+v, want one unsupported event without a window", evs)
	}
	calls := h.appliedCalls()
	if len(calls) != 1 || !slices.Equal(calls[0].streams, []string{receivertest.Stream}) || calls[0].unsupported[receivertest.Stream] != 1 {
		t.Fatalf("Applied calls = %+v, want one for %s reporting 1 unsupported", calls, receivertest.Stream)
	}

	// Redelivered in another envelope (the error detail differs): not counted or reported again.
	again := bytes.Replace(unsupported, []byte("Message type unknown"), []byte("Message type unknown."), 1)
	h.deliverAndDrain(again)
	if c := h.counts(receivertest.Stream); c.Unsupported != 1 {
		t.Errorf("after redelivery unsupported = %d, want 1", c.Unsupported)
	}
	for _, call := range h.appliedCalls()[1:] {
		if call.unsupported[receivertest.Stream] != 0 {
			t.Errorf("a redelivery reported %d unsupported", call.unsupported[receivertest.Stream])
		}
	}

	// A message of another type carrying error 131060 is unsupported too.
	m := receivertest.TextMessage("odd-1", "16505551234", 1749854600)
	m.Errors = []webhook.Error{{Code: webhook.CodeUnsupportedMessage}}
	h.deliverAndDrain(receivertest.MessagesBody(t, receivertest.PhoneID, 9, webhook.MessagesValue{Messages: []webhook.Message{m}}))
	if c := h.counts(receivertest.Stream); c.Unsupported != 2 || c.UnsupportedLastAt.Unix() != 1749854600 {
		t.Errorf("unsupported %d at %v, want 2 at 1749854600", c.Unsupported, c.UnsupportedLastAt)
	}
}

func TestStatusesEmittedOncePerState(t *testing.T) {
	h := newHarness(t, newResolver(shopTarget(true)))
	statuses := []webhook.Status{
		{ID: "out-1", Status: "sent", Timestamp: 1_750_000_000, RecipientID: "16505551234"},
		{ID: "out-1", Status: "delivered", Timestamp: 1_750_000_001, RecipientID: "16505551234"},
		{ID: "out-1", Status: "read", Timestamp: 1_750_000_002, RecipientID: "16505551234"},
	}
	h.deliverAndDrain(
		receivertest.MessagesBody(t, receivertest.PhoneID, 1, webhook.MessagesValue{Statuses: statuses[:2]}),
		receivertest.MessagesBody(t, receivertest.PhoneID, 2, webhook.MessagesValue{Statuses: statuses[1:]}), // delivered again
	)
	evs := h.eventsOfType(receivertest.Stream, event.TypeStatus)
	if got := eventIDs(evs); !slices.Equal(got, []string{"status:out-1:sent", "status:out-1:delivered", "status:out-1:read"}) {
		t.Errorf("status events = %v", got)
	}
	for _, ev := range evs {
		if ev.MessageID != "out-1" || ev.ThreadID != "16505551234" || ev.WindowClosesAt != nil {
			t.Errorf("status event = %+v", ev)
		}
	}
}

// --- account_update ---

func TestPartnerRemovedAffectsOnlyTheNamedNumber(t *testing.T) {
	for _, phone := range []string{"15550783881", "+15550783881", "+1 555-078-3881"} {
		t.Run(phone, func(t *testing.T) {
			h := newHarness(t, newResolver(shopTarget(true), otherTarget(true)))
			h.deliverAndDrain(receivertest.AccountBody(t, receivertest.WABA, 1739212624, webhook.AccountUpdateValue{
				Event: webhook.EventPartnerRemoved, PhoneNumber: phone,
				DisconnectionInfo: &webhook.DisconnectionInfo{Reason: "PRIMARY_INACTIVITY", InitiatedBy: "SYSTEM"}}))
			c := h.counts(receivertest.Stream)
			want := store.OffboardingRecord{Event: webhook.EventPartnerRemoved, Reason: "PRIMARY_INACTIVITY", InitiatedBy: "SYSTEM",
				At: time.Unix(1739212624, 0).UTC()}
			if c.Offboarding == nil || *c.Offboarding != want {
				t.Errorf("offboarding = %+v, want %+v", c.Offboarding, want)
			}
			if c.OffboardedSince == nil || !c.OffboardedSince.Equal(want.At) {
				t.Errorf("OffboardedSince = %v, want %v", c.OffboardedSince, want.At)
			}
			if h.hasCounts(receivertest.OtherStream) && h.counts(receivertest.OtherStream).Offboarding != nil {
				t.Errorf("the other number of the WABA was offboarded too")
			}
			if n := len(h.events(receivertest.OtherStream)); n != 0 {
				t.Errorf("%d events for the other number, want none", n)
			}
			if n := len(h.eventsOfType(receivertest.Stream, event.TypeAccount)); n != 1 {
				t.Errorf("%d account events, want 1", n)
			}
			if dl := h.deadLetters(); len(dl) != 0 {
				t.Errorf("dead letters: %+v", dl)
			}
		})
	}
}

func TestPartnerRemovedExamplesFromMeta(t *testing.T) {
	tests := []struct {
		file                string
		wantReason, wantBy  string
		wantOtherOffboarded bool
	}{
		{"account_partner_removed.json", "", "", false},
		{"account_partner_removed_disconnection.json", "PRIMARY_INACTIVITY", "SYSTEM", false}, // time is a string
		{"account_partner_removed_waba_info.json", "ACCOUNT_DISCONNECTED", "USER", true},      // no phone: the whole WABA
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			h := newHarness(t, newResolver(shopTarget(false), otherTarget(false)))
			h.deliverAndDrain(receivertest.ReadTestdata(t, tc.file))
			want := store.OffboardingRecord{Event: webhook.EventPartnerRemoved, Reason: tc.wantReason, InitiatedBy: tc.wantBy,
				At: time.Unix(1739212624, 0).UTC()}
			if got := h.counts(receivertest.Stream).Offboarding; got == nil || *got != want {
				t.Errorf("offboarding of the named number = %+v, want %+v", got, want)
			}
			other := h.counts(receivertest.OtherStream).Offboarding
			if tc.wantOtherOffboarded != (other != nil) {
				t.Errorf("offboarding of the other number = %+v, want offboarded: %v", other, tc.wantOtherOffboarded)
			}
		})
	}
}

func TestOffboardedAndReconnectedApplyToTheWholeWABA(t *testing.T) {
	h := newHarness(t, newResolver(shopTarget(true), otherTarget(true)))
	const t1, t2 = 1768477100, 1768477203
	h.deliverAndDrain(receivertest.AccountBody(t, receivertest.WABA, t1, webhook.AccountUpdateValue{Event: webhook.EventAccountOffboarded}))
	for _, s := range []string{receivertest.Stream, receivertest.OtherStream} {
		c := h.counts(s)
		if c.Offboarding == nil || c.Offboarding.Event != webhook.EventAccountOffboarded || c.OffboardedSince == nil ||
			c.OffboardedSince.Unix() != t1 {
			t.Errorf("%s after ACCOUNT_OFFBOARDED: %+v since %v", s, c.Offboarding, c.OffboardedSince)
		}
	}
	h.deliverAndDrain(receivertest.AccountBody(t, receivertest.WABA, t2, webhook.AccountUpdateValue{Event: webhook.EventAccountReconnected}))
	for _, s := range []string{receivertest.Stream, receivertest.OtherStream} {
		c := h.counts(s)
		if c.Offboarding == nil || c.Offboarding.Event != webhook.EventAccountReconnected || c.OffboardedSince == nil ||
			c.OffboardedSince.Unix() != t2 {
			t.Errorf("%s after ACCOUNT_RECONNECTED: %+v since %v", s, c.Offboarding, c.OffboardedSince)
		}
		if n := len(h.eventsOfType(s, event.TypeAccount)); n != 2 {
			t.Errorf("%s: %d account events, want 2", s, n)
		}
	}
}

func TestOlderAccountEventDeliveredLateDoesNotOverride(t *testing.T) {
	h := newHarness(t, newResolver(shopTarget(true)))
	const removedAt, reconnectedAt = 1768477000, 1768477203
	h.deliverAndDrain(
		receivertest.AccountBody(t, receivertest.WABA, reconnectedAt, webhook.AccountUpdateValue{Event: webhook.EventAccountReconnected}),
		// Meta's retry of the earlier disconnection arrives after the reconnection.
		receivertest.AccountBody(t, receivertest.WABA, removedAt, webhook.AccountUpdateValue{Event: webhook.EventPartnerRemoved,
			PhoneNumber: receivertest.Display, DisconnectionInfo: &webhook.DisconnectionInfo{Reason: "PRIMARY_INACTIVITY"}}),
	)
	c := h.counts(receivertest.Stream)
	if c.Offboarding == nil || c.Offboarding.Event != webhook.EventAccountReconnected || c.Offboarding.At.Unix() != reconnectedAt {
		t.Errorf("offboarding = %+v, want the newer ACCOUNT_RECONNECTED", c.Offboarding)
	}
}

func TestApplyAccountEvent(t *testing.T) {
	at := func(s int64) time.Time { return time.Unix(1_768_000_000+s, 0).UTC() }
	removed := func(s int64) store.OffboardingRecord {
		return store.OffboardingRecord{Event: webhook.EventPartnerRemoved, Reason: "COMPANION_INACTIVITY", At: at(s)}
	}
	offboarded := func(s int64) store.OffboardingRecord {
		return store.OffboardingRecord{Event: webhook.EventAccountOffboarded, At: at(s)}
	}
	reconnected := func(s int64) store.OffboardingRecord {
		return store.OffboardingRecord{Event: webhook.EventAccountReconnected, At: at(s)}
	}
	tests := []struct {
		name      string
		events    []store.OffboardingRecord
		wantEvent string
		wantAt    int64
		wantSince int64
	}{
		{"one removal", []store.OffboardingRecord{removed(10)}, webhook.EventPartnerRemoved, 10, 10},
		{"removed then reconnected", []store.OffboardingRecord{removed(10), reconnected(20)}, webhook.EventAccountReconnected, 20, 20},
		{"reconnected then the older removal", []store.OffboardingRecord{reconnected(20), removed(10)}, webhook.EventAccountReconnected, 20, 20},
		{"still offboarded: the since stays", []store.OffboardingRecord{removed(10), offboarded(30)}, webhook.EventAccountOffboarded, 30, 10},
		{"same second: the later delivery wins", []store.OffboardingRecord{removed(10), reconnected(10)}, webhook.EventAccountReconnected, 10, 10},
		{"removed, reconnected, removed", []store.OffboardingRecord{removed(10), reconnected(20), removed(40)}, webhook.EventPartnerRemoved, 40, 40},
		{"a reconnection first sets since", []store.OffboardingRecord{reconnected(5)}, webhook.EventAccountReconnected, 5, 5},
		{"other account events are ignored", []store.OffboardingRecord{removed(10), {Event: "VERIFIED_ACCOUNT", At: at(50)}},
			webhook.EventPartnerRemoved, 10, 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var n store.NumberCounts
			for _, e := range tc.events {
				applyAccountEvent(&n, e)
			}
			if n.Offboarding == nil || n.Offboarding.Event != tc.wantEvent || !n.Offboarding.At.Equal(at(tc.wantAt)) {
				t.Errorf("offboarding = %+v, want %s at +%d", n.Offboarding, tc.wantEvent, tc.wantAt)
			}
			if n.OffboardedSince == nil || !n.OffboardedSince.Equal(at(tc.wantSince)) {
				t.Errorf("OffboardedSince = %v, want +%d", n.OffboardedSince, tc.wantSince)
			}
		})
	}
	var n store.NumberCounts
	applyAccountEvent(&n, store.OffboardingRecord{Event: "MM_LITE_TERMS_SIGNED", At: at(1)})
	if n.Offboarding != nil || n.OffboardedSince != nil {
		t.Errorf("a non-offboarding event was recorded: %+v", n)
	}
}

func TestAccountEventRedeliveredIsAppliedOnce(t *testing.T) {
	h := newHarness(t, newResolver(shopTarget(true)))
	body := receivertest.ReadTestdata(t, "account_partner_removed_disconnection.json")
	// Same data, other bytes (spacing), as a re-encoded retry would be.
	respaced := bytes.ReplaceAll(body, []byte(`": `), []byte(`":`))
	if bytes.Equal(body, respaced) {
		t.Fatal("test body was not changed")
	}
	h.deliverAndDrain(body, respaced)
	if n := len(h.eventsOfType(receivertest.Stream, event.TypeAccount)); n != 1 {
		t.Errorf("%d account events, want 1", n)
	}
}

// --- dead letters, relay flag, event ids ---

func TestUnreadableOrUnmatchedBecomeDeadLetters(t *testing.T) {
	tests := []struct {
		name       string
		body       []byte
		wantReason string
	}{
		{"not JSON", []byte(`{"object":"whatsapp_business_account","entry":[`), "cannot parse"},
		{"not an object", []byte(`[1,2,3]`), "cannot parse"},
		{"another object", []byte(`{"object":"page","entry":[{"id":"1","changes":[{"field":"feed","value":{}}]}]}`), "cannot parse"},
		{"unknown phone_number_id", receivertest.MessagesBody(t, unknownPhoneID, 1, webhook.MessagesValue{
			Messages: []webhook.Message{receivertest.TextMessage("x-1", "u", 1_750_000_000)}}), "no CoexNumber of MetaApp tenant/shop-app has phoneNumberID " + unknownPhoneID},
		{"no phone_number_id", receivertest.Envelope(t, receivertest.WABA, 1, receivertest.Change(t, webhook.FieldEchoes, map[string]any{"message_echoes": []any{}})),
			"smb_message_echoes change without a readable value or phone_number_id"},
		{"value of the wrong shape", receivertest.Envelope(t, receivertest.WABA, 1, webhook.Change{Field: webhook.FieldHistory, Value: json.RawMessage(`"text"`)}),
			"history change without a readable value"},
		{"account_update for a WABA with no numbers", receivertest.AccountBody(t, "4242", 1, webhook.AccountUpdateValue{Event: webhook.EventAccountOffboarded}),
			"in WABA 4242 matches account_update ACCOUNT_OFFBOARDED"},
		{"PARTNER_REMOVED for a phone nobody manages", receivertest.AccountBody(t, receivertest.WABA, 1, webhook.AccountUpdateValue{
			Event: webhook.EventPartnerRemoved, PhoneNumber: "+44 20 7946 0000"}), "matches account_update PARTNER_REMOVED"},
		{"account_update without an event", receivertest.AccountBody(t, receivertest.WABA, 1, webhook.AccountUpdateValue{}), "account_update without a readable event"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, newResolver(shopTarget(true)))
			h.deliver(tc.body)
			good := receivertest.MessagesBody(t, receivertest.PhoneID, 1, webhook.MessagesValue{Messages: []webhook.Message{receivertest.TextMessage("ok-1", "u", 1_750_000_000)}})
			h.deliver(good) // the record after it is applied all the same
			h.drain()
			if h.d.AppliedRecords() != 2 {
				t.Fatalf("AppliedRecords = %d, want 2", h.d.AppliedRecords())
			}
			dl := h.deadLetters()
			if len(dl) != 1 {
				t.Fatalf("%d dead letters, want 1: %+v", len(dl), dl)
			}
			d := dl[0]
			if d.Seq != 1 || d.Namespace != receivertest.NS || d.App != receivertest.App || !bytes.Equal(d.Body, tc.body) || d.ReceivedAt.IsZero() {
				t.Errorf("dead letter = seq %d %s/%s at %v body %q", d.Seq, d.Namespace, d.App, d.ReceivedAt, d.Body)
			}
			if !strings.Contains(d.Reason, tc.wantReason) {
				t.Errorf("reason = %q, want it to contain %q", d.Reason, tc.wantReason)
			}
			if got := testutil.ToFloat64(h.metrics.DeadLetters); got != 1 {
				t.Errorf("dead_letters_total = %v, want 1", got)
			}
			if evs := h.eventsOfType(receivertest.Stream, event.TypeMessage); len(evs) != 1 || evs[0].MessageID != "ok-1" {
				t.Errorf("the good record's events = %v", eventIDs(evs))
			}
			if d, _ := h.store.Depth(context.Background()); d != 0 {
				t.Errorf("spool depth = %d after draining, want 0", d)
			}
		})
	}
}

func TestWebhookForAnotherMetaAppIsNotMatched(t *testing.T) {
	h := newHarness(t, newResolver(shopTarget(true)))
	body := receivertest.MessagesBody(t, receivertest.PhoneID, 1, webhook.MessagesValue{Messages: []webhook.Message{receivertest.TextMessage("m", "u", 1_750_000_000)}})
	h.deliverTo(receivertest.NS, "another-app", body)
	h.drain()
	if dl := h.deadLetters(); len(dl) != 1 || dl[0].App != "another-app" {
		t.Errorf("dead letters = %+v, want the body kept for another-app", dl)
	}
	if h.hasCounts(receivertest.Stream) {
		t.Error("a webhook that came in for another MetaApp changed this app's number")
	}
	// The same bytes for the right app are not a duplicate of the other app's.
	h.deliver(body)
	h.drain()
	if evs := h.eventsOfType(receivertest.Stream, event.TypeMessage); len(evs) != 1 {
		t.Errorf("%d message events, want 1", len(evs))
	}
}

func TestUnknownFieldIsSkippedNotDeadLettered(t *testing.T) {
	h := newHarness(t, newResolver(shopTarget(true)))
	h.deliverAndDrain(receivertest.Envelope(t, receivertest.WABA, 1, receivertest.Change(t, "message_template_status_update", map[string]any{"event": "APPROVED"})))
	if dl := h.deadLetters(); len(dl) != 0 {
		t.Errorf("dead letters = %+v, want none: an unknown field is not a fault", dl)
	}
	if h.d.AppliedRecords() != 1 {
		t.Errorf("AppliedRecords = %d, want 1", h.d.AppliedRecords())
	}
	if got := testutil.ToFloat64(h.metrics.Changes.WithLabelValues("message_template_status_update", resultUnknown)); got != 1 {
		t.Errorf("changes_total{unknown_field} = %v, want 1", got)
	}
}

func TestRelayFlagControlsOutbox(t *testing.T) {
	bodies := [][]byte{
		receivertest.ReadTestdata(t, "history_shared.json"),
		receivertest.ReadTestdata(t, "state_sync.json"),
		receivertest.ReadTestdata(t, "echoes.json"),
		receivertest.ReadTestdata(t, "unsupported.json"),
		receivertest.ReadTestdata(t, "account_partner_removed.json"),
	}
	for _, relay := range []bool{false, true} {
		t.Run("relay="+map[bool]string{false: "false", true: "true"}[relay], func(t *testing.T) {
			h := newHarness(t, newResolver(shopTarget(relay)))
			h.deliverAndDrain(bodies...)
			c := h.counts(receivertest.Stream)
			if c.Messages != 4 || c.ContactsAdded != 1 || c.Echoes != 1 || c.Unsupported != 1 || c.Offboarding == nil {
				t.Errorf("counts = %+v: counts must not depend on the relay", c)
			}
			streams, err := h.store.Streams(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			depth, err := h.store.OutboxDepth(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if !relay {
				if len(streams) != 0 || depth != 0 {
					t.Errorf("without a relay: streams %v, %d events waiting; want none", streams, depth)
				}
				return
			}
			// 4 history messages, 2 contacts, 1 echo, 1 unsupported, 1 account event.
			if !slices.Equal(streams, []string{receivertest.Stream}) || depth != 9 {
				t.Errorf("with a relay: streams %v, %d events; want [%s] and 9", streams, depth, receivertest.Stream)
			}
			for _, ev := range h.events(receivertest.Stream) {
				if ev.Namespace != receivertest.NS || ev.Number != "shop" || ev.PhoneNumberID != receivertest.PhoneID || ev.WABAID != receivertest.WABA {
					t.Errorf("event %s names %s/%s %s %s", ev.ID, ev.Namespace, ev.Number, ev.PhoneNumberID, ev.WABAID)
				}
				if ev.ID == "" || len(ev.Data) == 0 {
					t.Errorf("event %+v has no id or no data", ev)
				}
			}
		})
	}
}

func TestEventIDsAreStable(t *testing.T) {
	bodies := [][]byte{
		receivertest.ReadTestdata(t, "history_shared.json"),
		receivertest.ReadTestdata(t, "history_media.json"),
		receivertest.ReadTestdata(t, "state_sync.json"),
		receivertest.ReadTestdata(t, "echoes.json"),
		receivertest.ReadTestdata(t, "edit.json"),
		receivertest.ReadTestdata(t, "account_partner_removed_disconnection.json"),
		receivertest.MessagesBody(t, receivertest.PhoneID, 1, webhook.MessagesValue{
			Messages: []webhook.Message{receivertest.TextMessage("in-1", "u", 1_750_000_000)},
			Statuses: []webhook.Status{{ID: "out-1", Status: "read", Timestamp: 1_750_000_001}}}),
		receivertest.ReadTestdata(t, "history_declined.json"),
	}
	// Two receivers that never shared state give the same data the same ids.
	one := newHarness(t, newResolver(shopTarget(true)))
	one.deliverAndDrain(bodies...)
	two := newHarness(t, newResolver(shopTarget(true)))
	two.deliverAndDrain(bodies...)
	ids := eventIDs(one.events(receivertest.Stream))
	if len(ids) < len(bodies) {
		t.Fatalf("only %d events: %v", len(ids), ids)
	}
	if got := eventIDs(two.events(receivertest.Stream)); !slices.Equal(got, ids) {
		t.Errorf("ids differ between receivers:\n%v\n%v", ids, got)
	}
	if dup := len(ids) - len(slices.Compact(slices.Sorted(slices.Values(ids)))); dup != 0 {
		t.Errorf("%d ids used twice in one stream: %v", dup, ids)
	}
	// Redelivered in other envelopes, the data makes no new event at all.
	for i, b := range bodies {
		var env map[string]any
		if err := json.Unmarshal(b, &env); err != nil {
			t.Fatal(err)
		}
		env["redelivery"] = i // other bytes, same data
		rb, _ := json.Marshal(env)
		one.deliverAndDrain(rb)
	}
	if got := eventIDs(one.events(receivertest.Stream)); !slices.Equal(got, ids) {
		t.Errorf("after redelivery the outbox holds %v, want %v", got, ids)
	}
}

func TestAppliedHookReportsTouchedStreamsSorted(t *testing.T) {
	h := newHarness(t, newResolver(shopTarget(false), otherTarget(false)))
	// One batch with changes for both numbers, the second one first.
	h.deliver(
		receivertest.EchoesBody(t, receivertest.OtherPhoneID, 1, receivertest.Echo("e1", "u", 1_750_000_000)),
		receivertest.EchoesBody(t, receivertest.PhoneID, 2, receivertest.Echo("e2", "u", 1_750_000_000)),
		receivertest.ReadTestdata(t, "history_declined.json"),
	)
	h.drain()
	calls := h.appliedCalls()
	if len(calls) != 1 {
		t.Fatalf("%d Applied calls, want 1 (one batch)", len(calls))
	}
	if want := []string{receivertest.Stream, receivertest.OtherStream}; !slices.Equal(calls[0].streams, want) {
		t.Errorf("streams = %v, want %v", calls[0].streams, want)
	}
	// A batch of only duplicates touches nothing.
	h.deliver(receivertest.ReadTestdata(t, "history_declined.json"))
	h.drain()
	if calls := h.appliedCalls(); len(calls) != 2 || len(calls[1].streams) != 0 {
		t.Errorf("Applied calls = %+v, want a second one with no streams", calls)
	}
}

func TestBatchesRespectBatchRecords(t *testing.T) {
	h := newHarness(t, newResolver(shopTarget(false)))
	h.d = NewDispatcher(Options{Store: h.store, Resolver: h.resolver, BatchRecords: 2,
		Applied: h.recordApplied})
	for i := range 5 {
		h.deliver(receivertest.EchoesBody(t, receivertest.PhoneID, int64(i), receivertest.Echo("e"+strconv.Itoa(i), "u", 1_750_000_000)))
	}
	var sizes []int
	for {
		n, err := h.d.step(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		sizes = append(sizes, n)
		var total int
		for _, n := range sizes {
			total += n
		}
		if h.d.AppliedRecords() != uint64(total) {
			t.Errorf("dispatcher applied %d records, the batches held %d", h.d.AppliedRecords(), total)
		}
	}
	if !slices.Equal(sizes, []int{2, 2, 1}) {
		t.Errorf("batch sizes = %v, want [2 2 1]", sizes)
	}
	if c := h.counts(receivertest.Stream); c.Echoes != 5 {
		t.Errorf("echoes = %d, want 5", c.Echoes)
	}
}

func TestPrunedPayloadHashesStillCountOnce(t *testing.T) {
	h := newHarness(t, newResolver(shopTarget(true)))
	body := receivertest.ReadTestdata(t, "history_shared.json")
	h.deliverAndDrain(body)
	want := h.counts(receivertest.Stream)
	// Hashes first seen before the cutoff go; later ones stay.
	n, err := h.store.PruneBodies(context.Background(), h.clk.Now().Add(time.Second))
	if err != nil || n != 1 {
		t.Fatalf("PruneBodies = %d, %v; want 1 hash pruned", n, err)
	}
	if n, _ := h.store.PruneBodies(context.Background(), h.clk.Now().Add(time.Second)); n != 0 {
		t.Errorf("second PruneBodies pruned %d, want 0", n)
	}
	// Past the payload window, a redelivery is caught by the message and chunk ids instead.
	h.deliverAndDrain(body)
	if got := h.counts(receivertest.Stream); !sameCounts(got, want) {
		t.Errorf("after a redelivery past pruning counts = %+v\nwant %+v", got, want)
	}
	if n := len(h.events(receivertest.Stream)); n != 4 {
		t.Errorf("%d events, want 4", n)
	}
	if got := testutil.ToFloat64(h.metrics.Duplicates); got != 0 {
		t.Errorf("duplicates_total = %v: the pruned hash still matched", got)
	}
}

// --- crash and restart ---

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// crashBodies is a mix of every kind of change, for the crash tests.
func crashBodies(t *testing.T) [][]byte {
	return [][]byte{
		receivertest.ReadTestdata(t, "history_shared.json"),
		receivertest.ReadTestdata(t, "history_media.json"),
		receivertest.ReadTestdata(t, "state_sync.json"),
		receivertest.ReadTestdata(t, "echoes.json"),
		receivertest.ReadTestdata(t, "unsupported.json"),
		receivertest.ReadTestdata(t, "account_partner_removed_disconnection.json"),
		receivertest.HistoryBody(t, receivertest.PhoneID, 1, receivertest.Chunk(0, 2, 100, receivertest.Thread("u9", "m9"))),
	}
}

func TestCrashBeforeTheSpoolWasTrimmedReplaysNothing(t *testing.T) {
	h := newHarness(t, newResolver(shopTarget(true)))
	h.deliver(crashBodies(t)...)
	// The spool as it was before the batch was applied: what a crash between the state commit
	// and the trim leaves on disk.
	h.close()
	copyFile(t, filepath.Join(h.dir, bolt.SpoolFile), filepath.Join(h.dir, "spool.untrimmed"))
	h.open()
	h.drain()
	want := h.counts(receivertest.Stream)
	wantEvents := eventIDs(h.events(receivertest.Stream))

	h.close()
	copyFile(t, filepath.Join(h.dir, "spool.untrimmed"), filepath.Join(h.dir, bolt.SpoolFile))
	h.open()
	if d, _ := h.store.Depth(context.Background()); d != 0 {
		t.Fatalf("the restored spool holds %d records after open, want 0: they were applied", d)
	}
	runDispatcher(t, h, func() bool { d, _ := h.store.Depth(context.Background()); return d == 0 })
	if h.d.AppliedRecords() != 0 {
		t.Errorf("%d records applied again", h.d.AppliedRecords())
	}
	if got := h.counts(receivertest.Stream); !sameCounts(got, want) {
		t.Errorf("after replay counts = %+v\nwant %+v", got, want)
	}
	if got := eventIDs(h.events(receivertest.Stream)); !slices.Equal(got, wantEvents) {
		t.Errorf("after replay events = %v, want %v", got, wantEvents)
	}
}

func TestCrashAfterThe200WasLostCountsOnce(t *testing.T) {
	// Meta did not get the 200 and delivers every body again: new records, same bytes.
	h := newHarness(t, newResolver(shopTarget(true)))
	h.deliver(crashBodies(t)...)
	h.drain()
	want := h.counts(receivertest.Stream)
	wantEvents := eventIDs(h.events(receivertest.Stream))
	h.reopen()
	h.deliver(crashBodies(t)...)
	h.drain()
	if got := h.counts(receivertest.Stream); !sameCounts(got, want) {
		t.Errorf("after redelivery counts = %+v\nwant %+v", got, want)
	}
	if got := eventIDs(h.events(receivertest.Stream)); !slices.Equal(got, wantEvents) {
		t.Errorf("after redelivery events = %v, want %v", got, wantEvents)
	}
	if got := testutil.ToFloat64(h.metrics.Duplicates); got != float64(len(crashBodies(t))) {
		t.Errorf("duplicates_total = %v, want %d", got, len(crashBodies(t)))
	}
}

func TestCrashBeforeTheStateCommitAppliesOnce(t *testing.T) {
	// The state as it was before the batch (Applied behind), with the spool not yet trimmed:
	// what a crash inside the state transaction leaves. Applying again gives the same result
	// as applying once, with the record bodies read back from the spool.
	h := newHarness(t, newResolver(shopTarget(true)))
	h.deliverAndDrain(receivertest.ReadTestdata(t, "state_sync.json")) // some earlier state
	h.deliver(crashBodies(t)...)
	h.close()
	for _, f := range []string{"spool.db", "state.db"} {
		copyFile(t, filepath.Join(h.dir, f), filepath.Join(h.dir, f+".before"))
	}
	h.open()
	h.drain()
	want := h.counts(receivertest.Stream)
	wantEvents := eventIDs(h.events(receivertest.Stream))

	h.close()
	for _, f := range []string{"spool.db", "state.db"} {
		copyFile(t, filepath.Join(h.dir, f+".before"), filepath.Join(h.dir, f))
	}
	h.open()
	if d, _ := h.store.Depth(context.Background()); d != int64(len(crashBodies(t))) {
		t.Fatalf("the restored spool holds %d records to apply, want %d", d, len(crashBodies(t)))
	}
	runDispatcher(t, h, func() bool { return h.d.AppliedRecords() == uint64(len(crashBodies(t))) })
	if got := h.counts(receivertest.Stream); !sameCounts(got, want) {
		t.Errorf("counts = %+v\nwant %+v", got, want)
	}
	if got := eventIDs(h.events(receivertest.Stream)); !slices.Equal(got, wantEvents) {
		t.Errorf("events = %v, want %v", got, wantEvents)
	}
}

// sameCounts compares counts; times compare as instants.
func sameCounts(a, b store.NumberCounts) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// runDispatcher runs Start until done() holds, then stops it and checks it returned nil.
func runDispatcher(t *testing.T, h *harness, done func() bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- h.d.Start(ctx) }()
	receivertest.WaitUntil(t, "the dispatcher to apply the spool", done)
	cancel()
	if err := <-errc; err != nil {
		t.Errorf("Start returned %v", err)
	}
}

func TestDispatcherStartAppliesAsRecordsArrive(t *testing.T) {
	h := newHarness(t, newResolver(shopTarget(false)))
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- h.d.Start(ctx) }()
	for i := range 3 {
		h.deliver(receivertest.EchoesBody(t, receivertest.PhoneID, int64(i), receivertest.Echo("live-"+strconv.Itoa(i), "u", 1_750_000_000+int64(i))))
		n := uint64(i + 1)
		receivertest.WaitUntil(t, "record "+strconv.Itoa(i+1)+" to be applied", func() bool { return h.d.AppliedRecords() >= n })
	}
	cancel()
	if err := <-errc; err != nil {
		t.Errorf("Start returned %v", err)
	}
	if c := h.counts(receivertest.Stream); c.Echoes != 3 {
		t.Errorf("echoes = %d, want 3", c.Echoes)
	}
	if d, _ := h.store.Depth(context.Background()); d != 0 {
		t.Errorf("spool depth = %d, want 0", d)
	}
}

// failingResolver fails until told otherwise, like an API server that is down.
type failingResolver struct {
	*fakeResolver
	fail chan bool
	down bool
}

func (r *failingResolver) ByPhoneNumberID(ns, app, id string) (Target, bool, error) {
	select {
	case r.down = <-r.fail:
	default:
	}
	if r.down {
		return Target{}, false, errors.New("apiserver unavailable")
	}
	return r.fakeResolver.ByPhoneNumberID(ns, app, id)
}

func TestResolverErrorRetriesTheBatchAndLosesNothing(t *testing.T) {
	h := newHarness(t, newResolver(shopTarget(false)))
	fr := &failingResolver{fakeResolver: h.resolver, fail: make(chan bool, 1), down: true}
	h.d = NewDispatcher(Options{Store: h.store, Resolver: fr, Applied: h.recordApplied})
	h.deliver(receivertest.EchoesBody(t, receivertest.PhoneID, 1, receivertest.Echo("e1", "u", 1_750_000_000)))
	if _, err := h.d.step(context.Background()); err == nil {
		t.Fatal("step succeeded with the resolver down")
	}
	if d, _ := h.store.Depth(context.Background()); h.d.AppliedRecords() != 0 || d != 1 || len(h.deadLetters()) != 0 {
		t.Fatalf("after a failed step: applied %d, depth %d, dead letters %d; want 0, 1, 0",
			h.d.AppliedRecords(), d, len(h.deadLetters()))
	}
	fr.fail <- false
	h.drain()
	if c := h.counts(receivertest.Stream); c.Echoes != 1 || h.d.AppliedRecords() != 1 {
		t.Errorf("after recovery: echoes %d, applied %d; want 1 and 1", c.Echoes, h.d.AppliedRecords())
	}
}

// --- poison records: a signed body that makes every retry of its batch fail ---

func TestLongThreadIDDoesNotWedgeTheDispatcher(t *testing.T) {
	h := newHarness(t, newResolver(shopTarget(false)))
	long := strings.Repeat("9", 40_000) // beyond bbolt's 32 KiB key limit
	h.deliver(receivertest.HistoryBody(t, receivertest.PhoneID, 1, receivertest.Chunk(0, 1, 10, receivertest.Thread(long, "m1"))))
	if _, err := h.d.step(context.Background()); err != nil {
		t.Fatal("BUG: normalize.go:300 applier.thread keys the thread-seen set with the raw thread id " +
			"(append([]byte(\"t\"), th.ID...)); an id longer than bbolt's MaxKeySize (32768) makes the Put in StateTx.saveSeen (state.go:275) fail at commit, the " +
			"whole batch fails, and Start retries it forever: one signed webhook stops all processing. step: " + err.Error() +
			". Fix: key it with idKey('t', th.ID) like the message ids.")
	}
	if h.d.AppliedRecords() != 1 {
		t.Errorf("AppliedRecords = %d, want 1", h.d.AppliedRecords())
	}
}

func TestOutOfRangeTimestampDoesNotWedgeTheDispatcher(t *testing.T) {
	tests := []struct {
		name string
		body func(t *testing.T) []byte
	}{
		{"echo", func(t *testing.T) []byte {
			return receivertest.EchoesBody(t, receivertest.PhoneID, 1, receivertest.Echo("far-future", "u", 1e12))
		}},
		{"unsupported", func(t *testing.T) []byte {
			m := receivertest.TextMessage("far-future", "u", -1e12)
			m.Type = webhook.TypeUnsupported
			return receivertest.MessagesBody(t, receivertest.PhoneID, 1, webhook.MessagesValue{Messages: []webhook.Message{m}})
		}},
		{"inbound message window", func(t *testing.T) []byte {
			return receivertest.MessagesBody(t, receivertest.PhoneID, 1, webhook.MessagesValue{Messages: []webhook.Message{receivertest.TextMessage("far", "u", 1e12)}})
		}},
		{"account_update entry time", func(t *testing.T) []byte {
			return receivertest.AccountBody(t, receivertest.WABA, 1e12, webhook.AccountUpdateValue{Event: webhook.EventAccountOffboarded})
		}},
	}
	var failures []string
	for _, tc := range tests {
		h := newHarness(t, newResolver(shopTarget(true)))
		h.deliver(tc.body(t))
		if _, err := h.d.step(context.Background()); err != nil {
			failures = append(failures, tc.name+": step: "+err.Error())
			continue
		}
		if h.d.AppliedRecords() != 1 {
			t.Errorf("%s: AppliedRecords = %d, want 1", tc.name, h.d.AppliedRecords())
		}
		// What was stored must read back: the relay's tenant decodes these events.
		items, err := peekAll(h.store, receivertest.Stream)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			var ev event.Event
			if err := json.Unmarshal(it.Event, &ev); err != nil {
				failures = append(failures, tc.name+": the event does not decode: "+err.Error())
			}
		}
	}
	if len(failures) > 0 {
		t.Fatal("BUG: Meta's timestamps become time.Time unchecked (unixTime, normalize.go:605; used at " +
			"normalize.go:396 echoes, 426 unsupported, 442 window, 515 account_update entry time). A timestamp whose " +
			"year falls outside 0-9999 (e.g. 1e12 s) cannot be JSON-encoded: saving the counts (state.go:346 " +
			"saveNumbers) fails, the batch fails, and Start retries it forever, so one signed webhook stops all " +
			"processing; for an inbound message the hand-written encoder (event/encode.go:41-45) stores a " +
			"windowClosesAt that is not RFC 3339 and that encoding/json cannot decode. Failing: " +
			strings.Join(failures, "; ") + ". Fix: treat a timestamp outside a sane range (say 2009..2100) as absent " +
			"(use ReceivedAt, or no window) wherever unixTime is used.")
	}
}

// --- fuzzing ---

// FuzzApplyRecord feeds arbitrary bodies through the dispatcher, as if Meta had signed them:
// whatever the bytes, the record is applied or kept as a dead letter, never an error that
// would stop the dispatcher, and AppliedRecords counts it.
func FuzzApplyRecord(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join(receivertest.TestdataDir, "*.json"))
	if err != nil || len(seeds) == 0 {
		f.Fatalf("no seeds in %s: %v", receivertest.TestdataDir, err)
	}
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	// A known poison record (skipped until fixed), so the seed run shows it; the seeds after
	// it check the dispatcher goes on. (The 40 KB thread id of the other poison bug is left to
	// its own test: as a seed it slows the fuzzer down.)
	f.Add(receivertest.EchoesBody(f, receivertest.PhoneID, 1, receivertest.Echo("far-future", "u", 1e12)))

	f.Add([]byte(`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":null}]}]}`))
	f.Add([]byte(`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"history","value":{"metadata":{"phone_number_id":"1"},"history":[{"metadata":{"phase":-1,"chunk_order":1e30,"progress":"-5"}}]}}]}]}`))

	st, err := bolt.Open(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = st.Close() })
	// Durability is not under test here: skip the fsyncs so the fuzzer gets many more inputs.
	st.SetNoSync(true)
	d := NewDispatcher(Options{Store: st, Resolver: &fakeResolver{matchAll: true},
		Metrics: NewMetrics(nil), Now: func() time.Time { return time.Unix(baseReceivedSec, 0) }})

	f.Fuzz(func(t *testing.T, body []byte) {
		// One spool and state for the whole run (a fresh bbolt per input is too slow to fuzz),
		// so inputs also meet the de-duplication state earlier ones left.
		rec := &store.Record{Namespace: receivertest.NS, App: receivertest.App, ReceivedAt: time.Unix(baseReceivedSec, 0), Body: body}
		if err := st.Append(context.Background(), rec); err != nil {
			t.Fatal(err)
		}
		before := d.AppliedRecords()
		n, err := d.step(context.Background())
		if err != nil {
			t.Fatalf("step on %q: %v", truncate(body, 200), err)
		}
		if n != 1 || d.AppliedRecords() != before+1 {
			t.Fatalf("step applied %d records, AppliedRecords %d -> %d, want the record %d applied", n, before,
				d.AppliedRecords(), rec.Seq)
		}
		if depth, _ := st.Depth(context.Background()); depth != 0 {
			t.Fatalf("spool depth %d after the step", depth)
		}
	})
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// TestRecreatedNumberStartsFromZero: re-onboarding is a new CoexNumber of the same name (a
// new UID). Its history arrives again with the same message ids and must be counted again.
func TestRecreatedNumberStartsFromZero(t *testing.T) {
	first := shopTarget(false)
	first.UID = "uid-1"
	res := newResolver(first)
	h := newHarness(t, res)
	h.deliverAndDrain(receivertest.HistoryBody(t, receivertest.PhoneID, 1, receivertest.Chunk(0, 1, 100, receivertest.Thread("u1", "m1", "m2"))))
	if c := h.counts(receivertest.Stream); c.Messages != 2 || c.CompletedAt == nil || c.UID != "uid-1" {
		t.Fatalf("first number: %+v", c)
	}
	second := first
	second.UID = "uid-2"
	res.targets = []Target{second}
	// The same history, in a new envelope (not a byte-identical redelivery).
	h.deliverAndDrain(receivertest.HistoryBody(t, receivertest.PhoneID, 2, receivertest.Chunk(0, 1, 40, receivertest.Thread("u1", "m1", "m2"))))
	c := h.counts(receivertest.Stream)
	if c.UID != "uid-2" || c.Messages != 2 || c.Threads != 1 || c.Chunks != 1 || c.CompletedAt != nil || c.Progress != 40 {
		t.Errorf("recreated number: %+v, want its own 2 messages, 1 chunk, progress 40, not completed", c)
	}
	// And the same UID again is de-duplicated as before.
	h.deliverAndDrain(receivertest.HistoryBody(t, receivertest.PhoneID, 3, receivertest.Chunk(0, 1, 40, receivertest.Thread("u1", "m1", "m2"))))
	if c := h.counts(receivertest.Stream); c.Messages != 2 || c.Chunks != 1 {
		t.Errorf("redelivered to the same number: %+v", c)
	}
}

// TestDeadLettersAreKeptOnceAndReplayed: Meta's duplicate of an unmatched payload is kept once;
// replayed once its CoexNumber exists, it is applied, and only what still cannot be applied
// stays a dead letter.
func TestDeadLettersAreKeptOnceAndReplayed(t *testing.T) {
	res := newResolver()
	h := newHarness(t, res)
	echoes := receivertest.EchoesBody(t, receivertest.PhoneID, 1, receivertest.Echo("e1", "u1", 1_750_000_000), receivertest.Echo("e2", "u1", 1_750_000_001))
	junk := []byte(`{"object":"whatsapp_business_account","entry":[`)
	h.deliverAndDrain(echoes, echoes, junk)
	letters, err := h.store.DeadLetters(context.Background())
	if err != nil || len(letters) != 2 {
		t.Fatalf("dead letters %d (%v), want 2: the echoes once and the junk", len(letters), err)
	}
	if letters[0].Seq > letters[1].Seq {
		t.Errorf("dead letters not oldest first: %d, %d", letters[0].Seq, letters[1].Seq)
	}

	res.targets = []Target{shopTarget(false)}
	n, err := h.store.ReplayDeadLetters(context.Background())
	if err != nil || n != 2 {
		t.Fatalf("replayed %d (%v), want 2", n, err)
	}
	h.drain()
	if c := h.counts(receivertest.Stream); c.Echoes != 2 {
		t.Errorf("echoes after the replay = %d, want 2", c.Echoes)
	}
	letters, _ = h.store.DeadLetters(context.Background())
	if len(letters) != 1 || !strings.Contains(letters[0].Reason, "cannot parse") {
		t.Errorf("dead letters after the replay: %+v", letters)
	}
	// Replaying twice, or Meta delivering the echoes again, counts nothing twice.
	h.deliverAndDrain(echoes)
	if _, err := h.store.ReplayDeadLetters(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.drain()
	if c := h.counts(receivertest.Stream); c.Echoes != 2 {
		t.Errorf("echoes after a second delivery and replay = %d, want 2", c.Echoes)
	}
}
