// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graphsim

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// tellingWords are what a client matching text would read as "already requested" or "window
// expired"; the quiet modes must give it none of them.
var tellingWords = []string{"already", "expired", "window", "24 hours"}

func TestRepeatSyncAnswerModes(t *testing.T) {
	cases := map[string]struct {
		mode        RepeatAnswer
		late        bool // past the window instead of a repeat
		wantSubcode int
		wantWords   []string // each in the message; nil: none of tellingWords may be
	}{
		"already, repeat":    {mode: RepeatAnswerAlready, wantSubcode: subcodeAlreadyRequested, wantWords: []string{"already requested"}},
		"already, late":      {mode: RepeatAnswerAlready, late: true, wantWords: []string{"24 hours", "window has expired"}},
		"default is already": {mode: "", wantSubcode: subcodeAlreadyRequested, wantWords: []string{"already requested"}},
		"code-only, repeat":  {mode: RepeatAnswerCodeOnly, wantSubcode: subcodeAlreadyRequested},
		"code-only, late":    {mode: RepeatAnswerCodeOnly, late: true},
		"unknown, repeat":    {mode: RepeatAnswerUnknown},
		"unknown, late":      {mode: RepeatAnswerUnknown, late: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, Options{RepeatSyncAnswer: tc.mode}, small())
			if tc.late {
				e.sim.Clock().Advance(syncWindow + time.Second)
			} else if r := e.requestSync(tPhone, SyncHistory, e.token); r.status != http.StatusOK {
				t.Fatalf("first request refused: %d %s", r.status, r.raw)
			}
			r := e.requestSync(tPhone, SyncHistory, e.token)
			expectError(t, r, http.StatusBadRequest, 100, tc.wantWords...)
			if r.subcode() != tc.wantSubcode {
				t.Errorf("subcode %d, want %d", r.subcode(), tc.wantSubcode)
			}
			if r.gerr()["is_transient"] == true {
				t.Error("a refusal is marked transient")
			}
			if tc.wantWords == nil {
				msg := strings.ToLower(r.message())
				for _, w := range tellingWords {
					if strings.Contains(msg, w) {
						t.Errorf("mode %s's message %q tells %q", tc.mode, r.message(), w)
					}
				}
			}
			wantSyncs := 1
			if tc.late {
				wantSyncs = 0
			}
			if info, _ := e.sim.Number(tPhone); len(info.Syncs) != wantSyncs {
				t.Errorf("syncs recorded %v, want %d: a refusal must have no effect", info.Syncs, wantSyncs)
			}
			e.waitIdle()
		})
	}
}

func TestRepeatSyncAnswerIsValidated(t *testing.T) {
	for _, s := range []string{"", "already", "code-only", "unknown"} {
		if _, err := ParseRepeatAnswer(s); err != nil {
			t.Errorf("ParseRepeatAnswer(%q) refused: %v", s, err)
		}
	}
	for _, s := range []string{"Already", "code_only", "none"} {
		if _, err := ParseRepeatAnswer(s); err == nil || !strings.Contains(err.Error(), "code-only") {
			t.Errorf("ParseRepeatAnswer(%q) = %v, want an error listing the modes", s, err)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("New accepted an unknown RepeatSyncAnswer")
		}
	}()
	New(Options{RepeatSyncAnswer: "maybe"}).Close()
}

func TestRepeatSyncAnswerAtRunTime(t *testing.T) {
	e := newEnv(t, Options{}, small())
	c := controlClient{t, e.graph.URL}
	var got struct {
		Mode RepeatAnswer `json:"repeat_sync_answer"`
	}
	c.ok(http.MethodGet, "/_sim/repeat-sync-answer", nil, &got)
	if got.Mode != RepeatAnswerAlready {
		t.Fatalf("default mode %q, want already", got.Mode)
	}
	if st := c.do(http.MethodPut, "/_sim/repeat-sync-answer", map[string]string{"repeat_sync_answer": "perhaps"}, nil); st != http.StatusBadRequest {
		t.Fatalf("an unknown mode was answered %d, want 400", st)
	}
	c.ok(http.MethodPut, "/_sim/repeat-sync-answer", map[string]string{"repeat_sync_answer": "unknown"}, &got)
	if got.Mode != RepeatAnswerUnknown || e.sim.RepeatSyncAnswer() != RepeatAnswerUnknown {
		t.Fatalf("mode after PUT %q / %q, want unknown", got.Mode, e.sim.RepeatSyncAnswer())
	}
	e.requestSync(tPhone, SyncContacts, e.token)
	r := e.requestSync(tPhone, SyncContacts, e.token)
	expectError(t, r, http.StatusBadRequest, 100, "Invalid parameter")
	if r.subcode() != 0 {
		t.Errorf("the unknown mode set at run time still sends subcode %d", r.subcode())
	}
	e.waitIdle()
}

func TestRepeatSyncAnswerInConfig(t *testing.T) {
	cfg, err := ParseConfig([]byte("repeat_sync_answer: code-only\napps: [{id: \"1001\", secret: s}]\n"))
	must(t, err)
	sim := New(Options{Clock: NewClock(fixedStart)})
	defer sim.Close()
	_, err = sim.Apply(cfg)
	must(t, err)
	if sim.RepeatSyncAnswer() != RepeatAnswerCodeOnly {
		t.Errorf("mode after Apply %q, want code-only", sim.RepeatSyncAnswer())
	}
	if _, err := ParseConfig([]byte("repeat_sync_answer: sometimes\n")); err == nil || !strings.Contains(err.Error(), "sometimes") {
		t.Errorf("an unknown mode in the file: %v, want an error naming it", err)
	}
}

func TestShareLostResponse(t *testing.T) {
	e := newEnv(t, Options{Faults: Faults{ShareLostResponse: 1}}, small())
	for i := range 2 {
		r := e.requestSync(tPhone, SyncHistory, e.token)
		if r.status != http.StatusGatewayTimeout || r.json != nil {
			t.Fatalf("request %d: got %d %s, want the lost answer (non-JSON 504)", i+1, r.status, r.raw)
		}
	}
	info, _ := e.sim.Number(tPhone)
	if _, ok := info.Syncs[SyncHistory]; !ok || len(info.Syncs) != 1 {
		t.Fatalf("syncs %v: the first lost request must have taken effect, once", info.Syncs)
	}
	calls := e.sim.Calls(CallFilter{PhoneNumberID: tPhone, SyncType: SyncHistory})
	if len(calls) != 2 || !calls[0].Accepted || calls[1].Accepted || !calls[0].AnswerLost() || !calls[1].AnswerLost() ||
		calls[0].RequestID != info.Syncs[SyncHistory].RequestID || calls[1].ErrorCode != 0 {
		t.Fatalf("calls %+v: want the first accepted and the repeat refused, both answers lost", calls)
	}
	e.waitIdle()
	if e.sim.Stats().DeliveredByField["history"] == 0 {
		t.Error("a sync whose answer was lost sent no history")
	}
}

func TestFaultsValidate(t *testing.T) {
	cases := map[string]struct {
		f      Faults
		wantOK bool
	}{
		"none":                {Faults{}, true},
		"all lost":            {Faults{ShareLostResponse: 1}, true},
		"bands fill the unit": {Faults{Share429: 0.5, Share5xx: 0.25, ShareLostResponse: 0.25}, true},
		"negative":            {Faults{ShareLostResponse: -0.1}, false},
		"above one":           {Faults{Share5xx: 1.5}, false},
		"sum above one":       {Faults{Share429: 0.6, ShareLostResponse: 0.6}, false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if err := tc.f.Validate(); (err == nil) != tc.wantOK {
				t.Errorf("Validate(%+v) = %v, want ok %v", tc.f, err, tc.wantOK)
			}
		})
	}
	sim := New(Options{})
	defer sim.Close()
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	c := controlClient{t, srv.URL}
	if st := c.do(http.MethodPut, "/_sim/faults", map[string]float64{"share_lost_response": 2}, nil); st != http.StatusBadRequest {
		t.Errorf("PUT /_sim/faults with share 2 answered %d, want 400", st)
	}
	var f Faults
	c.ok(http.MethodPut, "/_sim/faults", map[string]float64{"share_lost_response": 0.25}, &f)
	if f.ShareLostResponse != 0.25 || sim.Faults().ShareLostResponse != 0.25 {
		t.Errorf("share_lost_response after PUT: %v / %v, want 0.25", f.ShareLostResponse, sim.Faults().ShareLostResponse)
	}
}
