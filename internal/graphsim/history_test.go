// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graphsim

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/coex-operator/coex-operator/internal/webhook"
)

// expected lists what a number's history must deliver, straight from its generator.
type expected struct {
	ids        map[string]int // message id -> phase
	recentIDs  map[string]bool
	threads    map[string]bool
	onboarded  int64
	businessNo string
}

func expectedHistory(t testing.TB, sim *Sim, phone string) expected {
	t.Helper()
	sim.mu.Lock()
	g := sim.numbers[phone].gen
	sim.mu.Unlock()
	ex := expected{ids: map[string]int{}, recentIDs: map[string]bool{}, threads: map[string]bool{},
		onboarded: g.onb, businessNo: g.r.display}
	for p := range 3 {
		for i := range g.r.threads {
			n := int(g.counts[p][i])
			if n == 0 {
				continue
			}
			ex.threads[g.userWaID(i)] = true
			lo, hi, _ := g.overlap(i, p)
			for k := range n {
				id := g.messageID(i, p, k)
				if _, dup := ex.ids[id]; dup {
					t.Fatalf("generator repeats id %s", id)
				}
				ex.ids[id] = p
				if m := g.msg(i, p, k, n, lo, hi); m.media >= 0 && g.recent(m) {
					ex.recentIDs[id] = true
				}
			}
		}
	}
	return ex
}

// TestMediumHistoryAddsUp runs a 200-thread, 20,000-message history through HTTP, one
// delivery at a time so arrival order is emission order, and checks every promise.
func TestMediumHistoryAddsUp(t *testing.T) {
	e := newEnv(t, Options{Delivery: DeliveryOptions{MaxInFlight: 1}},
		Scenario{Threads: 200, Messages: 20_000, MediaShare: 0.1, MessagesPerChunk: 500})
	tot := e.num.Totals
	t.Logf("totals %+v", tot)
	if tot.Messages != 20_000 || tot.Threads == 0 || tot.Threads > 200 || tot.MediaFollowUps == 0 ||
		tot.ChunksPerPhase[1] < 3 || tot.ChunksPerPhase[2] < 3 {
		t.Fatalf("totals %+v", tot)
	}
	ex := expectedHistory(t, e.sim, tPhone)
	if len(ex.ids) != tot.Messages || len(ex.threads) != tot.Threads || len(ex.recentIDs) != tot.MediaFollowUps {
		t.Fatalf("totals %+v disagree with the generator: %d ids, %d threads, %d recent media",
			tot, len(ex.ids), len(ex.threads), len(ex.recentIDs))
	}
	if r := e.requestSync(tPhone, SyncHistory, e.token); r.status != http.StatusOK {
		t.Fatalf("request: %s", r.raw)
	}
	e.waitIdle()

	type chunkKey struct{ phase, order int }
	seenChunks := map[chunkKey]bool{}
	orders := [3][]int{}
	var phases, progress []int
	gotIDs := map[string]bool{}
	placeholders := map[string]bool{}
	threads := map[string]bool{}
	followUps, followUpHooks := 0, 0
	posts := e.rcv.delivered()
	for _, p := range posts {
		if len(p.body) >= 3<<20 {
			t.Fatalf("body of %d bytes", len(p.body))
		}
		d := decodeWebhook(t, p)
		h := d.history
		if d.field != webhook.FieldHistory || h.Metadata.PhoneNumberID != tPhone || "+"+h.Metadata.DisplayPhoneNumber != e.num.DisplayPhoneNumber {
			t.Fatalf("webhook %s %+v", d.field, h.Metadata)
		}
		if len(h.Messages) > 0 { // a media follow-up
			followUpHooks++
			for _, m := range h.Messages {
				followUps++
				if !placeholders[m.ID] || !ex.recentIDs[m.ID] {
					t.Fatalf("follow-up %s was not a recent placeholder delivered before", m.ID)
				}
				media := map[string]*webhook.Media{"image": m.Image, "video": m.Video, "audio": m.Audio,
					"document": m.Document, "sticker": m.Sticker}[m.Type]
				if media == nil || media.ID == "" || media.MimeType == "" || len(media.SHA256) != 64 || m.HistoryContext != nil {
					t.Fatalf("follow-up media %+v", m)
				}
			}
			continue
		}
		if len(h.History) != 1 || h.History[0].Metadata == nil {
			t.Fatalf("chunk shape: %.300s", p.body)
		}
		c := h.History[0]
		k := chunkKey{int(c.Metadata.Phase), int(c.Metadata.ChunkOrder)}
		if seenChunks[k] {
			t.Fatalf("chunk %v twice", k)
		}
		seenChunks[k] = true
		orders[k.phase] = append(orders[k.phase], k.order)
		phases = append(phases, k.phase)
		progress = append(progress, int(c.Metadata.Progress))
		n := 0
		for _, th := range c.Threads {
			if !isDigits(th.ID) || len(th.Messages) == 0 {
				t.Fatalf("thread %q with %d messages (groups never come)", th.ID, len(th.Messages))
			}
			threads[th.ID] = true
			for _, m := range th.Messages {
				n++
				checkHistoryMessage(t, m, th.ID, k.phase, ex)
				if gotIDs[m.ID] {
					t.Fatalf("message %s twice", m.ID)
				}
				gotIDs[m.ID] = true
				if m.Type == webhook.TypeMediaPlaceholder {
					placeholders[m.ID] = true
				}
			}
		}
		if n > 500 {
			t.Fatalf("chunk of %d messages", n)
		}
	}

	for p := range 3 {
		want := make([]int, tot.ChunksPerPhase[p])
		for i := range want {
			want[i] = i + 1
		}
		got := slices.Clone(orders[p])
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("phase %d chunks %v, want 1..%d", p, orders[p], tot.ChunksPerPhase[p])
		}
		data := orders[p]
		if p == 2 {
			data = data[:len(data)-1] // the empty closing chunk comes last by design
		}
		if len(data) >= 2 && slices.IsSorted(data) {
			t.Fatalf("phase %d chunks arrived in order: %v", p, orders[p])
		}
	}
	if !slices.IsSorted(phases) || !slices.IsSorted(progress) {
		t.Fatalf("phases %v or progress %v go backwards", phases, progress)
	}
	for i, pr := range progress {
		if last := i == len(progress)-1; (pr == 100) != last {
			t.Fatalf("progress %v: 100 must come exactly on the last chunk", progress)
		}
	}
	lastOrder := orders[2][len(orders[2])-1]
	if lastOrder != tot.ChunksPerPhase[2] {
		t.Fatalf("phase 2 ends with chunk %d, want the empty chunk %d", lastOrder, tot.ChunksPerPhase[2])
	}
	for id := range e.sim.HistoryMessageIDs(tPhone) {
		if !gotIDs[id] {
			t.Fatalf("message %s never arrived", id)
		}
	}
	if len(gotIDs) != len(ex.ids) || len(threads) != tot.Threads {
		t.Fatalf("delivered %d ids in %d threads, want %d in %d", len(gotIDs), len(threads), len(ex.ids), tot.Threads)
	}
	if followUps != tot.MediaFollowUps || followUpHooks != tot.MediaFollowUpWebhooks || len(posts) != tot.HistoryWebhooks {
		t.Fatalf("follow-ups %d in %d webhooks of %d, want %d in %d of %d", followUps, followUpHooks, len(posts),
			tot.MediaFollowUps, tot.MediaFollowUpWebhooks, tot.HistoryWebhooks)
	}
}

func checkHistoryMessage(t *testing.T, m webhook.Message, thread string, phase int, ex expected) {
	t.Helper()
	p, ok := ex.ids[m.ID]
	if !ok || p != phase || !strings.HasPrefix(m.ID, "wamid.") {
		t.Fatalf("unexpected message %s in phase %d", m.ID, phase)
	}
	ago := ex.onboarded - int64(m.Timestamp)
	if ago < int64(phaseAgo[phase][0]) || ago >= int64(phaseAgo[phase][1]) {
		t.Fatalf("message %s of phase %d is %d s old", m.ID, phase, ago)
	}
	fromBiz := m.From == ex.businessNo
	if (fromBiz && m.To != thread) || (!fromBiz && (m.From != thread || m.To != "")) {
		t.Fatalf("from/to %q/%q in thread %s", m.From, m.To, thread)
	}
	if m.HistoryContext == nil || m.HistoryContext.Status == "" {
		t.Fatalf("no history_context: %+v", m)
	}
	switch m.Type {
	case webhook.TypeText:
		if m.Text == nil || m.Text.Body == "" {
			t.Fatalf("text without body: %+v", m)
		}
	case webhook.TypeMediaPlaceholder:
		if m.Image != nil || m.Text != nil || m.Video != nil || m.Audio != nil || m.Document != nil || m.Sticker != nil {
			t.Fatalf("placeholder with content: %+v", m)
		}
	default:
		t.Fatalf("type %q in history", m.Type)
	}
}

// TestHistoryAtLeastOnceUnderRetriesAndDuplicates: with a flaky receiver and duplicates,
// every message still arrives at least once and every chunk is there.
func TestHistoryAtLeastOnceUnderRetriesAndDuplicates(t *testing.T) {
	e := newEnv(t, Options{Seed: 9, Delivery: DeliveryOptions{MaxInFlight: 4, DuplicateShare: 0.2, MaxAttempts: 20}},
		Scenario{Threads: 50, Messages: 5_000, MediaShare: 0.2, MessagesPerChunk: 200})
	e.rcv.answer = func(n int) int {
		if n%5 == 0 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	}
	ex := expectedHistory(t, e.sim, tPhone)
	e.requestSync(tPhone, SyncHistory, e.token)
	e.waitIdle()
	got := map[string]bool{}
	chunks := map[[2]int]bool{}
	for _, d := range decodeAll(t, e.rcv.delivered()) {
		for _, c := range d.history.History {
			chunks[[2]int{int(c.Metadata.Phase), int(c.Metadata.ChunkOrder)}] = true
			for _, th := range c.Threads {
				for _, m := range th.Messages {
					got[m.ID] = true
				}
			}
		}
	}
	st := e.sim.Stats()
	tot := e.num.Totals
	if len(got) != len(ex.ids) || len(chunks) != tot.ChunksPerPhase[0]+tot.ChunksPerPhase[1]+tot.ChunksPerPhase[2] {
		t.Fatalf("got %d of %d ids, %d chunks; stats %+v", len(got), len(ex.ids), len(chunks), st)
	}
	if st.Delivered != int64(tot.HistoryWebhooks) || st.Retried == 0 || st.Duplicated == 0 || st.Failed != 0 {
		t.Fatalf("stats %+v, want %d delivered with retries and duplicates", st, tot.HistoryWebhooks)
	}
}
