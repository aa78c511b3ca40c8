// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graphsim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coex-operator/coex-operator/internal/webhook"
)

// Test fixtures: one app, one WABA, one number, and a receiver standing in for ours.
const (
	tApp    = "1001"
	tSecret = "app-secret-1001"
	tWABA   = "2001"
	tPhone  = "3001"
	tVerify = "verify-me"
)

var allFields = []string{webhook.FieldMessages, webhook.FieldEchoes, webhook.FieldStateSync,
	webhook.FieldHistory, webhook.FieldAccountUpdate}

// fixedStart keeps webhook bodies (entry.time) identical between runs.
var fixedStart = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// waitTimeout is generous: no test may fail on a slow machine.
const waitTimeout = 60 * time.Second

// receiver is a webhook endpoint: it answers the handshake and records every POST.
type receiver struct {
	*httptest.Server
	secret []byte

	mu     sync.Mutex
	posts  []post
	answer func(n int) int // status for the n-th POST (1-based); nil: 200
}

type post struct {
	body      []byte
	signature string
	ctype     string
	status    int
}

func newReceiver(t testing.TB, secret string) *receiver {
	rc := &receiver{secret: []byte(secret)}
	rc.Server = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		q := r.URL.Query()
		if q.Get("hub.mode") == "subscribe" && q.Get("hub.verify_token") == tVerify {
			_, _ = io.WriteString(w, q.Get("hub.challenge"))
			return
		}
		w.WriteHeader(http.StatusForbidden)
		return
	}
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	status := http.StatusOK
	if rc.answer != nil {
		status = rc.answer(len(rc.posts) + 1)
	}
	rc.posts = append(rc.posts, post{body: body, signature: r.Header.Get(webhook.SignatureHeader),
		ctype: r.Header.Get("Content-Type"), status: status})
	rc.mu.Unlock()
	w.WriteHeader(status)
}

func (rc *receiver) all() []post {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]post(nil), rc.posts...)
}

// delivered are the POSTs answered 200, in arrival order.
func (rc *receiver) delivered() []post {
	var out []post
	for _, p := range rc.all() {
		if p.status == http.StatusOK {
			out = append(out, p)
		}
	}
	return out
}

// env is a simulator served over HTTP with one app, number and token.
type env struct {
	t     testing.TB
	sim   *Sim
	graph *httptest.Server
	rcv   *receiver
	token string
	num   NumberInfo
}

func newEnv(t testing.TB, opts Options, sc Scenario, fields ...string) *env {
	t.Helper()
	if opts.Clock == nil {
		opts.Clock = NewClock(fixedStart)
	}
	if opts.Delivery.RetryBase == 0 {
		opts.Delivery.RetryBase, opts.Delivery.RetryMax = time.Millisecond, 5*time.Millisecond
	}
	if fields == nil {
		fields = allFields
	}
	sim := New(opts)
	t.Cleanup(sim.Close)
	graph := httptest.NewServer(sim.Handler())
	t.Cleanup(graph.Close)
	rcv := newReceiver(t, tSecret)
	must(t, sim.AddApp(AppSpec{ID: tApp, Secret: tSecret, CallbackURL: rcv.URL, Fields: fields}))
	num, err := sim.AddNumber(NumberSpec{AppID: tApp, WABAID: tWABA, PhoneNumberID: tPhone, Scenario: sc, SubscribeApp: true})
	must(t, err)
	tok, err := sim.IssueToken(TokenSpec{AppID: tApp, WABAIDs: []string{tWABA}})
	must(t, err)
	return &env{t: t, sim: sim, graph: graph, rcv: rcv, token: tok, num: num}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// response is a Graph answer.
type response struct {
	status int
	header http.Header
	raw    []byte
	json   map[string]any
}

// gerr is Graph's error object of r, or nil.
func (r response) gerr() map[string]any {
	e, _ := r.json["error"].(map[string]any)
	return e
}

func (r response) code() int {
	if e := r.gerr(); e != nil {
		return int(e["code"].(float64))
	}
	return 0
}

func (r response) subcode() int {
	if e := r.gerr(); e != nil {
		if v, ok := e["error_subcode"].(float64); ok {
			return int(v)
		}
	}
	return 0
}

func (r response) message() string {
	if e := r.gerr(); e != nil {
		return e["message"].(string)
	}
	return ""
}

// call makes a Graph call; body is JSON-encoded unless it is url.Values (a form).
func (e *env) call(method, path, token string, body any) response {
	e.t.Helper()
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case url.Values:
		rd, ctype = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		raw, err := json.Marshal(b)
		must(e.t, err)
		rd, ctype = bytes.NewReader(raw), "application/json"
	}
	req, err := http.NewRequest(method, e.graph.URL+path, rd)
	must(e.t, err)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	must(e.t, err)
	defer func() { _ = resp.Body.Close() }()
	raw, _ := io.ReadAll(resp.Body)
	r := response{status: resp.StatusCode, header: resp.Header, raw: raw}
	_ = json.Unmarshal(raw, &r.json)
	return r
}

func (e *env) requestSync(phone, syncType, token string) response {
	e.t.Helper()
	return e.call(http.MethodPost, "/v23.0/"+phone+"/smb_app_data", token,
		map[string]string{"messaging_product": "whatsapp", "sync_type": syncType})
}

func (e *env) waitIdle() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	must(e.t, e.sim.WaitIdle(ctx))
}

// expectError checks a Graph error's status, code and that its message holds every part.
func expectError(t testing.TB, r response, status, code int, parts ...string) {
	t.Helper()
	if r.status != status || r.code() != code {
		t.Fatalf("want HTTP %d code %d, got HTTP %d: %s", status, code, r.status, r.raw)
	}
	e := r.gerr()
	if e["type"] == "" || e["fbtrace_id"] == "" || e["fbtrace_id"] == nil {
		t.Fatalf("error lacks type or fbtrace_id: %s", r.raw)
	}
	for _, p := range parts {
		if !strings.Contains(r.message(), p) {
			t.Fatalf("error message %q lacks %q", r.message(), p)
		}
	}
}

// decoded is one webhook read strictly into the webhook package's types.
type decoded struct {
	env       webhook.Envelope
	field     string
	rawTime   json.RawMessage
	history   *webhook.HistoryValue
	stateSync *webhook.StateSyncValue
	echoes    *webhook.EchoesValue
	messages  *webhook.MessagesValue
	account   *webhook.AccountUpdateValue
}

func strict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data")
	}
	return nil
}

// decodeWebhook checks the signature and content type and decodes p strictly.
func decodeWebhook(t testing.TB, p post) decoded {
	t.Helper()
	if p.signature != webhook.Sign([]byte(tSecret), p.body) || !webhook.Verify([]byte(tSecret), p.body, p.signature) {
		t.Fatalf("bad signature %q", p.signature)
	}
	if p.ctype != "application/json" {
		t.Fatalf("content type %q", p.ctype)
	}
	var d decoded
	if err := strict(p.body, &d.env); err != nil {
		t.Fatalf("envelope: %v: %.300s", err, p.body)
	}
	var rawEnv struct {
		Entry []struct {
			Time json.RawMessage `json:"time"`
		} `json:"entry"`
	}
	must(t, json.Unmarshal(p.body, &rawEnv))
	if d.env.Object != webhook.ObjectWABA || len(d.env.Entry) != 1 || len(d.env.Entry[0].Changes) != 1 {
		t.Fatalf("envelope shape: %.300s", p.body)
	}
	d.rawTime = rawEnv.Entry[0].Time
	ch := d.env.Entry[0].Changes[0]
	d.field = ch.Field
	var err error
	switch ch.Field {
	case webhook.FieldHistory:
		d.history = new(webhook.HistoryValue)
		err = strict(ch.Value, d.history)
	case webhook.FieldStateSync:
		d.stateSync = new(webhook.StateSyncValue)
		err = strict(ch.Value, d.stateSync)
	case webhook.FieldEchoes:
		d.echoes = new(webhook.EchoesValue)
		err = strict(ch.Value, d.echoes)
	case webhook.FieldMessages:
		d.messages = new(webhook.MessagesValue)
		err = strict(ch.Value, d.messages)
	case webhook.FieldAccountUpdate:
		d.account = new(webhook.AccountUpdateValue)
		err = strict(ch.Value, d.account)
	default:
		t.Fatalf("unexpected field %q", ch.Field)
	}
	if err != nil {
		t.Fatalf("%s value: %v: %.300s", ch.Field, err, ch.Value)
	}
	return d
}

func decodeAll(t testing.TB, posts []post) []decoded {
	t.Helper()
	out := make([]decoded, 0, len(posts))
	for _, p := range posts {
		out = append(out, decodeWebhook(t, p))
	}
	return out
}
