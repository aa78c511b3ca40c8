// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graphsim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// ControlEndpoints lists the control API, for --help and GET /_sim/.
var ControlEndpoints = []struct{ Route, Doc string }{
	{"POST /_sim/apps", `add an app: {"id","secret","name"?,"bare_token_response"?,"callback_url"?,"fields"?}`},
	{"POST /_sim/apps/{id}/subscriptions", `preset the app's webhook URL and fields, no handshake: {"callback_url","fields":[…]}`},
	{"POST /_sim/tokens", `issue a business token: {"app_id","waba_ids":[…],"value"?} → {"access_token"}`},
	{"POST /_sim/numbers", `add a number: {"app_id","waba_id","phone_number_id","scenario":{…},"subscribe_app"?} → number with signup_code`},
	{"GET /_sim/numbers/{id}", "a number: onboarding, syncs requested, expected totals"},
	{"POST /_sim/numbers/{id}/reonboard", "offboard and onboard again: new code, new 24 h window, syncs allowed again"},
	{"POST /_sim/numbers/{id}/events", `send a webhook: {"kind":"echo|inbound|edit|revoke|unsupported|account_update",…} → {"message_id"}`},
	{"POST /_sim/wabas/{id}/subscribed_apps", `subscribe an app to a WABA, no handshake: {"app_id","override_callback_uri"?}`},
	{"GET /_sim/clock", "the simulated time"},
	{"POST /_sim/clock/advance", `move the clock: {"by":"25h"}`},
	{"POST /_sim/clock/set", `set the clock: {"now":"2026-01-02T15:04:05Z"}`},
	{"GET /_sim/calls", "recorded Graph calls, oldest first; filters: name, phone_number_id, waba_id, app_id, sync_type, status, ok=true, accepted=true"},
	{"GET /_sim/stats", "webhook delivery stats"},
	{"GET /_sim/faults", "fault configuration"},
	{"PUT /_sim/faults", `replace it: {"latency":"50ms","share_429":0.1,"share_5xx":0.05,"share_lost_response":0.05,"retry_after":"1s","script":[{"call","kind","times"}]}`},
	{"GET /_sim/repeat-sync-answer", "how a repeated or late smb_app_data is refused"},
	{"PUT /_sim/repeat-sync-answer", `change it: {"repeat_sync_answer":"already|code-only|unknown"}`},
	{"POST /_sim/wait", "wait until no webhook is pending (?timeout=30s)"},
}

func (s *Sim) controlRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /_sim/{$}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, ControlEndpoints)
	})
	// Anything else under /_sim/ is a control API typo, never a Graph call.
	mux.HandleFunc("/_sim/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no control endpoint " + r.Method + " " + r.URL.Path})
	})
	mux.HandleFunc("POST /_sim/apps", control(func(r *http.Request, a AppSpec) (any, error) {
		return map[string]string{"id": a.ID}, s.AddApp(a)
	}))
	mux.HandleFunc("POST /_sim/apps/{id}/subscriptions", control(func(r *http.Request, b struct {
		CallbackURL string   `json:"callback_url"`
		Fields      []string `json:"fields"`
	}) (any, error) {
		return map[string]bool{"success": true}, s.SubscribeAppFields(r.PathValue("id"), b.CallbackURL, b.Fields...)
	}))
	mux.HandleFunc("POST /_sim/wabas/{id}/subscribed_apps", control(func(r *http.Request, b struct {
		AppID    string `json:"app_id"`
		Override string `json:"override_callback_uri"`
	}) (any, error) {
		return map[string]bool{"success": true}, s.SubscribeAppToWABA(b.AppID, r.PathValue("id"), b.Override)
	}))
	mux.HandleFunc("POST /_sim/tokens", control(func(r *http.Request, t TokenSpec) (any, error) {
		tok, err := s.IssueToken(t)
		return map[string]string{"access_token": tok}, err
	}))
	mux.HandleFunc("POST /_sim/numbers", control(func(r *http.Request, n NumberSpec) (any, error) {
		return s.AddNumber(n)
	}))
	mux.HandleFunc("GET /_sim/numbers/{id}", control(func(r *http.Request, _ struct{}) (any, error) {
		if n, ok := s.Number(r.PathValue("id")); ok {
			return n, nil
		}
		return nil, fmt.Errorf("%w: number %s", ErrNotFound, r.PathValue("id"))
	}))
	mux.HandleFunc("POST /_sim/numbers/{id}/reonboard", control(func(r *http.Request, _ struct{}) (any, error) {
		return s.Reonboard(r.PathValue("id"))
	}))
	mux.HandleFunc("POST /_sim/numbers/{id}/events", control(func(r *http.Request, e Event) (any, error) {
		e.PhoneNumberID = r.PathValue("id")
		id, err := s.Trigger(e)
		return map[string]string{"message_id": id}, err
	}))
	mux.HandleFunc("GET /_sim/clock", control(func(r *http.Request, _ struct{}) (any, error) {
		return map[string]time.Time{"now": s.clock.Now()}, nil
	}))
	mux.HandleFunc("POST /_sim/clock/advance", control(func(r *http.Request, b struct {
		By Duration `json:"by"`
	}) (any, error) {
		return map[string]time.Time{"now": s.clock.Advance(b.By.D())}, nil
	}))
	mux.HandleFunc("POST /_sim/clock/set", control(func(r *http.Request, b struct {
		Now time.Time `json:"now"`
	}) (any, error) {
		if b.Now.IsZero() {
			return nil, fmt.Errorf("now is required (RFC 3339)")
		}
		s.clock.Set(b.Now)
		return map[string]time.Time{"now": s.clock.Now()}, nil
	}))
	mux.HandleFunc("GET /_sim/calls", control(func(r *http.Request, _ struct{}) (any, error) {
		q := r.URL.Query()
		f := CallFilter{Name: q.Get("name"), PhoneNumberID: q.Get("phone_number_id"), WABAID: q.Get("waba_id"),
			AppID: q.Get("app_id"), SyncType: q.Get("sync_type"), OnlyOK: q.Get("ok") == "true",
			OnlyAccepted: q.Get("accepted") == "true"}
		if st := q.Get("status"); st != "" {
			var err error
			if f.Status, err = strconv.Atoi(st); err != nil {
				return nil, fmt.Errorf("status must be a number")
			}
		}
		calls := s.Calls(f)
		if calls == nil {
			calls = []Call{}
		}
		return map[string]any{"count": len(calls), "calls": calls}, nil
	}))
	mux.HandleFunc("GET /_sim/stats", control(func(r *http.Request, _ struct{}) (any, error) {
		return s.Stats(), nil
	}))
	mux.HandleFunc("GET /_sim/faults", control(func(r *http.Request, _ struct{}) (any, error) {
		return s.Faults(), nil
	}))
	setFaults := control(func(r *http.Request, f Faults) (any, error) {
		if err := f.Validate(); err != nil {
			return nil, err
		}
		s.SetFaults(f)
		return s.Faults(), nil
	})
	mux.HandleFunc("PUT /_sim/faults", setFaults)
	mux.HandleFunc("POST /_sim/faults", setFaults)
	type repeatBody struct {
		RepeatSyncAnswer RepeatAnswer `json:"repeat_sync_answer"`
	}
	mux.HandleFunc("GET /_sim/repeat-sync-answer", control(func(r *http.Request, _ struct{}) (any, error) {
		return repeatBody{s.RepeatSyncAnswer()}, nil
	}))
	setRepeat := control(func(r *http.Request, b repeatBody) (any, error) {
		if err := s.SetRepeatSyncAnswer(b.RepeatSyncAnswer); err != nil {
			return nil, err
		}
		return repeatBody{s.RepeatSyncAnswer()}, nil
	})
	mux.HandleFunc("PUT /_sim/repeat-sync-answer", setRepeat)
	mux.HandleFunc("POST /_sim/repeat-sync-answer", setRepeat)
	mux.HandleFunc("POST /_sim/wait", control(func(r *http.Request, _ struct{}) (any, error) {
		timeout := 30 * time.Second
		if t := r.URL.Query().Get("timeout"); t != "" {
			d, err := time.ParseDuration(t)
			if err != nil {
				return nil, fmt.Errorf("timeout: %w", err)
			}
			timeout = d
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		if err := s.WaitIdle(ctx); err != nil {
			return nil, errTimeout
		}
		return map[string]bool{"idle": true}, nil
	}))
}

var errTimeout = errors.New("timed out waiting for pending webhooks")

// control adapts a typed handler: it decodes the body strictly (typos in a scenario should
// fail loudly) and writes the result or {"error": …}.
func control[T any](h func(*http.Request, T) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var in T
		if r.Body != nil && r.ContentLength != 0 && r.Method != http.MethodGet {
			dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&in); err != nil && !errors.Is(err, io.EOF) {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body: " + err.Error()})
				return
			}
		}
		out, err := h(r, in)
		switch {
		case errors.Is(err, ErrNotFound):
			writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
		case errors.Is(err, errTimeout):
			writeJSON(w, http.StatusGatewayTimeout, map[string]string{"error": err.Error()})
		case err != nil:
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		default:
			writeJSON(w, http.StatusOK, out)
		}
	}
}
