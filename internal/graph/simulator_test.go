// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graph_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coex-operator/coex-operator/internal/graph"
	"github.com/coex-operator/coex-operator/internal/graphsim"
	"github.com/coex-operator/coex-operator/internal/webhook"
)

// These tests run the real HTTP client against the simulator: every call of the Client, and
// every error class as the simulator produces it under Meta's rules.

const (
	simAppID    = "1001"
	simWABA     = "2001"
	simPhone    = "3001"
	verifyToken = "verify-me"
)

var simApp = graph.App{ID: simAppID, Secret: "app-secret-1001"}

// simEnv is a simulator, a webhook receiver that answers the handshake and checks
// signatures, and a client pointed at the simulator.
type simEnv struct {
	sim      *graphsim.Sim
	client   *graph.HTTPClient
	sleeps   *[]time.Duration
	receiver *receiver
	code     string
}

type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	fields   map[string]int
	badSigns int
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{fields: map[string]int{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method == http.MethodGet {
			q := req.URL.Query()
			if q.Get("hub.mode") != "subscribe" || q.Get("hub.verify_token") != verifyToken {
				http.Error(w, "forbidden", http.StatusForbidden)
				return
			}
			_, _ = io.WriteString(w, q.Get("hub.challenge"))
			return
		}
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if !webhook.Verify([]byte(simApp.Secret.Reveal()), body, req.Header.Get(webhook.SignatureHeader)) {
			r.badSigns++
		}
		for _, f := range []string{webhook.FieldStateSync, webhook.FieldHistory} {
			if strings.Contains(string(body), `"field":"`+f+`"`) {
				r.fields[f]++
			}
		}
	}))
	t.Cleanup(r.Close)
	return r
}

func newSimEnv(t *testing.T, sc graphsim.Scenario) *simEnv {
	t.Helper()
	sim := graphsim.New(graphsim.Options{Seed: 7, Delivery: graphsim.DeliveryOptions{RetryBase: time.Millisecond, RetryMax: 10 * time.Millisecond}})
	t.Cleanup(sim.Close)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	must(t, sim.AddApp(graphsim.AppSpec{ID: simAppID, Secret: simApp.Secret.Reveal()}))
	info, err := sim.AddNumber(graphsim.NumberSpec{AppID: simAppID, WABAID: simWABA, PhoneNumberID: simPhone, Scenario: sc})
	must(t, err)
	var sleeps []time.Duration
	client := graph.New(graph.Options{
		BaseURL: srv.URL,
		AppID:   simAppID,
		Retry:   graph.RetryPolicy{MaxAttempts: 4},
		// Record the backoff instead of waiting: the simulator's rules do not depend on it.
		Sleep: func(_ context.Context, d time.Duration) error { sleeps = append(sleeps, d); return nil },
	})
	return &simEnv{sim: sim, client: client, sleeps: &sleeps, receiver: newReceiver(t), code: info.SignupCode}
}

// token exchanges the number's signup code.
func (e *simEnv) token(t *testing.T) graph.Secret {
	t.Helper()
	tok, err := e.client.ExchangeCode(context.Background(), simApp, graph.Secret(e.code))
	must(t, err)
	return tok
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantClass(t *testing.T, err error, want graph.Class) *graph.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("want a %s error, got success", want)
	}
	ge, ok := err.(*graph.Error)
	if !ok || graph.ClassOf(err) != want {
		t.Fatalf("want a %s *graph.Error, got %T: %v", want, err, err)
	}
	return ge
}

func TestSimOnboardingFlow(t *testing.T) {
	ctx := context.Background()
	e := newSimEnv(t, graphsim.Scenario{Preset: "small"})
	tok := e.token(t)

	// A signup code is single-use.
	_, err := e.client.ExchangeCode(ctx, simApp, graph.Secret(e.code))
	if ge := wantClass(t, err, graph.ClassPermanent); ge.Subcode != 36009 {
		t.Errorf("second exchange: subcode %d, want 36009", ge.Subcode)
	}

	pn, err := e.client.GetPhoneNumber(ctx, tok, simPhone)
	must(t, err)
	if pn.ID != simPhone || !pn.IsCoexistence() {
		t.Errorf("onboarding check = %+v, want a coexistence number", pn)
	}

	// App webhook fields: Meta verifies the callback first.
	fields := []string{"messages", "smb_message_echoes", "smb_app_state_sync", "history", "account_update"}
	bad := graph.AppSubscriptionRequest{Object: webhook.ObjectWABA, CallbackURL: e.receiver.URL, VerifyToken: "wrong", Fields: fields}
	if ge := wantClass(t, e.client.SetAppSubscription(ctx, simApp, bad), graph.ClassPermanent); ge.Code != 2200 {
		t.Errorf("failed handshake: code %d, want 2200", ge.Code)
	}
	good := bad
	good.VerifyToken = verifyToken
	must(t, e.client.SetAppSubscription(ctx, simApp, good))
	subs, err := e.client.GetAppSubscriptions(ctx, simApp)
	must(t, err)
	if len(subs) != 1 || subs[0].CallbackURL != e.receiver.URL || !subs[0].Active {
		t.Fatalf("app subscriptions = %+v", subs)
	}
	if got := slices.Sorted(slices.Values(subs[0].Fields)); !slices.Equal(got, slices.Sorted(slices.Values(fields))) {
		t.Errorf("fields = %v, want %v", got, fields)
	}

	// WABA subscription: subscribe, list, unsubscribe, list, subscribe again.
	must(t, e.client.SubscribeApp(ctx, tok, simWABA, graph.SubscribeOptions{}))
	apps, err := e.client.ListSubscribedApps(ctx, tok, simWABA)
	must(t, err)
	if len(apps) != 1 || apps[0].AppID != simAppID {
		t.Fatalf("subscribed apps = %+v", apps)
	}
	must(t, e.client.UnsubscribeApp(ctx, tok, simWABA))
	apps, err = e.client.ListSubscribedApps(ctx, tok, simWABA)
	must(t, err)
	if len(apps) != 0 {
		t.Fatalf("after unsubscribe: %+v", apps)
	}
	must(t, e.client.SubscribeApp(ctx, tok, simWABA, graph.SubscribeOptions{}))

	// The one-shot syncs: accepted once, then already requested.
	for _, sync := range []func(context.Context, graph.Secret, string) (graph.SyncRequest, error){
		e.client.RequestContactsSync, e.client.RequestHistorySync,
	} {
		req, err := sync(ctx, tok, simPhone)
		must(t, err)
		if req.RequestID == "" {
			t.Fatal("no request id")
		}
		_, err = sync(ctx, tok, simPhone)
		wantClass(t, err, graph.ClassAlreadyRequested)
	}
	for _, name := range []string{graph.CallRequestContactsSync, graph.CallRequestHistorySync} {
		if n := e.sim.CountCalls(graphsim.CallFilter{Name: name, PhoneNumberID: simPhone, OnlyOK: true}); n != 1 {
			t.Errorf("%s accepted %d times, want 1", name, n)
		}
	}

	// The webhooks reach the receiver, signed with the app secret.
	waitCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	must(t, e.sim.WaitIdle(waitCtx))
	e.receiver.mu.Lock()
	defer e.receiver.mu.Unlock()
	if e.receiver.badSigns != 0 || e.receiver.fields[webhook.FieldStateSync] == 0 || e.receiver.fields[webhook.FieldHistory] == 0 {
		t.Errorf("receiver got %v with %d bad signatures", e.receiver.fields, e.receiver.badSigns)
	}
}

func TestSimBareTokenExchange(t *testing.T) {
	sim := graphsim.New(graphsim.Options{})
	t.Cleanup(sim.Close)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	must(t, sim.AddApp(graphsim.AppSpec{ID: "1002", Secret: "s2", BareTokenResponse: true}))
	info, err := sim.AddNumber(graphsim.NumberSpec{AppID: "1002", WABAID: "2002", PhoneNumberID: "3002", Scenario: graphsim.Scenario{Preset: "small"}})
	must(t, err)
	c := graph.New(graph.Options{BaseURL: srv.URL, AppID: "1002"})
	tok, err := c.ExchangeCode(context.Background(), graph.App{ID: "1002", Secret: "s2"}, graph.Secret(info.SignupCode))
	must(t, err)
	// The token it returned works.
	_, err = c.GetPhoneNumber(context.Background(), tok, "3002")
	must(t, err)
}

func TestSimErrorClasses(t *testing.T) {
	ctx := context.Background()

	t.Run("WindowExpired after 24 h", func(t *testing.T) {
		e := newSimEnv(t, graphsim.Scenario{Preset: "small"})
		tok := e.token(t)
		e.sim.Clock().Advance(24*time.Hour + time.Second)
		_, err := e.client.RequestHistorySync(ctx, tok, simPhone)
		wantClass(t, err, graph.ClassWindowExpired)
		if n := e.sim.CountCalls(graphsim.CallFilter{Name: graph.CallRequestHistorySync, OnlyOK: true}); n != 0 {
			t.Errorf("%d accepted history requests after the window", n)
		}
	})

	t.Run("Auth for an unknown token and for another WABA", func(t *testing.T) {
		e := newSimEnv(t, graphsim.Scenario{Preset: "small"})
		_, err := e.client.GetPhoneNumber(ctx, "not-a-token", simPhone)
		if ge := wantClass(t, err, graph.ClassAuth); ge.Code != 190 || ge.HTTPStatus != http.StatusUnauthorized {
			t.Errorf("unknown token: %+v", ge)
		}
		other, err := e.sim.IssueToken(graphsim.TokenSpec{AppID: simAppID, WABAIDs: []string{"9999"}})
		must(t, err)
		_, err = e.client.RequestHistorySync(ctx, graph.Secret(other), simPhone)
		wantClass(t, err, graph.ClassAuth)
	})

	t.Run("Permanent for an unknown number, sent once", func(t *testing.T) {
		e := newSimEnv(t, graphsim.Scenario{Preset: "small"})
		tok := e.token(t)
		_, err := e.client.GetPhoneNumber(ctx, tok, "3999")
		wantClass(t, err, graph.ClassPermanent)
		sent := 0
		for _, c := range e.sim.Calls(graphsim.CallFilter{}) {
			if strings.HasSuffix(c.Path, "/3999") {
				sent++
			}
		}
		if sent != 1 {
			t.Errorf("a permanent error was sent %d times, want 1", sent)
		}
	})

	for _, kind := range []graphsim.FaultKind{graphsim.Fault429, graphsim.Fault500, graphsim.Fault502, graphsim.Fault503} {
		t.Run("Transient "+string(kind)+" on a read is retried, then succeeds", func(t *testing.T) {
			e := newSimEnv(t, graphsim.Scenario{Preset: "small"})
			tok := e.token(t)
			e.sim.SetFaults(graphsim.Faults{Script: []graphsim.FaultRule{{Call: graph.CallGetPhoneNumber, Kind: kind, Times: 2}}})
			if _, err := e.client.GetPhoneNumber(ctx, tok, simPhone); err != nil {
				t.Fatal(err)
			}
			if n := e.sim.CountCalls(graphsim.CallFilter{Name: graph.CallGetPhoneNumber}); n != 3 {
				t.Errorf("%d attempts, want 3", n)
			}
			if len(*e.sleeps) != 2 {
				t.Errorf("slept %v, want two backoffs", *e.sleeps)
			}
			if kind == graphsim.Fault429 && (*e.sleeps)[0] < time.Second {
				t.Errorf("backoff %v ignores the 429's Retry-After of 1s", (*e.sleeps)[0])
			}
		})
	}

	// A one-shot sync is retried only after a throttle, which proves Meta did not act; a 5xx
	// leaves the outcome unknown and goes back to the caller after one request.
	for kind, wantCalls := range map[graphsim.FaultKind]int{graphsim.Fault429: 3, graphsim.Fault500: 1, graphsim.Fault502: 1, graphsim.Fault503: 1} {
		t.Run("one-shot sync after "+string(kind), func(t *testing.T) {
			e := newSimEnv(t, graphsim.Scenario{Preset: "small"})
			tok := e.token(t)
			e.sim.SetFaults(graphsim.Faults{Script: []graphsim.FaultRule{{Call: graph.CallRequestHistorySync, Kind: kind, Times: 2}}})
			req, err := e.client.RequestHistorySync(ctx, tok, simPhone)
			if n := e.sim.CountCalls(graphsim.CallFilter{Name: graph.CallRequestHistorySync}); n != wantCalls {
				t.Errorf("%d attempts, want %d", n, wantCalls)
			}
			if wantCalls > 1 {
				if err != nil || req.RequestID == "" {
					t.Errorf("got %+v, %v; want a request id after the throttles", req, err)
				}
				return
			}
			wantClass(t, err, graph.ClassTransient)
		})
	}

	t.Run("Transient until the attempts run out", func(t *testing.T) {
		e := newSimEnv(t, graphsim.Scenario{Preset: "small"})
		tok := e.token(t)
		e.sim.SetFaults(graphsim.Faults{Share429: 1})
		_, err := e.client.RequestContactsSync(ctx, tok, simPhone)
		if ge := wantClass(t, err, graph.ClassTransient); ge.HTTPStatus != http.StatusTooManyRequests || ge.RetryAfter != time.Second {
			t.Errorf("throttled: %+v", ge)
		}
		if n := e.sim.CountCalls(graphsim.CallFilter{Name: graph.CallRequestContactsSync}); n != 4 {
			t.Errorf("%d attempts, want MaxAttempts=4", n)
		}
		e.sim.SetFaults(graphsim.Faults{})
		if _, err := e.client.RequestContactsSync(ctx, tok, simPhone); err != nil {
			t.Errorf("throttled requests must have had no effect: %v", err)
		}
	})

	t.Run("a lost response: Transient after one request, the sync taken once", func(t *testing.T) {
		e := newSimEnv(t, graphsim.Scenario{Preset: "small"})
		tok := e.token(t)
		e.sim.SetFaults(graphsim.Faults{Script: []graphsim.FaultRule{{Call: graph.CallRequestHistorySync, Kind: graphsim.FaultLostResponse, Times: 1}}})
		_, err := e.client.RequestHistorySync(ctx, tok, simPhone)
		wantClass(t, err, graph.ClassTransient)
		info, _ := e.sim.Number(simPhone)
		if _, ok := info.Syncs[graph.SyncTypeHistory]; !ok || len(info.Syncs) != 1 {
			t.Errorf("simulator syncs = %+v, want the history request recorded once", info.Syncs)
		}
		if n := e.sim.CountCalls(graphsim.CallFilter{Name: graph.CallRequestHistorySync}); n != 1 {
			t.Errorf("%d requests, want 1", n)
		}
	})
}
