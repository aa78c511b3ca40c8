// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package receiver_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/coex-operator/coex-operator/api/v1alpha1"
	"github.com/coex-operator/coex-operator/internal/graphsim"
	"github.com/coex-operator/coex-operator/internal/receiver/event"
	"github.com/coex-operator/coex-operator/internal/receiver/relay"
	"github.com/coex-operator/coex-operator/test/harness"
)

// TestHistoryThroughKills syncs a heavy account (5,000 threads, 500,000 messages; the medium
// preset with -short or COEX_RECEIVER_PRESET=medium) with 20% of the webhooks delivered twice,
// while a receiver is killed with SIGKILL several times and restarted on the same store: one
// receiver on the embedded store (4 kills), and three receivers on one PostgreSQL database
// behind a round-robin proxy (one of them killed twice). At the end every count in status
// equals the scenario's, HistorySynced is True, the relay sink has every event id, none
// missing, each number's events in order, and no acknowledged webhook was lost.
func TestHistoryThroughKills(t *testing.T) {
	for _, tc := range []struct {
		backend   backend
		receivers int
		kills     int
	}{
		{boltBackend, 1, 4},
		{postgresBackend, 3, 2},
	} {
		t.Run(fmt.Sprintf("%s/%d receivers", tc.backend, tc.receivers), func(t *testing.T) {
			historyThroughKills(t, tc.backend, tc.receivers, tc.kills)
		})
	}
}

func historyThroughKills(t *testing.T, b backend, receivers, kills int) {
	preset := "heavy"
	if testing.Short() {
		preset = "medium"
	}
	if p := os.Getenv("COEX_RECEIVER_PRESET"); p != "" {
		preset = p
	}
	if k, err := strconv.Atoi(os.Getenv("COEX_RECEIVER_KILLS")); err == nil {
		kills = k
	}
	w := newWorldOf(t, b, receivers, graphsim.DeliveryOptions{
		DuplicateShare: 0.2, MaxInFlight: 8,
		// Meta retries for a week; the simulator is told to retry until the test ends.
		RetryBase: 100 * time.Millisecond, RetryMax: time.Second, MaxAttempts: 10_000,
	})
	info := w.addNumber("heavy", "2001", "3001", graphsim.Scenario{Preset: preset})
	tot := info.Totals
	t.Logf("scenario %s: %d messages in %d threads, %d history webhooks, %d media follow-ups, %d+%d contacts",
		preset, tot.Messages, tot.Threads, tot.HistoryWebhooks, tot.MediaFollowUps, tot.ContactsAdded, tot.ContactsRemoved)
	waitFor(t, time.Minute, "the receiver to answer", w.handshakeOK)

	start := time.Now()
	w.requestSyncs(info.PhoneNumberID)

	// Kill the receiver while webhooks are still arriving, at random moments.
	rng := rand.New(rand.NewPCG(1, 2))
	done := 0
	for done < kills && w.sim.Stats().Pending > 0 {
		time.Sleep(time.Duration(300+rng.IntN(900)) * time.Millisecond)
		w.rcv.Restart()
		done++
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	must(t, w.sim.WaitIdle(ctx))
	st := w.sim.Stats()
	t.Logf("simulator: %d webhooks delivered, %d duplicated, %d retried, %d failed; %d SIGKILLs", st.Delivered, st.Duplicated,
		st.Retried, st.Failed, done)
	if st.Failed != 0 {
		t.Fatalf("%d webhooks were never acknowledged", st.Failed)
	}
	if done == 0 && kills > 0 {
		t.Fatalf("the sync ended before the receiver could be killed")
	}

	wantEvents := tot.Messages + tot.MediaFollowUps + tot.ContactsAdded + tot.ContactsRemoved
	waitFor(t, 5*time.Minute, "status and relay to catch up", func() (bool, string) {
		n := w.number("heavy")
		got := historyOf(n)
		c := w.sink.counts()
		return got.synced && got.messages == int64(tot.Messages) && c.distinct >= wantEvents,
			fmt.Sprintf("%+v; relayed %d of %d", got, c.distinct, wantEvents)
	})
	elapsed := time.Since(start)

	n := w.number("heavy")
	h := n.Status.History
	chunks := int64(tot.ChunksPerPhase[0] + tot.ChunksPerPhase[1] + tot.ChunksPerPhase[2])
	checks := []struct {
		what      string
		got, want int64
	}{
		{"history.messages", h.Messages, int64(tot.Messages)},
		{"history.threads", h.Threads, int64(tot.Threads)},
		{"history.chunks", h.Chunks, chunks},
		{"history.progress", int64(h.Progress), 100},
		{"contacts.added", n.Status.Contacts.Added, int64(tot.ContactsAdded)},
		{"contacts.removed", n.Status.Contacts.Removed, int64(tot.ContactsRemoved)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.what, c.got, c.want)
		}
	}
	if h.CompletedAt == nil || h.Phase == nil || *h.Phase != 2 {
		t.Errorf("history not completed in phase 2: %+v", h)
	}
	c := w.sink.counts()
	if c.distinct != wantEvents {
		t.Errorf("relay delivered %d distinct events, want %d", c.distinct, wantEvents)
	}
	for typ, want := range map[string]int{
		event.TypeHistoryMessage: tot.Messages, event.TypeHistoryMedia: tot.MediaFollowUps,
		event.TypeContact: tot.ContactsAdded + tot.ContactsRemoved,
	} {
		if c.byType[typ] != want {
			t.Errorf("relayed %d %s events, want %d", c.byType[typ], typ, want)
		}
	}
	// A kill between the tenant's 200 and the relay's acknowledgement resends that batch: at
	// least once, with stable ids. Nothing else may come twice.
	if limit := done * relay.DefaultWorkers * relay.DefaultBatchSize; c.redelivered > limit {
		t.Errorf("%d events relayed again, more than the %d batches in flight at %d kills could hold", c.redelivered,
			done*relay.DefaultWorkers, done)
	}
	if c.badSig != 0 {
		t.Errorf("%d relay deliveries had a bad signature", c.badSig)
	}
	for _, bad := range c.outOfOrder {
		t.Errorf("relayed out of order: %s", bad)
	}
	t.Logf("%s in %s through %d SIGKILLs: %d events relayed in %d deliveries, %d received again after a kill "+
		"(the tenant de-duplicates by id)", preset, elapsed.Round(time.Millisecond), done, c.distinct, c.deliveries, c.redelivered)
}

// handshakeOK is Meta's verification through the receiver: true once it answers.
func (w *world) handshakeOK() (bool, string) {
	url := fmt.Sprintf("%s?hub.mode=subscribe&hub.verify_token=%s&hub.challenge=ping", w.callbackURL(), verifyToken)
	code, body := harness.Get(url)
	return code == 200 && body == "ping", fmt.Sprintf("%d %s", code, body)
}

type historyView struct {
	synced   bool
	messages int64
	progress int32
}

func historyOf(n *v1.CoexNumber) historyView {
	v := historyView{}
	if c := meta.FindStatusCondition(n.Status.Conditions, v1.ConditionHistorySynced); c != nil {
		v.synced = c.Status == metav1.ConditionTrue
	}
	if h := n.Status.History; h != nil {
		v.messages, v.progress = h.Messages, h.Progress
	}
	return v
}
