// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graphsim

import (
	"encoding/json"
	"hash/fnv"
	"strings"
	"testing"
	"time"
)

func generatorFor(t testing.TB, sc Scenario, phone string) *generator {
	t.Helper()
	r, err := sc.resolve(1, phone, fixedStart)
	must(t, err)
	return newGenerator(r, phone)
}

// TestHeavyScenarioIsLazyAndAddsUp walks the heavy preset chunk by chunk without delivering:
// the totals hold, every id is distinct, and no chunk exceeds its bound.
func TestHeavyScenarioIsLazyAndAddsUp(t *testing.T) {
	if testing.Short() {
		t.Skip("walks 500,000 messages")
	}
	g := generatorFor(t, Scenario{Preset: "heavy"}, tPhone)
	tot := g.totals
	if tot.Messages != 500_000 || tot.Threads < 4_000 || tot.Threads > 5_000 || tot.ContactsAdded != 5_000 {
		t.Fatalf("heavy totals %+v", tot)
	}
	seen := make(map[uint64]struct{}, tot.Messages)
	threads := map[string]bool{}
	messages, follow, followHooks, chunks := 0, 0, 0, 0
	for p := range 3 {
		order := g.phaseOrder(p)
		if len(order) != tot.ChunksPerPhase[p] {
			t.Fatalf("phase %d: %d chunks, totals say %d", p, len(order), tot.ChunksPerPhase[p])
		}
		for _, c := range order {
			chunks++
			ths, media := g.chunk(p, c)
			n := 0
			for _, th := range ths {
				threads[th.ID] = true
				for _, m := range th.Messages {
					n++
					h := fnv.New64a()
					h.Write([]byte(m.ID))
					seen[h.Sum64()] = struct{}{}
				}
			}
			if n > g.r.perChunk {
				t.Fatalf("chunk of %d messages", n)
			}
			messages += n
			follow += len(media)
			if len(media) > 0 {
				followHooks++
			}
		}
	}
	if messages != tot.Messages || len(seen) != tot.Messages || len(threads) != tot.Threads {
		t.Fatalf("walked %d messages (%d distinct) in %d threads; totals %+v", messages, len(seen), len(threads), tot)
	}
	if follow != tot.MediaFollowUps || followHooks != tot.MediaFollowUpWebhooks || chunks+followHooks != tot.HistoryWebhooks {
		t.Fatalf("follow-ups %d in %d webhooks, %d chunks; totals %+v", follow, followHooks, chunks, tot)
	}
}

// TestHeavyChunkBodyStaysSmall: the biggest chunk allowed encodes well under Meta's 3 MB.
func TestHeavyChunkBodyStaysSmall(t *testing.T) {
	g := generatorFor(t, Scenario{Threads: 2, Messages: 20_000, MessagesPerChunk: maxMessagesPerChunk, MediaShare: 0.5}, tPhone)
	for p := range 3 {
		for _, c := range g.phaseOrder(p) {
			threads, _ := g.chunk(p, c)
			body, err := envelope(tWABA, fixedStart, timeNumber, "history", wireHistoryValue{History: []wireChunk{{Threads: &threads}}})
			must(t, err)
			if len(body) > 2<<20 {
				t.Fatalf("a %d-message chunk is %d bytes", maxMessagesPerChunk, len(body))
			}
		}
	}
}

func TestScenarioIsDeterministic(t *testing.T) {
	body := func(seed int64, phone string) string {
		g := generatorFor(t, Scenario{Seed: seed, Threads: 20, Messages: 500, MediaShare: 0.3}, phone)
		th, _ := g.chunk(1, 0)
		b, err := json.Marshal(th)
		must(t, err)
		return string(b)
	}
	if body(3, tPhone) != body(3, tPhone) {
		t.Fatal("same seed, different history")
	}
	if body(3, tPhone) == body(4, tPhone) {
		t.Fatal("different seeds, same history")
	}
	// Seed 0 derives from the phone number id: two numbers differ.
	if generatorFor(t, Scenario{Threads: 1}, "1").userWaID(0) == generatorFor(t, Scenario{Threads: 1}, "2").userWaID(0) {
		t.Fatal("numbers share users")
	}
}

func TestScenarioCountryAndOnboarding(t *testing.T) {
	no := false
	sim := New(Options{Clock: NewClock(fixedStart)})
	defer sim.Close()
	must(t, sim.AddApp(AppSpec{ID: tApp, Secret: tSecret}))
	ng, err := sim.AddNumber(NumberSpec{AppID: tApp, WABAID: tWABA, PhoneNumberID: "1",
		Scenario: Scenario{CountryCallingCode: "+234", ContactsAdded: 1, Threads: 1, OnboardedAgo: Duration(3 * time.Hour),
			IsOnBizApp: &no, PlatformType: "ON_PREMISE"}})
	must(t, err)
	if !strings.HasPrefix(ng.DisplayPhoneNumber, "+234") || len(ng.DisplayPhoneNumber) != 14 || !strings.HasPrefix(ng.FirstUser, "234") {
		t.Fatalf("Nigeria: %+v", ng)
	}
	if !ng.OnboardedAt.Equal(fixedStart.Add(-3*time.Hour)) || !ng.SyncDeadline.Equal(fixedStart.Add(21*time.Hour)) ||
		ng.IsOnBizApp || ng.PlatformType != "ON_PREMISE" {
		t.Fatalf("onboarding: %+v", ng)
	}
	fixed, err := sim.AddNumber(NumberSpec{AppID: tApp, WABAID: tWABA, PhoneNumberID: "2",
		Scenario: Scenario{DisplayPhoneNumber: "+27 82 555 0100", OnboardedAt: fixedStart.Add(-time.Hour)}})
	must(t, err)
	if fixed.DisplayPhoneNumber != "+27825550100" || !fixed.OnboardedAt.Equal(fixedStart.Add(-time.Hour)) {
		t.Fatalf("fixed: %+v", fixed)
	}
}

func TestScenarioValidation(t *testing.T) {
	bad := []Scenario{
		{Preset: "huge"},
		{Messages: 10},
		{Threads: -1},
		{MediaShare: 1.5},
		{ContactsAdded: 2, ContactsRemoved: 3},
		{MessagesPerChunk: maxMessagesPerChunk + 1},
		{CountryCallingCode: "12a"},
		{DisplayPhoneNumber: "call me"},
	}
	for _, sc := range bad {
		if _, err := sc.resolve(1, "1", fixedStart); err == nil {
			t.Errorf("%+v resolved", sc)
		}
	}
	// A preset fills only what is left at zero.
	r, err := Scenario{Preset: "medium", Threads: 7}.resolve(1, "1", fixedStart)
	must(t, err)
	if r.threads != 7 || r.messages != 20_000 || r.mediaShare != 0.1 {
		t.Fatalf("preset: %+v", r)
	}
	// An empty scenario is an empty history: one empty chunk per phase.
	g := generatorFor(t, Scenario{}, "1")
	if g.totals.Messages != 0 || g.totals.ChunksPerPhase != [3]int{1, 1, 1} || g.totals.HistoryWebhooks != 3 {
		t.Fatalf("empty: %+v", g.totals)
	}
}

func TestLargestRemainderAddsUp(t *testing.T) {
	for _, tc := range []struct {
		total int
		w     []float64
	}{{10, []float64{1, 1, 1}}, {7, []float64{0, 1, 0}}, {1_000_003, []float64{0.1, 0.7, 0.2, 1e-9}}, {0, []float64{1}}} {
		got := largestRemainder(tc.total, tc.w)
		sum := 0
		for i, v := range got {
			sum += int(v)
			if tc.w[i] == 0 && v != 0 {
				t.Fatalf("zero weight got %d", v)
			}
		}
		if sum != tc.total {
			t.Fatalf("%v: sum %d, want %d", got, sum, tc.total)
		}
	}
}
