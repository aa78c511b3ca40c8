// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graph_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/coex-operator/coex-operator/internal/graph"
	"github.com/coex-operator/coex-operator/internal/graphsim"
)

// Meta's refusal of a repeated or late smb_app_data is undocumented, so the client runs
// against each answer the simulator can give: it reads a refusal as done or expired only
// where the answer says so, and as Permanent (a stall, never a retry) where it does not.
func TestSimRepeatSyncAnswers(t *testing.T) {
	ctx := context.Background()
	cases := map[graphsim.RepeatAnswer]struct {
		repeat, late graph.Class
	}{
		graphsim.RepeatAnswerAlready:  {repeat: graph.ClassAlreadyRequested, late: graph.ClassWindowExpired},
		graphsim.RepeatAnswerCodeOnly: {repeat: graph.ClassAlreadyRequested, late: graph.ClassPermanent},
		graphsim.RepeatAnswerUnknown:  {repeat: graph.ClassPermanent, late: graph.ClassPermanent},
	}
	for mode, tc := range cases {
		t.Run(string(mode)+"/repeat after a lost answer", func(t *testing.T) {
			e := newSimEnv(t, graphsim.Scenario{Preset: "small"})
			must(t, e.sim.SetRepeatSyncAnswer(mode))
			tok := e.token(t)
			e.sim.SetFaults(graphsim.Faults{Script: []graphsim.FaultRule{
				{Call: graph.CallRequestHistorySync, Kind: graphsim.FaultLostResponse, Times: 1}}})
			_, err := e.client.RequestHistorySync(ctx, tok, simPhone)
			wantClass(t, err, graph.ClassTransient)                  // outcome unknown: not retried inside the client
			_, err = e.client.RequestHistorySync(ctx, tok, simPhone) // the caller's one re-ask
			wantClass(t, err, tc.repeat)
			calls := e.sim.Calls(graphsim.CallFilter{Name: graph.CallRequestHistorySync, PhoneNumberID: simPhone})
			if len(calls) != 2 || !calls[0].Accepted || calls[1].Accepted {
				t.Errorf("calls %+v: want the lost one accepted and one refused re-ask, no more", calls)
			}
		})
		t.Run(string(mode)+"/late", func(t *testing.T) {
			e := newSimEnv(t, graphsim.Scenario{Preset: "small"})
			must(t, e.sim.SetRepeatSyncAnswer(mode))
			tok := e.token(t)
			e.sim.Clock().Advance(24*time.Hour + time.Second)
			_, err := e.client.RequestContactsSync(ctx, tok, simPhone)
			wantClass(t, err, tc.late)
			if n := e.sim.CountCalls(graphsim.CallFilter{Name: graph.CallRequestContactsSync}); n != 1 {
				t.Errorf("a late request was sent %d times, want once", n)
			}
		})
	}
}

// A lost answer drawn by share, not by script: the sync happens, and the client does not
// ask again on its own.
func TestSimShareLostResponse(t *testing.T) {
	e := newSimEnv(t, graphsim.Scenario{Preset: "small"})
	tok := e.token(t)
	e.sim.SetFaults(graphsim.Faults{ShareLostResponse: 1})
	_, err := e.client.RequestContactsSync(context.Background(), tok, simPhone)
	wantClass(t, err, graph.ClassTransient)
	if n := e.sim.CountCalls(graphsim.CallFilter{SyncType: graph.SyncTypeContacts}); n != 1 {
		t.Errorf("%d contacts requests, want 1: an unknown outcome is not retried in the client", n)
	}
	info, _ := e.sim.Number(simPhone)
	if _, ok := info.Syncs[graph.SyncTypeContacts]; !ok {
		t.Errorf("syncs %v: the first lost request must have taken effect", info.Syncs)
	}
	if n := e.sim.CountCalls(graphsim.CallFilter{SyncType: graph.SyncTypeContacts, OnlyAccepted: true}); n != 1 {
		t.Errorf("%d accepted contacts requests, want 1", n)
	}
}

// A WABA with more subscribed apps than one of the simulator's pages: the client reads them
// all, one call per page.
func TestSimListsEveryPage(t *testing.T) {
	sim := graphsim.New(graphsim.Options{ListPageSize: 4})
	t.Cleanup(sim.Close)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	const apps = 10
	for i := range apps {
		id := fmt.Sprintf("50%02d", i)
		must(t, sim.AddApp(graphsim.AppSpec{ID: id, Secret: "s"}))
		must(t, sim.SubscribeAppToWABA(id, simWABA, ""))
	}
	tok, err := sim.IssueToken(graphsim.TokenSpec{AppID: "5000", WABAIDs: []string{simWABA}})
	must(t, err)
	c := graph.New(graph.Options{BaseURL: srv.URL, AppID: "5000"})
	got, err := c.ListSubscribedApps(context.Background(), graph.Secret(tok), simWABA)
	must(t, err)
	if len(got) != apps || got[0].AppID != "5000" || got[apps-1].AppID != fmt.Sprintf("50%02d", apps-1) {
		t.Errorf("listed %d apps (%+v), want all %d in order", len(got), got, apps)
	}
	if n := sim.CountCalls(graphsim.CallFilter{Name: graph.CallListSubscribedApps}); n != 3 {
		t.Errorf("%d calls, want 3 pages of at most 4", n)
	}
}

// The exchange's refusals of a spent or stale signup code, as the simulator gives them: named
// by IsCodeUsed / IsCodeExpired, and sent once.
func TestSimSignupCodeRefusals(t *testing.T) {
	sim := graphsim.New(graphsim.Options{SignupCodeTTL: 30 * time.Second})
	t.Cleanup(sim.Close)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	must(t, sim.AddApp(graphsim.AppSpec{ID: simAppID, Secret: simApp.Secret.Reveal()}))
	fresh, err := sim.AddNumber(graphsim.NumberSpec{AppID: simAppID, WABAID: simWABA, PhoneNumberID: simPhone, Scenario: graphsim.Scenario{Preset: "small"}})
	must(t, err)
	c := graph.New(graph.Options{BaseURL: srv.URL, AppID: simAppID, Retry: graph.RetryPolicy{MaxAttempts: 5},
		Sleep: func(context.Context, time.Duration) error { return nil }})
	ctx := context.Background()
	_, err = c.ExchangeCode(ctx, simApp, graph.Secret(fresh.SignupCode))
	must(t, err)
	_, err = c.ExchangeCode(ctx, simApp, graph.Secret(fresh.SignupCode))
	if !graph.IsCodeUsed(err) || graph.IsCodeExpired(err) {
		t.Errorf("second exchange: %v, want IsCodeUsed only", err)
	}
	again, err := sim.Reonboard(simPhone)
	must(t, err)
	sim.Clock().Advance(31 * time.Second)
	_, err = c.ExchangeCode(ctx, simApp, graph.Secret(again.SignupCode))
	if !graph.IsCodeExpired(err) || graph.IsCodeUsed(err) {
		t.Errorf("exchange after 31 s: %v, want IsCodeExpired only", err)
	}
	if n := sim.CountCalls(graphsim.CallFilter{Name: graph.CallExchangeCode}); n != 3 {
		t.Errorf("%d exchanges sent, want 3: a refused code must not be retried", n)
	}
}
