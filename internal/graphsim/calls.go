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
	// Status is the HTTP status returned; ErrorCode/ErrorSubcode Graph's error, if any.
	Status       int       `json:"status"`
	ErrorCode    int       `json:"error_code,omitempty"`
	ErrorSubcode int       `json:"error_subcode,omitempty"`
	Fault        FaultKind `json:"fault,omitempty"`
}

// OK reports whether the call succeeded (HTTP 2xx).
func (c Call) OK() bool { return c.Status >= 200 && c.Status < 300 }

// CallFilter selects recorded calls; empty fields match everything.
type CallFilter struct {
	Name          string
	PhoneNumberID string
	WABAID        string
	AppID         string
	Status        int
	// OnlyOK keeps successful (2xx) calls only.
	OnlyOK bool
}

func (f CallFilter) match(c *Call) bool {
	return (f.Name == "" || f.Name == c.Name) &&
		(f.PhoneNumberID == "" || f.PhoneNumberID == c.PhoneNumberID) &&
		(f.WABAID == "" || f.WABAID == c.WABAID) &&
		(f.AppID == "" || f.AppID == c.AppID) &&
		(f.Status == 0 || f.Status == c.Status) &&
		(!f.OnlyOK || c.OK())
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
