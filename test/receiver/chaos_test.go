// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package receiver_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/coex-operator/coex-operator/internal/graphsim"
	"github.com/coex-operator/coex-operator/internal/receiver"
	"github.com/coex-operator/coex-operator/internal/receiver/relay"
	"github.com/coex-operator/coex-operator/internal/webhook"
	"github.com/coex-operator/coex-operator/test/harness"
)

// chaosSize is how hard TestChaos pushes: a short run in `make test`, the full one in
// `make chaos` (COEX_CHAOS=full).
type chaosSize struct {
	numbers      int           // numbers with a small history, besides one bigger one
	bigPreset    string        // the bigger number's history
	forged       int           // forged and malformed requests mixed into Meta's traffic
	kills        int           // SIGKILLs of each of the manager and the receiver
	windowKills  int           // SIGKILLs of the manager between Meta's acceptance and its answer
	relayOutage  time.Duration // the tenant's endpoint answering 503
	latencySpike time.Duration // Graph latency during a spike
	settle       time.Duration // a deadline (not a goal) for everything to settle
}

func chaosSizeFromEnv() chaosSize {
	if os.Getenv("COEX_CHAOS") == "full" {
		return chaosSize{numbers: 50, bigPreset: "heavy", forged: 5000, kills: 5, windowKills: 5, relayOutage: time.Minute,
			latencySpike: 2 * time.Second, settle: 15 * time.Minute}
	}
	return chaosSize{numbers: 8, bigPreset: "medium", forged: 500, kills: 2, windowKills: 2, relayOutage: 5 * time.Second,
		latencySpike: 500 * time.Millisecond, settle: 3 * time.Minute}
}

// TestChaos runs the manager and the receiver binaries through the faults a production
// cluster sees, all at once:
//   - the simulator answers 30% of Graph calls 429 or 5xx, with latency spikes;
//   - the manager and the receiver are killed with SIGKILL repeatedly while numbers sync, at
//     random moments; and the manager also exactly between recording a sync request's intent
//     and recording its request id: when Meta has accepted the request and the answer is on
//     its way;
//   - the relay endpoint is down for a while;
//   - the MetaApp's app secret is rotated during the sync;
//   - forged and malformed requests are mixed into Meta's traffic.
//
// It ends with exact checks: every number Active with the scenario's counts, each one-shot
// sync requested exactly once per number, every event relayed (by id), every forged request
// refused, and no token or secret in any log line.
func TestChaos(t *testing.T) {
	size := chaosSizeFromEnv()
	w := newWorld(t, graphsim.DeliveryOptions{DuplicateShare: 0.2, MaxInFlight: 8,
		RetryBase: 100 * time.Millisecond, RetryMax: 2 * time.Second, MaxAttempts: 1_000_000})
	mgr := startManager(t, w)
	// phone number id → CoexNumber, complete before the kill hook can read it from the
	// simulator's goroutines.
	names := map[string]string{"399999": "big"}
	for i := range size.numbers {
		names[fmt.Sprintf("30%04d", i)] = fmt.Sprintf("n%03d", i)
	}
	windowKills := w.killInTheWindow(t, size.windowKills, names, mgr.Restart)
	w.sim.SetFaults(graphsim.Faults{Share429: 0.15, Share5xx: 0.15, RetryAfter: graphsim.Duration(time.Second)})

	type num struct {
		name, phone string
		info        graphsim.NumberInfo
	}
	var nums []num
	for i := range size.numbers {
		name, phone := fmt.Sprintf("n%03d", i), fmt.Sprintf("30%04d", i)
		nums = append(nums, num{name, phone, w.addNumber(name, fmt.Sprintf("20%04d", i), phone, graphsim.Scenario{Preset: "small"})})
	}
	nums = append(nums, num{"big", "399999", w.addNumber("big", "299999", "399999", graphsim.Scenario{Preset: size.bigPreset})})
	start := time.Now()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var chaos sync.WaitGroup
	// Latency spikes on the Graph API, until the kills are over.
	spikes, endSpikes := context.WithCancel(ctx)
	defer endSpikes()
	chaos.Go(func() {
		for spikes.Err() == nil {
			w.sim.SetFaults(graphsim.Faults{Share429: 0.15, Share5xx: 0.15, RetryAfter: graphsim.Duration(time.Second),
				Latency: graphsim.Duration(size.latencySpike)})
			sleepCtx(spikes, 2*time.Second)
			w.sim.SetFaults(graphsim.Faults{Share429: 0.15, Share5xx: 0.15, RetryAfter: graphsim.Duration(time.Second)})
			sleepCtx(spikes, 3*time.Second)
		}
	})
	// Forged and malformed requests beside Meta's.
	var forgedAccepted, forgedSent atomic.Int64
	chaos.Go(func() {
		for i := range size.forged {
			if ctx.Err() != nil {
				return
			}
			if code := w.postForged(i); code == http.StatusOK {
				forgedAccepted.Add(1)
			}
			forgedSent.Add(1)
		}
	})
	// The tenant's endpoint goes down for a while, a moment after the syncs begin. When it is
	// back, the receiver is killed as soon as the first delivery has been taken, with the
	// backlog still being relayed.
	killedRelaying := make(chan struct{})
	var endpointBack atomic.Pointer[time.Time]
	chaos.Go(func() {
		sleepCtx(ctx, time.Second)
		w.sink.down.Store(true)
		sleepCtx(ctx, size.relayOutage)
		var once sync.Once
		kill := func() { once.Do(func() { go func() { w.rcv.Restart(); close(killedRelaying) }() }) }
		w.sink.afterDelivery.Store(&kill)
		back := time.Now()
		endpointBack.Store(&back)
		w.sink.down.Store(false)
	})
	// The app secret is rotated at Meta and in the cluster in the middle of it.
	const rotated = "app-secret-rotated-during-chaos"
	chaos.Go(func() {
		sleepCtx(ctx, 2*time.Second)
		must(t, w.sim.SetAppSecret(appID, rotated))
		w.setAppSecret(t, rotated)
	})
	// SIGKILLs of the manager and the receiver, in turn, at random moments.
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 2 * size.kills {
		time.Sleep(time.Duration(300+rng.IntN(1200)) * time.Millisecond)
		if i%2 == 0 {
			mgr.Restart()
			continue
		}
		w.rcv.Restart()
	}
	endSpikes()
	chaos.Wait()
	select {
	case <-killedRelaying:
	case <-time.After(size.settle):
		t.Fatalf("nothing was relayed within %s of the endpoint's return", size.settle)
	}

	wantEvents := 0
	for _, n := range nums {
		tot := n.info.Totals
		wantEvents += tot.Messages + tot.MediaFollowUps + tot.ContactsAdded + tot.ContactsRemoved
	}
	waitFor(t, size.settle, "every number Active and every event relayed", func() (bool, string) {
		for _, n := range nums {
			if h := historyOf(w.number(n.name)); !h.synced || h.messages != int64(n.info.Totals.Messages) ||
				w.number(n.name).Status.Phase != "Active" {
				return false, fmt.Sprintf("%s: phase %s, %+v; simulator %+v", n.name, w.number(n.name).Status.Phase, h, w.sim.Stats())
			}
		}
		c := w.sink.counts()
		return c.distinct == wantEvents, fmt.Sprintf("relayed %d of %d events; simulator %+v", c.distinct, wantEvents, w.sim.Stats())
	})
	settled := time.Since(start).Round(time.Second)

	// Each one-shot sync was made exactly once per number, never missed.
	var once, counted int
	for _, n := range nums {
		calls := w.sim.Calls(graphsim.CallFilter{PhoneNumberID: n.phone, OnlyOK: true})
		got := map[string]int{}
		for _, c := range calls {
			got[c.Name]++
		}
		if got["RequestContactsSync"] != 1 || got["RequestHistorySync"] != 1 {
			t.Errorf("%s: Meta accepted %d contacts and %d history requests, want 1 each", n.name,
				got["RequestContactsSync"], got["RequestHistorySync"])
		} else {
			once++
		}
		st := w.number(n.name).Status
		if st.Contacts == nil || st.Contacts.Added != int64(n.info.Totals.ContactsAdded) ||
			st.History.Threads != int64(n.info.Totals.Threads) {
			t.Errorf("%s: contacts %+v, history %+v; want %+v", n.name, st.Contacts, st.History, n.info.Totals)
		} else {
			counted++
		}
	}
	inWindow, settledByMeta := windowKills.check(t, w)
	c := w.sink.counts()
	if c.distinct != wantEvents || c.badSig != 0 {
		t.Errorf("relayed %d distinct events (%d bad signatures), want %d", c.distinct, c.badSig, wantEvents)
	}
	// Relayed once, except what a receiver kill caught between the tenant's 200 and the
	// outbox's acknowledgement: at most the batches in flight at each kill, sent again with
	// the same ids for the tenant to drop.
	limit := (size.kills + 1) * relay.DefaultWorkers * relay.DefaultBatchSize
	if c.redelivered > limit {
		t.Errorf("%d events relayed twice, more than the batches in flight at %d receiver kills could hold (%d)",
			c.redelivered, size.kills+1, limit)
	}
	if forgedAccepted.Load() != 0 || forgedSent.Load() != int64(size.forged) {
		t.Errorf("%d of %d forged or malformed requests were accepted", forgedAccepted.Load(), forgedSent.Load())
	}
	// No token or secret in any log line of either binary.
	secrets := []string{appSecret, rotated, relayKey, verifyToken}
	for _, n := range nums {
		secrets = append(secrets, numberToken(n.phone))
	}
	lines, leaks := 0, 0
	for _, p := range []*harness.Process{mgr, w.rcv} {
		for i, line := range strings.Split(p.Log(), "\n") {
			lines++
			for _, s := range secrets {
				if strings.Contains(line, s) {
					leaks++
					t.Errorf("%s log line %d holds a secret: %s", p.Name, i+1, line)
				}
			}
		}
	}

	graphCalls := w.sim.Calls(graphsim.CallFilter{})
	faulted := 0
	for _, call := range graphCalls {
		if call.Fault != "" {
			faulted++
		}
	}
	st := w.sim.Stats()
	var r report
	r.row("fault", "injected")
	r.row("numbers syncing (one with the "+size.bigPreset+" preset)", fmt.Sprint(len(nums)))
	r.row("webhooks delivered, and delivered twice", fmt.Sprintf("%d, %d", st.Delivered, st.Duplicated))
	r.row("SIGKILLs of the receiver / of the manager, at random moments", fmt.Sprintf("%d / %d", size.kills, size.kills))
	r.row("SIGKILLs of the manager between intent and request id", fmt.Sprint(inWindow))
	r.row("Graph calls answered 429 or 5xx (with latency spikes)", fmt.Sprintf("%d of %d", faulted, len(graphCalls)))
	r.row("relay endpoint down, then the receiver SIGKILLed while relaying", size.relayOutage.String()+", once")
	r.row("app secret rotated mid-sync", "once")
	r.row("forged or malformed requests", fmt.Sprint(forgedSent.Load()))
	r.row("", "")
	r.row("check", "result")
	r.row("numbers Active with the scenario's counts", fmt.Sprintf("%d of %d", counted, len(nums)))
	r.row("one accepted contacts and one history request per number", fmt.Sprintf("%d of %d", once, len(nums)))
	r.row("kills in the window settled by webhooks or Meta's refusal", fmt.Sprintf("%d of %d", settledByMeta, inWindow))
	r.row("events relayed (distinct ids; bad signatures)", fmt.Sprintf("%d of %d; %d", c.distinct, wantEvents, c.badSig))
	r.row("  sent again after a receiver kill, same id (bound)", fmt.Sprintf("%d (%d)", c.redelivered, limit))
	r.row("forged requests accepted", fmt.Sprintf("%d of %d", forgedAccepted.Load(), forgedSent.Load()))
	r.row("log lines holding a token or secret", fmt.Sprintf("%d of %d", leaks, lines))
	r.row("last new event relayed, after the endpoint was back", c.lastNew.Sub(*endpointBack.Load()).Round(100*time.Millisecond).String())
	r.row("everything settled after", settled.String())
	t.Logf("chaos:\n%s", r.String())
}

// report is a two-column table for the test log.
type report struct{ rows [][2]string }

func (r *report) row(a, b string) { r.rows = append(r.rows, [2]string{a, b}) }

func (r *report) String() string {
	w := 0
	for _, row := range r.rows {
		w = max(w, len(row[0]))
	}
	var sb strings.Builder
	for _, row := range r.rows {
		fmt.Fprintf(&sb, "  %-*s  %s\n", w, row[0], row[1])
	}
	return sb.String()
}

// postForged sends the i-th forged or malformed request and returns the status code.
func (w *world) postForged(i int) int {
	body := []byte(`{"object":"whatsapp_business_account","entry":[{"id":"200000","changes":[{"field":"account_update",` +
		`"value":{"event":"PARTNER_REMOVED","phone_number":"15550000000"}}]}]}`)
	var sig string
	switch i % 5 {
	case 0: // no signature
	case 1: // signed with a guessed secret
		sig = webhook.Sign([]byte("guessed-secret"), body)
	case 2: // a real-looking signature of another body
		sig = webhook.Sign([]byte(appSecret), []byte(`{}`))
	case 3: // garbage
		body, sig = []byte("\x00\xff not json"), "sha256=not-hex"
	case 4: // oversized
		body, sig = bytes.Repeat([]byte("A"), 5<<20), "sha256=00"
	}
	req, err := http.NewRequest(http.MethodPost, w.callbackURL(), bytes.NewReader(body))
	if err != nil {
		return 0
	}
	if sig != "" {
		req.Header.Set(webhook.SignatureHeader, sig)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0 // the receiver was being killed: refused all the same
	}
	resp.Body.Close()
	return resp.StatusCode
}

// setAppSecret rotates the app secret in the MetaApp's Secret as docs/operations.md says: the
// old one moves to "app-secret.previous", which keeps Meta's retries of webhooks it signed
// before the rotation valid, whatever restarts the receiver goes through.
func (w *world) setAppSecret(t *testing.T, secret string) {
	t.Helper()
	sec := &corev1.Secret{}
	must(t, w.k8s.Get(context.Background(), client.ObjectKey{Namespace: w.ns, Name: "acme-app"}, sec))
	sec.Data["app-secret"+receiver.PreviousKeySuffix] = sec.Data["app-secret"]
	sec.Data["app-secret"] = []byte(secret)
	must(t, w.k8s.Update(context.Background(), sec))
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
