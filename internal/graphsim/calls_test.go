// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graphsim

import (
	"net/http"
	"testing"
	"time"
)

// The call record tells, per number and sync type, each smb_app_data POST in order: what
// the client got, whether it took effect, whether a fault came before the effect or lost the
// answer after it, and when it was answered.
func TestCallRecordTellsEachSyncRequest(t *testing.T) {
	e := newEnv(t, Options{}, small())
	e.sim.SetFaults(Faults{Script: []FaultRule{
		{Call: "RequestHistorySync", Kind: Fault429, Times: 1},
		{Call: "RequestHistorySync", Kind: FaultLostResponse, Times: 1},
	}})
	var answered []time.Time
	for range 3 {
		e.sim.Clock().Advance(time.Minute)
		answered = append(answered, e.sim.Clock().Now())
		e.requestSync(tPhone, SyncHistory, e.token)
	}
	e.requestSync(tPhone, SyncContacts, e.token) // another type, left out by the filter

	type want struct {
		status              int
		accepted, lost      bool
		faultedBeforeEffect bool
		subcode             int
	}
	wants := []want{
		{status: http.StatusTooManyRequests, faultedBeforeEffect: true},
		{status: http.StatusGatewayTimeout, accepted: true, lost: true},
		{status: http.StatusBadRequest, subcode: subcodeAlreadyRequested},
	}
	calls := e.sim.Calls(CallFilter{PhoneNumberID: tPhone, SyncType: SyncHistory})
	if len(calls) != len(wants) {
		t.Fatalf("%d history calls recorded, want %d: %+v", len(calls), len(wants), calls)
	}
	for i, w := range wants {
		c := calls[i]
		if c.Status != w.status || c.Accepted != w.accepted || c.AnswerLost() != w.lost ||
			c.FaultedBeforeEffect() != w.faultedBeforeEffect || c.ErrorSubcode != w.subcode {
			t.Errorf("call %d: status %d accepted %v lost %v faulted before effect %v subcode %d; want %+v",
				i+1, c.Status, c.Accepted, c.AnswerLost(), c.FaultedBeforeEffect(), c.ErrorSubcode, w)
		}
		if !c.AnsweredAt.Equal(answered[i]) || c.AnsweredWall.IsZero() {
			t.Errorf("call %d answered at %v (wall %v), want %v", i+1, c.AnsweredAt, c.AnsweredWall, answered[i])
		}
		if i > 0 && c.Seq <= calls[i-1].Seq {
			t.Errorf("calls out of order: seq %d after %d", c.Seq, calls[i-1].Seq)
		}
	}
	info, _ := e.sim.Number(tPhone)
	if calls[1].RequestID == "" || calls[1].RequestID != info.Syncs[SyncHistory].RequestID {
		t.Errorf("the accepted call's request id %q, want the recorded sync's %q", calls[1].RequestID, info.Syncs[SyncHistory].RequestID)
	}
	if n := e.sim.CountCalls(CallFilter{SyncType: SyncHistory, OnlyAccepted: true}); n != 1 {
		t.Errorf("%d accepted history calls, want 1", n)
	}

	// The control API returns the same record.
	var out struct {
		Count int `json:"count"`
		Calls []struct {
			SyncType   string    `json:"sync_type"`
			Status     int       `json:"status"`
			Accepted   bool      `json:"accepted"`
			Fault      FaultKind `json:"fault"`
			AnsweredAt time.Time `json:"answered_at"`
		} `json:"calls"`
	}
	controlClient{t, e.graph.URL}.ok(http.MethodGet, "/_sim/calls?phone_number_id="+tPhone+"&sync_type=history", nil, &out)
	if out.Count != 3 || out.Calls[1].Fault != FaultLostResponse || !out.Calls[1].Accepted || out.Calls[2].Accepted ||
		out.Calls[0].SyncType != SyncHistory || !out.Calls[2].AnsweredAt.Equal(answered[2]) {
		t.Errorf("GET /_sim/calls = %+v", out)
	}
	controlClient{t, e.graph.URL}.ok(http.MethodGet, "/_sim/calls?sync_type=history&accepted=true", nil, &out)
	if out.Count != 1 {
		t.Errorf("accepted=true kept %d calls, want 1", out.Count)
	}
	e.waitIdle()
}
