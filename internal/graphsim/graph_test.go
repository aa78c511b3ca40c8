// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graphsim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func small() Scenario { return Scenario{Preset: "small"} }

func TestSyncIsAcceptedOncePerType(t *testing.T) {
	e := newEnv(t, Options{}, small())
	for _, typ := range []string{SyncContacts, SyncHistory} {
		first := e.requestSync(tPhone, typ, e.token)
		if first.status != http.StatusOK || first.json["request_id"] == "" || first.json["messaging_product"] != "whatsapp" {
			t.Fatalf("%s: first request: %d %s", typ, first.status, first.raw)
		}
		again := e.requestSync(tPhone, typ, e.token)
		expectError(t, again, http.StatusBadRequest, 100, "already requested")
		if again.subcode() != subcodeAlreadyRequested {
			t.Fatalf("subcode %d, want %d", again.subcode(), subcodeAlreadyRequested)
		}
	}
	info, _ := e.sim.Number(tPhone)
	if len(info.Syncs) != 2 {
		t.Fatalf("syncs %v", info.Syncs)
	}
	ok := e.sim.CountCalls(CallFilter{Name: "RequestHistorySync", PhoneNumberID: tPhone, OnlyOK: true})
	all := e.sim.CountCalls(CallFilter{Name: "RequestHistorySync", PhoneNumberID: tPhone})
	if ok != 1 || all != 2 {
		t.Fatalf("history calls: %d ok of %d, want 1 of 2", ok, all)
	}
	e.waitIdle()
}

func TestSyncRefusedAfter24Hours(t *testing.T) {
	e := newEnv(t, Options{}, small())
	e.sim.Clock().Advance(24*time.Hour - time.Second)
	if r := e.requestSync(tPhone, SyncContacts, e.token); r.status != http.StatusOK {
		t.Fatalf("just inside the window: %d %s", r.status, r.raw)
	}
	e.sim.Clock().Advance(2 * time.Second)
	late := e.requestSync(tPhone, SyncHistory, e.token)
	expectError(t, late, http.StatusBadRequest, 100, "24 hours", "window has expired")
	if info, _ := e.sim.Number(tPhone); len(info.Syncs) != 1 {
		t.Fatalf("a refused request was recorded: %v", info.Syncs)
	}

	// Onboarding again opens a new window and allows both syncs again.
	info, err := e.sim.Reonboard(tPhone)
	must(t, err)
	if info.Onboardings != 2 || !info.OnboardedAt.Equal(e.sim.Clock().Now().Truncate(time.Second)) {
		t.Fatalf("reonboard: %+v", info)
	}
	for _, typ := range []string{SyncContacts, SyncHistory} {
		if r := e.requestSync(tPhone, typ, e.token); r.status != http.StatusOK {
			t.Fatalf("%s after re-onboarding: %d %s", typ, r.status, r.raw)
		}
	}
	e.waitIdle()
}

func TestUnknownSyncTypeIsPermanent(t *testing.T) {
	e := newEnv(t, Options{}, small())
	r := e.requestSync(tPhone, "everything", e.token)
	expectError(t, r, http.StatusBadRequest, 100, "sync_type")
	if r.subcode() != 0 {
		t.Fatalf("subcode %d", r.subcode())
	}
	r = e.call(http.MethodPost, "/v23.0/"+tPhone+"/smb_app_data", e.token, map[string]string{"sync_type": SyncHistory})
	expectError(t, r, http.StatusBadRequest, 100, "messaging_product")
	if c := e.sim.Calls(CallFilter{PhoneNumberID: tPhone}); len(c) != 2 || c[0].Name != "RequestSync" || c[1].Name != "RequestHistorySync" {
		t.Fatalf("calls %+v", c)
	}
}

func TestNotCoexistenceNumber(t *testing.T) {
	no := false
	e := newEnv(t, Options{}, Scenario{IsOnBizApp: &no})
	r := e.call(http.MethodGet, "/v23.0/"+tPhone+"?fields=is_on_biz_app,platform_type", e.token, nil)
	if r.status != http.StatusOK || r.json["is_on_biz_app"] != false || r.json["platform_type"] != "CLOUD_API" || r.json["id"] != tPhone {
		t.Fatalf("onboarding check: %s", r.raw)
	}
	expectError(t, e.requestSync(tPhone, SyncHistory, e.token), http.StatusBadRequest, 100)
}

func TestSignupCodeExchangesOnce(t *testing.T) {
	e := newEnv(t, Options{}, small())
	exchange := func(secret, code string) response {
		q := url.Values{"client_id": {tApp}, "client_secret": {secret}, "code": {code}}
		return e.call(http.MethodGet, "/v23.0/oauth/access_token?"+q.Encode(), "", nil)
	}
	expectError(t, exchange("wrong", e.num.SignupCode), http.StatusBadRequest, 1, "client secret")
	first := exchange(tSecret, e.num.SignupCode)
	tok, _ := first.json["access_token"].(string)
	if first.status != http.StatusOK || tok == "" || first.json["token_type"] != "bearer" {
		t.Fatalf("exchange: %d %s", first.status, first.raw)
	}
	second := exchange(tSecret, e.num.SignupCode)
	expectError(t, second, http.StatusBadRequest, 100, "This authorization code has been used.")
	if second.subcode() != 36009 {
		t.Fatalf("subcode %d", second.subcode())
	}
	expectError(t, exchange(tSecret, "AQnotacode"), http.StatusBadRequest, 100)

	// The exchanged token reaches its number.
	r := e.call(http.MethodGet, "/v23.0/"+tPhone+"?fields=is_on_biz_app,platform_type", tok, nil)
	if r.status != http.StatusOK || r.json["is_on_biz_app"] != true || r.json["platform_type"] != "CLOUD_API" || r.json["id"] != tPhone {
		t.Fatalf("onboarding check: %d %s", r.status, r.raw)
	}
	if len(r.json) != 3 {
		t.Fatalf("only the asked fields and id: %s", r.raw)
	}
	calls := e.sim.Calls(CallFilter{Name: "ExchangeCode"})
	if len(calls) != 4 || calls[1].Status != http.StatusOK || calls[1].PhoneNumberID != tPhone || calls[1].AppID != tApp {
		t.Fatalf("exchange calls: %+v", calls)
	}
}

func TestBareTokenExchange(t *testing.T) {
	e := newEnv(t, Options{}, small())
	must(t, e.sim.AddApp(AppSpec{ID: "1002", Secret: "s2", BareTokenResponse: true}))
	num, err := e.sim.AddNumber(NumberSpec{AppID: "1002", WABAID: "2002", PhoneNumberID: "3002"})
	must(t, err)
	q := url.Values{"client_id": {"1002"}, "client_secret": {"s2"}, "code": {num.SignupCode}}
	r := e.call(http.MethodGet, "/oauth/access_token?"+q.Encode(), "", nil)
	tok := string(r.raw)
	if r.status != http.StatusOK || r.json != nil || !strings.HasPrefix(tok, "EAA") {
		t.Fatalf("bare token: %d %q", r.status, r.raw)
	}
	if r := e.call(http.MethodGet, "/v21.0/3002?fields=is_on_biz_app", tok, nil); r.status != http.StatusOK {
		t.Fatalf("bare token does not work: %s", r.raw)
	}
}

func TestBadTokenIsRefused(t *testing.T) {
	e := newEnv(t, Options{}, small())
	missing := e.call(http.MethodGet, "/v23.0/"+tPhone, "", nil)
	unknown := e.call(http.MethodGet, "/v23.0/"+tPhone, "EAAnotatoken", nil)
	for _, r := range []response{missing, unknown} {
		expectError(t, r, http.StatusUnauthorized, 190, "Invalid OAuth access token")
		if r.gerr()["type"] != "OAuthException" || r.header.Get("WWW-Authenticate") == "" {
			t.Fatalf("401 shape: %s", r.raw)
		}
	}
	if missing.gerr()["fbtrace_id"] == unknown.gerr()["fbtrace_id"] {
		t.Fatal("fbtrace_id repeats")
	}
	expectError(t, e.requestSync(tPhone, SyncHistory, "EAAnotatoken"), http.StatusUnauthorized, 190)
	if info, _ := e.sim.Number(tPhone); len(info.Syncs) != 0 {
		t.Fatal("an unauthenticated request had an effect")
	}
	// The token also travels as a parameter.
	if r := e.call(http.MethodGet, "/v23.0/"+tPhone+"?access_token="+url.QueryEscape(e.token), "", nil); r.status != http.StatusOK {
		t.Fatalf("access_token parameter: %s", r.raw)
	}
}

func TestTokenCannotTouchAnotherWABA(t *testing.T) {
	e := newEnv(t, Options{}, small())
	_, err := e.sim.AddNumber(NumberSpec{AppID: tApp, WABAID: "2009", PhoneNumberID: "3009", Scenario: small()})
	must(t, err)
	expectError(t, e.call(http.MethodGet, "/v23.0/3009?fields=is_on_biz_app", e.token, nil), http.StatusForbidden, 200)
	expectError(t, e.requestSync("3009", SyncHistory, e.token), http.StatusForbidden, 200)
	expectError(t, e.call(http.MethodPost, "/v23.0/2009/subscribed_apps", e.token, nil), http.StatusForbidden, 200)
	expectError(t, e.call(http.MethodGet, "/v23.0/2009/subscribed_apps", e.token, nil), http.StatusForbidden, 200)
	// The app token reaches the app's settings, not a WABA.
	expectError(t, e.requestSync(tPhone, SyncHistory, tApp+"|"+tSecret), http.StatusForbidden, 200)
	// A business token cannot read app settings.
	expectError(t, e.call(http.MethodGet, "/v23.0/"+tApp+"/subscriptions", e.token, nil), http.StatusBadRequest, 15)
	// Unknown ids are Graph's "unsupported request".
	r := e.call(http.MethodGet, "/v23.0/999999", e.token, nil)
	expectError(t, r, http.StatusBadRequest, 100, "does not exist")
	if r.subcode() != 33 {
		t.Fatalf("subcode %d", r.subcode())
	}
	if info, _ := e.sim.Number("3009"); len(info.Syncs) != 0 {
		t.Fatal("a forbidden request had an effect")
	}
}

func TestFaultedCallsHaveNoSideEffect(t *testing.T) {
	e := newEnv(t, Options{}, small())
	e.sim.SetFaults(Faults{Share429: 1, RetryAfter: Duration(2 * time.Second)})
	r := e.requestSync(tPhone, SyncHistory, e.token)
	expectError(t, r, http.StatusTooManyRequests, 4, "request limit")
	if r.gerr()["is_transient"] != true || r.header.Get("Retry-After") != "2" {
		t.Fatalf("429 shape: %v %s", r.header, r.raw)
	}
	e.waitIdle()
	if info, _ := e.sim.Number(tPhone); len(info.Syncs) != 0 {
		t.Fatal("a 429'd request counted as requested")
	}
	if st := e.sim.Stats(); st.Attempts != 0 {
		t.Fatalf("a 429'd request sent webhooks: %+v", st)
	}

	// 5xx: Graph's JSON 500 and the proxies' non-JSON 502/503, all without effect.
	e.sim.SetFaults(Faults{Script: []FaultRule{
		{Call: "RequestHistorySync", Kind: Fault500, Times: 1},
		{Call: "RequestHistorySync", Kind: Fault502, Times: 1},
		{Call: "RequestHistorySync", Kind: Fault503, Times: 1},
	}})
	r = e.requestSync(tPhone, SyncHistory, e.token)
	expectError(t, r, http.StatusInternalServerError, 1)
	for _, want := range []int{http.StatusBadGateway, http.StatusServiceUnavailable} {
		r = e.requestSync(tPhone, SyncHistory, e.token)
		if r.status != want || r.json != nil {
			t.Fatalf("want non-JSON %d, got %d %s", want, r.status, r.raw)
		}
	}
	if info, _ := e.sim.Number(tPhone); len(info.Syncs) != 0 {
		t.Fatal("a 5xx'd request counted as requested")
	}
	// Faults spent, the first real request is accepted.
	if r = e.requestSync(tPhone, SyncHistory, e.token); r.status != http.StatusOK {
		t.Fatalf("after faults: %d %s", r.status, r.raw)
	}
	calls := e.sim.Calls(CallFilter{Name: "RequestHistorySync"})
	if len(calls) != 5 || calls[0].Fault != Fault429 || calls[3].Fault != Fault503 || calls[4].Fault != "" {
		t.Fatalf("calls %+v", calls)
	}
	e.waitIdle()
}

func TestLostResponseHappenedAnyway(t *testing.T) {
	e := newEnv(t, Options{}, small())
	e.sim.SetFaults(Faults{Script: []FaultRule{{Call: "RequestContactsSync", Kind: FaultLostResponse, Times: 1}}})
	if r := e.requestSync(tPhone, SyncContacts, e.token); r.status != http.StatusGatewayTimeout || r.json != nil {
		t.Fatalf("lost response: %d %s", r.status, r.raw)
	}
	expectError(t, e.requestSync(tPhone, SyncContacts, e.token), http.StatusBadRequest, 100, "already requested")
	e.waitIdle()
	if got, want := e.sim.Stats().DeliveredByField["smb_app_state_sync"], int64(e.num.Totals.ContactWebhooks); got != want {
		t.Fatalf("contacts webhooks %d, want %d", got, want)
	}
}

// Random faults, lost answers included, are drawn from the seed: the same seed gives the
// same answers, and the share of faulted answers is near the one asked for.
func TestRandomFaultsAreDeterministic(t *testing.T) {
	for name, tc := range map[string]struct {
		faults      Faults
		faulted     func(status int) bool
		least, most int
	}{
		"429 and 5xx at 40%": {Faults{Share429: 0.2, Share5xx: 0.2}, func(s int) bool { return s != http.StatusOK }, 5, 30},
		"lost answers at 30%": {Faults{Share429: 0.1, ShareLostResponse: 0.3},
			func(s int) bool { return s == http.StatusGatewayTimeout }, 4, 24},
	} {
		t.Run(name, func(t *testing.T) {
			run := func() []int {
				e := newEnv(t, Options{Seed: 42, Faults: tc.faults}, small())
				var st []int
				for range 40 {
					st = append(st, e.call(http.MethodGet, "/v23.0/"+tPhone, e.token, nil).status)
				}
				return st
			}
			a, b := run(), run()
			faulted := 0
			for i := range a {
				if a[i] != b[i] {
					t.Fatalf("call %d: %d then %d with the same seed", i, a[i], b[i])
				}
				if tc.faulted(a[i]) {
					faulted++
				}
			}
			if faulted < tc.least || faulted > tc.most {
				t.Fatalf("%d faulted answers of 40", faulted)
			}
		})
	}
}

func TestAppSubscriptionsVerifyTheCallback(t *testing.T) {
	e := newEnv(t, Options{}, small(), historyOnly()...)
	appTok := tApp + "|" + tSecret
	// A wrong verify token fails the handshake and changes nothing.
	r := e.call(http.MethodPost, "/v23.0/"+tApp+"/subscriptions", appTok, map[string]any{
		"object": "whatsapp_business_account", "callback_url": e.rcv.URL + "/hook", "verify_token": "nope",
		"fields": []string{"messages"},
	})
	expectError(t, r, http.StatusBadRequest, 2200, "Callback verification failed")
	// A form with comma-separated fields passes and merges.
	r = e.call(http.MethodPost, "/v22.0/"+tApp+"/subscriptions", appTok, url.Values{
		"object": {"whatsapp_business_account"}, "callback_url": {e.rcv.URL + "/hook"}, "verify_token": {tVerify},
		"fields": {"messages,smb_message_echoes"},
	})
	if r.status != http.StatusOK || r.json["success"] != true {
		t.Fatalf("subscribe: %d %s", r.status, r.raw)
	}
	r = e.call(http.MethodGet, "/v23.0/"+tApp+"/subscriptions", appTok, nil)
	var got struct {
		Data []struct {
			Object      string `json:"object"`
			CallbackURL string `json:"callback_url"`
			Active      bool   `json:"active"`
			Fields      []struct{ Name, Version string }
		} `json:"data"`
	}
	must(t, json.Unmarshal(r.raw, &got))
	if len(got.Data) != 1 || got.Data[0].CallbackURL != e.rcv.URL+"/hook" || !got.Data[0].Active ||
		got.Data[0].Object != "whatsapp_business_account" || len(got.Data[0].Fields) != 3 {
		t.Fatalf("subscriptions: %s", r.raw)
	}
	if f := got.Data[0].Fields; f[0].Name != "history" || f[1].Name != "messages" || f[1].Version != "v22.0" {
		t.Fatalf("fields: %+v", f)
	}
	expectError(t, e.call(http.MethodPost, "/v23.0/"+tApp+"/subscriptions", appTok, map[string]any{
		"object": "whatsapp_business_account", "callback_url": e.rcv.URL, "verify_token": tVerify,
		"fields": []string{"messages", "mesages"},
	}), http.StatusBadRequest, 100, "mesages")
	expectError(t, e.call(http.MethodGet, "/v23.0/"+tApp+"/subscriptions", tApp+"|wrong", nil), http.StatusUnauthorized, 190)
}

func historyOnly() []string { return []string{"history"} }

func TestSubscribedApps(t *testing.T) {
	e := newEnv(t, Options{}, small())
	long := e.rcv.URL + "/" + strings.Repeat("x", 200)
	expectError(t, e.call(http.MethodPost, "/v23.0/"+tWABA+"/subscribed_apps", e.token,
		map[string]string{"override_callback_uri": long, "verify_token": tVerify}), http.StatusBadRequest, 100, "200")
	expectError(t, e.call(http.MethodPost, "/v23.0/"+tWABA+"/subscribed_apps", e.token,
		map[string]string{"override_callback_uri": e.rcv.URL + "/o", "verify_token": "bad"}), http.StatusBadRequest, 2200)
	r := e.call(http.MethodPost, "/v23.0/"+tWABA+"/subscribed_apps", e.token,
		url.Values{"override_callback_uri": {e.rcv.URL + "/o"}, "verify_token": {tVerify}})
	if r.status != http.StatusOK || r.json["success"] != true {
		t.Fatalf("subscribe: %s", r.raw)
	}
	r = e.call(http.MethodGet, "/v23.0/"+tWABA+"/subscribed_apps", e.token, nil)
	var got struct {
		Data []struct {
			API struct {
				ID, Link, Name string
			} `json:"whatsapp_business_api_data"`
			Override string `json:"override_callback_uri"`
		} `json:"data"`
	}
	must(t, json.Unmarshal(r.raw, &got))
	if len(got.Data) != 1 || got.Data[0].API.ID != tApp || got.Data[0].API.Name == "" || got.Data[0].API.Link == "" ||
		got.Data[0].Override != e.rcv.URL+"/o" {
		t.Fatalf("list: %s", r.raw)
	}
	if r = e.call(http.MethodDelete, "/v23.0/"+tWABA+"/subscribed_apps", e.token, nil); r.status != http.StatusOK {
		t.Fatalf("unsubscribe: %s", r.raw)
	}
	r = e.call(http.MethodGet, "/v23.0/"+tWABA+"/subscribed_apps", e.token, nil)
	if string(r.raw) != `{"data":[]}` {
		t.Fatalf("after unsubscribe: %s", r.raw)
	}
}

func TestCallRecordHoldsNoSecrets(t *testing.T) {
	e := newEnv(t, Options{}, small())
	q := url.Values{"client_id": {tApp}, "client_secret": {tSecret}, "code": {e.num.SignupCode}}
	e.call(http.MethodGet, "/v23.0/oauth/access_token?"+q.Encode(), "", nil)
	e.call(http.MethodGet, "/v23.0/"+tPhone+"?access_token="+e.token, "", nil)
	e.call(http.MethodGet, "/v23.0/"+tApp+"/subscriptions", tApp+"|"+tSecret, nil)
	e.requestSync(tPhone, SyncContacts, e.token)
	raw, err := json.Marshal(e.sim.Calls(CallFilter{}))
	must(t, err)
	for _, secret := range []string{tSecret, e.token, e.num.SignupCode} {
		if strings.Contains(string(raw), secret) {
			t.Fatalf("the call record holds a secret: %s", raw)
		}
	}
	if e.sim.CountCalls(CallFilter{AppID: tApp}) != 4 {
		t.Fatalf("calls by app: %s", raw)
	}
	e.waitIdle()
}

func TestDeregisterIsRefusedAndRecorded(t *testing.T) {
	e := newEnv(t, Options{}, small())
	expectError(t, e.call(http.MethodPost, "/v23.0/"+tPhone+"/deregister", e.token, nil), http.StatusBadRequest, 100)
	if e.sim.CountCalls(CallFilter{Name: "Deregister", PhoneNumberID: tPhone}) != 1 {
		t.Fatal("deregister not recorded")
	}
	expectError(t, e.call(http.MethodGet, "/v23.0/"+tPhone+"/nonsense", e.token, nil), http.StatusBadRequest, 2500)
}

// BeforeAnswer sees an accepted sync request after it took effect (a second one is already
// refused) and before the client has its answer, which is then the call's own.
func TestBeforeAnswerSeesTheEffectFirst(t *testing.T) {
	var e *env
	var seen []Call
	var second response
	answered := make(chan struct{})
	e = newEnv(t, Options{BeforeAnswer: func(c Call) {
		seen = append(seen, c)
		if c.Name == "RequestContactsSync" && c.Status == http.StatusOK {
			select {
			case <-answered:
				t.Error("the client had its answer before BeforeAnswer returned")
			default:
			}
			second = e.requestSync(tPhone, SyncContacts, e.token)
		}
	}}, small())
	r := e.requestSync(tPhone, SyncContacts, e.token)
	close(answered)
	if r.status != http.StatusOK || r.json == nil {
		t.Fatalf("held answer: %d %s", r.status, r.raw)
	}
	expectError(t, second, http.StatusBadRequest, 100, "already requested")
	if len(seen) != 2 || seen[0].Status != http.StatusOK || seen[1].Status != http.StatusBadRequest {
		t.Fatalf("BeforeAnswer saw %+v", seen)
	}
	e.waitIdle()
}
