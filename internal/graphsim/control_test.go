// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graphsim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coex-operator/coex-operator/internal/webhook"
)

// controlClient drives the control API as a demo script would.
type controlClient struct {
	t    *testing.T
	base string
}

func (c controlClient) do(method, path string, body any, out any) int {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		must(c.t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	must(c.t, err)
	resp, err := http.DefaultClient.Do(req)
	must(c.t, err)
	defer func() { _ = resp.Body.Close() }()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			c.t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
	return resp.StatusCode
}

func (c controlClient) ok(method, path string, body any, out any) {
	c.t.Helper()
	if st := c.do(method, path, body, out); st != http.StatusOK {
		c.t.Fatalf("%s %s: HTTP %d", method, path, st)
	}
}

func TestControlAPI(t *testing.T) {
	sim := New(Options{Clock: NewClock(fixedStart), Delivery: DeliveryOptions{RetryBase: time.Millisecond}})
	defer sim.Close()
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	rcv := newReceiver(t, tSecret)
	c := controlClient{t, srv.URL}
	e := &env{t: t, sim: sim, graph: srv, rcv: rcv}

	var index []map[string]string
	c.ok(http.MethodGet, "/_sim/", nil, &index)
	if len(index) != len(ControlEndpoints) {
		t.Fatalf("index %v", index)
	}
	c.ok(http.MethodPost, "/_sim/apps", map[string]any{"id": tApp, "secret": tSecret, "callback_url": rcv.URL,
		"fields": allFields}, nil)
	var num NumberInfo
	c.ok(http.MethodPost, "/_sim/numbers", map[string]any{"app_id": tApp, "waba_id": tWABA, "phone_number_id": tPhone,
		"subscribe_app": true, "scenario": map[string]any{"preset": "small", "country_calling_code": "27"}}, &num)
	if num.SignupCode == "" || !strings.HasPrefix(num.DisplayPhoneNumber, "+27") || num.Totals.Messages != 200 {
		t.Fatalf("number %+v", num)
	}
	var tok map[string]string
	c.ok(http.MethodPost, "/_sim/tokens", map[string]any{"app_id": tApp, "waba_ids": []string{tWABA}, "value": "demo-token"}, &tok)
	if tok["access_token"] != "demo-token" {
		t.Fatalf("token %v", tok)
	}

	// Faults hit Graph, never the control API.
	c.ok(http.MethodPut, "/_sim/faults", map[string]any{"share_429": 1.0, "latency": "1ms"}, nil)
	if r := e.requestSync(tPhone, SyncContacts, "demo-token"); r.status != http.StatusTooManyRequests {
		t.Fatalf("faulted: %d", r.status)
	}
	var faults Faults
	c.ok(http.MethodGet, "/_sim/faults", nil, &faults)
	if faults.Share429 != 1 || faults.Latency.D() != time.Millisecond {
		t.Fatalf("faults %+v", faults)
	}
	c.ok(http.MethodPut, "/_sim/faults", map[string]any{}, nil)
	if r := e.requestSync(tPhone, SyncContacts, "demo-token"); r.status != http.StatusOK {
		t.Fatalf("contacts: %s", r.raw)
	}

	// The clock: a day later history is refused.
	var now map[string]time.Time
	c.ok(http.MethodPost, "/_sim/clock/advance", map[string]string{"by": "24h1s"}, &now)
	if !now["now"].Equal(fixedStart.Add(24*time.Hour + time.Second)) {
		t.Fatalf("clock %v", now)
	}
	expectError(t, e.requestSync(tPhone, SyncHistory, "demo-token"), http.StatusBadRequest, 100, "window has expired")
	c.ok(http.MethodPost, "/_sim/numbers/"+tPhone+"/reonboard", nil, &num)
	if num.Onboardings != 2 || len(num.Syncs) != 0 {
		t.Fatalf("reonboarded %+v", num)
	}

	// Events.
	var ev map[string]string
	c.ok(http.MethodPost, "/_sim/numbers/"+tPhone+"/events", map[string]any{"kind": "inbound", "text": "hello"}, &ev)
	c.ok(http.MethodPost, "/_sim/numbers/"+tPhone+"/events", map[string]any{"kind": "revoke", "original_message_id": ev["message_id"]}, nil)
	c.ok(http.MethodPost, "/_sim/numbers/"+tPhone+"/events", map[string]any{"kind": "account_update",
		"event": "PARTNER_REMOVED", "variant": "waba_info", "reason": "COMPANION_INACTIVITY", "initiated_by": "SYSTEM"}, nil)
	if st := c.do(http.MethodPost, "/_sim/numbers/"+tPhone+"/events", map[string]any{"kind": "edit"}, nil); st != http.StatusBadRequest {
		t.Fatalf("edit without original: %d", st)
	}
	if st := c.do(http.MethodPost, "/_sim/numbers/"+tPhone+"/events", map[string]any{"kind": "echo", "txet": "typo"}, nil); st != http.StatusBadRequest {
		t.Fatalf("unknown key accepted: %d", st)
	}
	if st := c.do(http.MethodPost, "/_sim/numbers/404/events", map[string]any{"kind": "echo"}, nil); st != http.StatusNotFound {
		t.Fatalf("unknown number: %d", st)
	}
	var idle map[string]bool
	c.ok(http.MethodPost, "/_sim/wait?timeout=60s", nil, &idle)

	var stats Stats
	c.ok(http.MethodGet, "/_sim/stats", nil, &stats)
	if stats.DeliveredByField[webhook.FieldAccountUpdate] != 1 || stats.DeliveredByField[webhook.FieldMessages] != 2 ||
		stats.Pending != 0 {
		t.Fatalf("stats %+v", stats)
	}
	var calls struct {
		Count int    `json:"count"`
		Calls []Call `json:"calls"`
	}
	c.ok(http.MethodGet, "/_sim/calls?name=RequestContactsSync&phone_number_id="+tPhone, nil, &calls)
	if calls.Count != 2 || calls.Calls[0].Status != 429 || calls.Calls[1].Status != 200 {
		t.Fatalf("calls %+v", calls)
	}
	c.ok(http.MethodGet, "/_sim/calls?ok=true", nil, &calls)
	if calls.Count != 1 {
		t.Fatalf("ok calls %+v", calls)
	}
	if st := c.do(http.MethodGet, "/_sim/nope", nil, nil); st != http.StatusNotFound {
		t.Fatalf("unknown control path: %d", st)
	}
	if n := sim.CountCalls(CallFilter{}); n != 3 {
		t.Fatalf("control calls were recorded as Graph calls: %d", n)
	}
}

func TestConfigFile(t *testing.T) {
	cfg, err := ParseConfig([]byte(`
seed: 7
apps:
  - {id: "1001", secret: s3cret, bare_token_response: true}
tokens:
  - {app_id: "1001", waba_ids: ["2001"], value: demo-token}
numbers:
  - {app_id: "1001", waba_id: "2001", phone_number_id: "3001", signup_code: demo-code, scenario: {preset: heavy}}
  - app_id: "1001"
    waba_id: "2001"
    phone_number_id: "3002"
    scenario: {threads: 3, messages: 30, history_declined: true, onboarded_ago: 23h, country_calling_code: "234"}
`))
	must(t, err)
	if cfg.Seed == nil || *cfg.Seed != 7 {
		t.Fatalf("seed %v", cfg.Seed)
	}
	sim := New(Options{Seed: *cfg.Seed, Clock: NewClock(fixedStart)})
	defer sim.Close()
	applied, err := sim.Apply(cfg)
	must(t, err)
	if len(applied.Numbers) != 2 || applied.Numbers[0].SignupCode != "demo-code" || applied.Numbers[0].Totals.Messages != 500_000 ||
		!applied.Numbers[1].Totals.HistoryDeclined || !applied.Numbers[1].OnboardedAt.Equal(fixedStart.Add(-23*time.Hour)) ||
		applied.Tokens[0].Token != "demo-token" {
		t.Fatalf("applied %+v", applied)
	}
	if _, err := ParseConfig([]byte("apps: [{id: x, secret: y, sekret: z}]")); err == nil {
		t.Fatal("unknown key accepted")
	}
	if _, err := ParseConfig([]byte(`{"numbers":[{"scenario":{"onboarded_ago":"soon"}}]}`)); err == nil {
		t.Fatal("bad duration accepted")
	}
}
