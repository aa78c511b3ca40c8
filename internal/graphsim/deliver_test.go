// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graphsim

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/coex-operator/coex-operator/internal/webhook"
)

func TestRetriedUntilAnswered200(t *testing.T) {
	e := newEnv(t, Options{}, small())
	e.rcv.answer = func(n int) int {
		if n <= 2 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	}
	id, err := e.sim.Trigger(Event{Kind: EventInbound, PhoneNumberID: tPhone})
	must(t, err)
	e.waitIdle()
	all := e.rcv.all()
	if len(all) != 3 || all[2].status != http.StatusOK {
		t.Fatalf("%d posts", len(all))
	}
	for _, p := range all[1:] {
		if string(p.body) != string(all[0].body) || p.signature != all[0].signature {
			t.Fatal("a retry changed the body or signature")
		}
	}
	if d := decodeWebhook(t, all[2]); d.messages.Messages[0].ID != id {
		t.Fatalf("delivered %+v", d.messages)
	}
	if st := e.sim.Stats(); st.Delivered != 1 || st.Retried != 2 || st.Failed != 0 || st.Attempts != 3 {
		t.Fatalf("stats %+v", st)
	}
}

func TestDeliveryGivesUpAfterMaxAttempts(t *testing.T) {
	e := newEnv(t, Options{Delivery: DeliveryOptions{MaxAttempts: 3}}, small())
	e.rcv.answer = func(int) int { return http.StatusServiceUnavailable }
	_, err := e.sim.Trigger(Event{Kind: EventEcho, PhoneNumberID: tPhone})
	must(t, err)
	e.waitIdle()
	if st := e.sim.Stats(); len(e.rcv.all()) != 3 || st.Failed != 1 || st.Delivered != 0 || st.Retried != 2 {
		t.Fatalf("%d posts, stats %+v", len(e.rcv.all()), st)
	}
}

func TestConnectionErrorsAreRetried(t *testing.T) {
	e := newEnv(t, Options{Delivery: DeliveryOptions{MaxAttempts: 2}}, small())
	dead := newReceiver(t, tSecret)
	dead.Close() // nothing listens there any more
	must(t, e.sim.SubscribeAppFields(tApp, dead.URL, allFields...))
	_, err := e.sim.Trigger(Event{Kind: EventEcho, PhoneNumberID: tPhone})
	must(t, err)
	e.waitIdle()
	if st := e.sim.Stats(); st.Failed != 1 || st.Retried != 1 || st.Attempts != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// TestDuplicatesFollowTheSeed: about the configured share is sent twice, the same ones on
// every run with the same seed.
func TestDuplicatesFollowTheSeed(t *testing.T) {
	run := func() (Stats, []post) {
		e := newEnv(t, Options{Seed: 5, Delivery: DeliveryOptions{DuplicateShare: 0.25}},
			Scenario{ContactsAdded: 400, ContactsPerWebhook: 4})
		e.requestSync(tPhone, SyncContacts, e.token)
		e.waitIdle()
		return e.sim.Stats(), e.rcv.all()
	}
	st, posts := run()
	if st.Delivered != 100 || st.Duplicated < 10 || st.Duplicated > 45 {
		t.Fatalf("%d duplicates of %d at 25%%", st.Duplicated, st.Delivered)
	}
	seen := map[string]int{}
	for _, p := range posts {
		seen[string(p.body)]++
	}
	twice := 0
	for _, n := range seen {
		if n > 2 {
			t.Fatal("a webhook came more than twice")
		}
		if n == 2 {
			twice++
		}
	}
	if len(seen) != 100 || int64(twice) != st.Duplicated || int64(len(posts)) != st.Delivered+st.Duplicated {
		t.Fatalf("%d distinct, %d twice, %d posts; stats %+v", len(seen), twice, len(posts), st)
	}
	if again, _ := run(); again.Duplicated != st.Duplicated {
		t.Fatalf("duplicates %d then %d with the same seed", st.Duplicated, again.Duplicated)
	}
}

func TestUnsubscribedFieldIsNotDelivered(t *testing.T) {
	e := newEnv(t, Options{}, small(), webhook.FieldHistory, webhook.FieldMessages)
	e.requestSync(tPhone, SyncContacts, e.token)
	_, err := e.sim.Trigger(Event{Kind: EventEcho, PhoneNumberID: tPhone})
	must(t, err)
	_, err = e.sim.Trigger(Event{Kind: EventInbound, PhoneNumberID: tPhone})
	must(t, err)
	e.waitIdle()
	posts := decodeAll(t, e.rcv.delivered())
	if len(posts) != 1 || posts[0].field != webhook.FieldMessages {
		t.Fatalf("%d webhooks delivered", len(posts))
	}
	st := e.sim.Stats()
	want := int64(e.num.Totals.ContactWebhooks)
	if st.UndeliverableByField[webhook.FieldStateSync] != want || st.UndeliverableByField[webhook.FieldEchoes] != 1 ||
		st.Undeliverable != want+1 {
		t.Fatalf("stats %+v", st)
	}

	// Without the app subscribed to the WABA nothing goes out, whatever the fields.
	r := e.call(http.MethodDelete, "/v23.0/"+tWABA+"/subscribed_apps", e.token, nil)
	if r.status != http.StatusOK {
		t.Fatalf("unsubscribe: %s", r.raw)
	}
	_, err = e.sim.Trigger(Event{Kind: EventInbound, PhoneNumberID: tPhone})
	must(t, err)
	e.waitIdle()
	if got := len(e.rcv.delivered()); got != 1 || e.sim.Stats().Undeliverable != want+2 {
		t.Fatalf("%d delivered after unsubscribing; stats %+v", got, e.sim.Stats())
	}
}

func TestWaitIdleHonorsItsContext(t *testing.T) {
	e := newEnv(t, Options{Delivery: DeliveryOptions{RetryBase: time.Hour, RetryMax: time.Hour}}, small())
	e.rcv.answer = func(int) int { return http.StatusInternalServerError }
	_, err := e.sim.Trigger(Event{Kind: EventEcho, PhoneNumberID: tPhone})
	must(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := e.sim.WaitIdle(ctx); err == nil {
		t.Fatal("WaitIdle returned with a delivery waiting an hour to retry")
	}
	if st := e.sim.Stats(); st.Pending != 1 {
		t.Fatalf("pending %d", st.Pending)
	}
	// Close drops it without waiting the hour.
	e.sim.Close()
}
