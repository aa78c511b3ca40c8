// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graphsim

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// FaultKind is one way a Graph call can fail.
type FaultKind string

// Faults the simulator can inject into Graph calls.
const (
	// Fault429 is Graph's throttling answer: HTTP 429, code 4, is_transient, Retry-After.
	Fault429 FaultKind = "429"
	// Fault500 is HTTP 500 with Graph's JSON (code 1, is_transient).
	Fault500 FaultKind = "500"
	// Fault502 and Fault503 come from the proxies in front of Graph: a non-JSON body.
	Fault502 FaultKind = "502"
	Fault503 FaultKind = "503"
	// FaultLostResponse performs the call (with its side effects) and then loses the answer:
	// the client sees a 504 with a non-JSON body. By script, or by Faults.ShareLostResponse:
	// it is how a crash-safe client meets Meta's refusal of a repeat on its retry.
	FaultLostResponse FaultKind = "lost_response"
)

// FaultRule fails the next Times matching Graph calls with Kind. Empty Call or
// PhoneNumberID match any. Rules are tried in order before the random shares.
type FaultRule struct {
	Call          string    `json:"call,omitempty"`
	PhoneNumberID string    `json:"phone_number_id,omitempty"`
	Kind          FaultKind `json:"kind"`
	Times         int       `json:"times"`
}

// Faults configures fault injection into Graph calls (never into the control API). The random
// shares are drawn from the simulator's seed and the call's sequence number, so a run replays.
// A call failed by a share or a rule has no side effect, except a lost_response one.
type Faults struct {
	// Latency is added to every Graph call.
	Latency Duration `json:"latency,omitempty"`
	// Share429 and Share5xx are the fractions (0..1) of calls answered 429 or 5xx.
	Share429 float64 `json:"share_429,omitempty"`
	Share5xx float64 `json:"share_5xx,omitempty"`
	// ShareLostResponse is the fraction (0..1) of calls that take effect and then lose their
	// answer, as FaultLostResponse does.
	ShareLostResponse float64 `json:"share_lost_response,omitempty"`
	// RetryAfter is the Retry-After of a 429, in whole seconds (rounded up); default 1s.
	RetryAfter Duration `json:"retry_after,omitempty"`
	// Script holds deterministic, per-call faults.
	Script []FaultRule `json:"script,omitempty"`
}

// Validate refuses shares outside 0..1 or adding up to more than 1, where the bands that
// pick a fault would overlap.
func (f Faults) Validate() error {
	shares := []struct {
		name string
		v    float64
	}{{"share_429", f.Share429}, {"share_5xx", f.Share5xx}, {"share_lost_response", f.ShareLostResponse}}
	sum := 0.0
	for _, sh := range shares {
		if sh.v < 0 || sh.v > 1 {
			return fmt.Errorf("%s %v is not a fraction between 0 and 1", sh.name, sh.v)
		}
		sum += sh.v
	}
	if sum > 1 {
		return fmt.Errorf("share_429, share_5xx and share_lost_response add up to %v, more than 1", sum)
	}
	return nil
}

// faultInjector decides, per Graph call, whether and how it fails.
type faultInjector struct {
	mu   sync.Mutex
	cfg  Faults
	seed uint64
	seq  uint64
}

func (f *faultInjector) set(cfg Faults) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cfg.Script = append([]FaultRule(nil), cfg.Script...)
	f.cfg = cfg
}

func (f *faultInjector) get() Faults {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.cfg
	c.Script = append([]FaultRule(nil), c.Script...)
	return c
}

// decide returns the fault for the next call (empty for none), the latency to add and the
// Retry-After to announce.
func (f *faultInjector) decide(call, phone string) (FaultKind, time.Duration, time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	latency, retryAfter := f.cfg.Latency.D(), f.cfg.RetryAfter.D()
	if retryAfter <= 0 {
		retryAfter = time.Second
	}
	for i := range f.cfg.Script {
		r := &f.cfg.Script[i]
		if r.Times <= 0 || (r.Call != "" && r.Call != call) || (r.PhoneNumberID != "" && r.PhoneNumberID != phone) {
			continue
		}
		r.Times--
		return r.Kind, latency, retryAfter
	}
	h := hash(f.seed, 0xfa, f.seq)
	u := unit(h)
	switch {
	case u < f.cfg.Share429:
		return Fault429, latency, retryAfter
	case u < f.cfg.Share429+f.cfg.Share5xx:
		return []FaultKind{Fault500, Fault502, Fault503}[mix(h)%3], latency, retryAfter
	case u < f.cfg.Share429+f.cfg.Share5xx+f.cfg.ShareLostResponse:
		// After the older shares' bands, so adding this one replays old seeds unchanged.
		return FaultLostResponse, latency, retryAfter
	}
	return "", latency, retryAfter
}

// writeFault answers a faulted call the way Graph or its proxies do.
func (s *Sim) writeFault(q *graphRequest, kind FaultKind, retryAfter time.Duration) {
	q.call.Fault = kind
	switch kind {
	case Fault429:
		secs := int((retryAfter + time.Second - 1) / time.Second)
		q.w.Header().Set("Retry-After", strconv.Itoa(secs))
		s.writeGraphError(q, graphError{
			status: http.StatusTooManyRequests, code: 4, transient: true,
			message: "(#4) Application request limit reached",
		})
	case Fault500:
		s.writeGraphError(q, graphError{
			status: http.StatusInternalServerError, code: 1, transient: true,
			message: "An unknown error has occurred.",
		})
	case Fault502:
		writeText(q.w, http.StatusBadGateway, "text/html; charset=utf-8",
			"<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>\n")
	case Fault503:
		writeText(q.w, http.StatusServiceUnavailable, "text/plain; charset=utf-8", "Service Unavailable\n")
	default: // lost_response and anything unknown: the proxy gave up waiting
		writeText(q.w, http.StatusGatewayTimeout, "text/html; charset=utf-8",
			"<html><body><h1>504 Gateway Time-out</h1></body></html>\n")
	}
}

func writeText(w http.ResponseWriter, status int, contentType, body string) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}
