// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graphsim

import (
	"sync"
	"time"
)

// Call is one Graph call the simulator received. It never holds a token, a secret or a
// signup code: only the URL path (not the query, where those travel) and the ids involved.
type Call struct {
	Seq uint64 `json:"seq"`
	// At is the simulated time of the call, Wall the real one.
	At   time.Time `json:"at"`
	Wall time.Time `json:"wall"`
	// Name is the client method the call corresponds to (RequestHistorySync, …); Unknown for
	// paths Graph does not have.
	Name    string `json:"name"`
	Method  string `json:"method"`
	Path    string `json:"path"`
	Version string `json:"version,omitempty"`
	// The ids the call was about, where known.
	PhoneNumberID string `json:"phone_number_id,omitempty"`
	WABAID        string `json:"waba_id,omitempty"`
	AppID         string `json:"app_id,omitempty"`
	// SyncType is an smb_app_data call's sync_type, as sent.
	SyncType string `json:"sync_type,omitempty"`
	// Status is the HTTP status the client got; ErrorCode/ErrorSubcode Graph's error in that
	// answer, if any.
	Status       int `json:"status"`
	ErrorCode    int `json:"error_code,omitempty"`
	ErrorSubcode int `json:"error_subcode,omitempty"`
	// Fault is the injected fault. FaultLostResponse: the call ran and its answer was lost,
	// so Accepted says what happened at "Meta"; any other fault: the call never ran.
	Fault FaultKind `json:"fault,omitempty"`
	// Accepted reports that the call took effect: the simulator's own answer was a 2xx, even
	// when a lost_response fault kept it from the client. For smb_app_data, that the sync was
	// recorded and its webhooks started; RequestID is the request_id Meta gave it.
	Accepted  bool   `json:"accepted"`
	RequestID string `json:"request_id,omitempty"`
	// AnsweredAt is the simulated time the answer was written (after any latency and
	// Options.BeforeAnswer); AnsweredWall the real one.
	AnsweredAt   time.Time `json:"answered_at"`
	AnsweredWall time.Time `json:"answered_wall"`
}

// OK reports whether the client got a success (HTTP 2xx).
func (c Call) OK() bool { return c.Status >= 200 && c.Status < 300 }

// AnswerLost reports whether the call took effect or was refused at "Meta" and the client
// never heard which: a lost_response fault.
func (c Call) AnswerLost() bool { return c.Fault == FaultLostResponse }

// FaultedBeforeEffect reports whether an injected fault answered the call before it ran.
func (c Call) FaultedBeforeEffect() bool { return c.Fault != "" && c.Fault != FaultLostResponse }

// CallFilter selects recorded calls; empty fields match everything.
type CallFilter struct {
	Name          string
	PhoneNumberID string
	WABAID        string
	AppID         string
	SyncType      string
	Status        int
	// OnlyOK keeps calls whose client got a 2xx; OnlyAccepted calls that took effect, their
	// answer lost or not.
	OnlyOK       bool
	OnlyAccepted bool
}

func (f CallFilter) match(c *Call) bool {
	return (f.Name == "" || f.Name == c.Name) &&
		(f.PhoneNumberID == "" || f.PhoneNumberID == c.PhoneNumberID) &&
		(f.WABAID == "" || f.WABAID == c.WABAID) &&
		(f.AppID == "" || f.AppID == c.AppID) &&
		(f.SyncType == "" || f.SyncType == c.SyncType) &&
		(f.Status == 0 || f.Status == c.Status) &&
		(!f.OnlyOK || c.OK()) && (!f.OnlyAccepted || c.Accepted)
}

// callLog keeps the most recent calls, bounded so a long demo does not grow without end.
type callLog struct {
	mu      sync.Mutex
	limit   int
	seq     uint64
	calls   []Call
	dropped uint64
}

func (l *callLog) add(c Call) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	c.Seq = l.seq
	if len(l.calls) >= l.limit {
		// Drop the oldest half at once so appends stay amortized O(1).
		n := len(l.calls) / 2
		l.dropped += uint64(n)
		l.calls = append(l.calls[:0], l.calls[n:]...)
	}
	l.calls = append(l.calls, c)
}

func (l *callLog) list(f CallFilter) []Call {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Call
	for i := range l.calls {
		if f.match(&l.calls[i]) {
			out = append(out, l.calls[i])
		}
	}
	return out
}
