// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package ingest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/coex-operator/coex-operator/internal/webhook"

	"github.com/coex-operator/coex-operator/internal/receiver/internal/receivertest"
	"github.com/coex-operator/coex-operator/internal/receiver/store"
	"github.com/coex-operator/coex-operator/internal/receiver/store/bolt"
)

var (
	appSecret    = []byte("current-app-secret")
	oldAppSecret = []byte("previous-app-secret")
	verifyToken  = []byte("verify-me")
)

// fakeCreds is a CredentialSource of fixed answers per "namespace/app"; an app it does not
// know is ErrUnknownApp.
type fakeCreds struct {
	mu   sync.Mutex
	apps map[string]Credentials
	errs map[string]error
}

func (f *fakeCreds) Credentials(_ context.Context, ns, app string) (Credentials, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.errs[ns+"/"+app]; err != nil {
		return Credentials{}, err
	}
	c, ok := f.apps[ns+"/"+app]
	if !ok {
		return Credentials{}, ErrUnknownApp
	}
	return c, nil
}

// testCreds knows tenant/shop-app (current secret only) and tenant/locked, whose Secret
// cannot be read.
func testCreds() *fakeCreds {
	return &fakeCreds{
		apps: map[string]Credentials{
			receivertest.NS + "/" + receivertest.App: {AppSecrets: [][]byte{appSecret}, VerifyToken: verifyToken},
		},
		errs: map[string]error{
			receivertest.NS + "/locked": fmt.Errorf("%w: app secret: secret tenant/meta not found", ErrNoCredentials),
		},
	}
}

// webhookServer is a Server over a real bolt store, served by httptest.
type webhookServer struct {
	*httptest.Server
	spool   *bolt.Store
	metrics *Metrics
	clock   *receivertest.Clock
	// seen records, per request the handler got, its Content-Length and transfer encoding.
	mu   sync.Mutex
	seen []seenRequest
}

type seenRequest struct {
	contentLength    int64
	transferEncoding []string
}

func newWebhookServer(t *testing.T, creds CredentialSource, maxBody int64) *webhookServer {
	t.Helper()
	ws := &webhookServer{spool: receivertest.NewStore(t), metrics: NewMetrics(nil), clock: receivertest.NewClock()}
	srv := NewServer(Options{Inbox: ws.spool, Credentials: creds, Metrics: ws.metrics,
		MaxBodyBytes: maxBody, Now: ws.clock.Now})
	ws.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws.mu.Lock()
		ws.seen = append(ws.seen, seenRequest{r.ContentLength, r.TransferEncoding})
		ws.mu.Unlock()
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(ws.Close)
	return ws
}

func (ws *webhookServer) lastSeen() seenRequest {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return ws.seen[len(ws.seen)-1]
}

// post sends body to /webhooks/ns/app with the signature header (none when sig is "") and
// returns the status and response body. chunked hides the length, so the client sends
// Transfer-Encoding: chunked.
func (ws *webhookServer) post(t *testing.T, ns, app string, body []byte, sig string, chunked bool) (int, string) {
	t.Helper()
	var rd io.Reader = bytes.NewReader(body)
	if chunked {
		rd = io.MultiReader(rd) // not a type net/http can size
	}
	req, err := http.NewRequest(http.MethodPost, ws.URL+"/webhooks/"+ns+"/"+app, rd)
	if err != nil {
		t.Fatal(err)
	}
	if chunked {
		req.ContentLength = -1
	}
	req.Header.Set("Content-Type", "application/json")
	if sig != "" {
		req.Header.Set(webhook.SignatureHeader, sig)
	}
	resp, err := ws.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (ws *webhookServer) spooled(t *testing.T) []store.Record {
	t.Helper()
	return receivertest.Spooled(t, ws.spool)
}

func (ws *webhookServer) requests(result string) float64 {
	return testutil.ToFloat64(ws.metrics.Requests.WithLabelValues(result))
}

func handshakeQuery(mode, token, challenge string) string {
	q := url.Values{}
	if mode != "" {
		q.Set("hub.mode", mode)
	}
	if token != "" {
		q.Set("hub.verify_token", token)
	}
	q.Set("hub.challenge", challenge)
	return q.Encode()
}

func TestHandshake(t *testing.T) {
	const challenge = "1158201444"
	tests := []struct {
		name       string
		path       string
		query      string
		wantStatus int
		wantResult string
	}{
		{"right token", "/webhooks/tenant/shop-app", handshakeQuery("subscribe", "verify-me", challenge), 200, "handshake_ok"},
		{"wrong token", "/webhooks/tenant/shop-app", handshakeQuery("subscribe", "verify-you", challenge), 403, "handshake_refused"},
		{"token prefix", "/webhooks/tenant/shop-app", handshakeQuery("subscribe", "verify", challenge), 403, "handshake_refused"},
		{"no token", "/webhooks/tenant/shop-app", handshakeQuery("subscribe", "", challenge), 403, "handshake_refused"},
		{"wrong mode", "/webhooks/tenant/shop-app", handshakeQuery("unsubscribe", "verify-me", challenge), 403, "handshake_refused"},
		{"no mode", "/webhooks/tenant/shop-app", handshakeQuery("", "verify-me", challenge), 403, "handshake_refused"},
		{"unknown app", "/webhooks/tenant/nobody", handshakeQuery("subscribe", "verify-me", challenge), 404, "unknown_app"},
		{"unknown namespace", "/webhooks/elsewhere/shop-app", handshakeQuery("subscribe", "verify-me", challenge), 404, "unknown_app"},
		{"credentials not readable", "/webhooks/tenant/locked", handshakeQuery("subscribe", "verify-me", challenge), 503, "no_secret"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ws := newWebhookServer(t, testCreds(), 0)
			resp, err := ws.Client().Get(ws.URL + tc.path + "?" + tc.query)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status = %d (%s), want %d", resp.StatusCode, body, tc.wantStatus)
			}
			if tc.wantStatus == 200 {
				if string(body) != challenge {
					t.Errorf("body = %q, want the challenge %q alone", body, challenge)
				}
			} else if strings.Contains(string(body), challenge) {
				t.Errorf("a refused handshake echoed the challenge: %q", body)
			}
			if got := ws.requests(tc.wantResult); got != 1 {
				t.Errorf("requests_total{result=%q} = %v, want 1", tc.wantResult, got)
			}
			if ws.spool.LastSeq() != 0 {
				t.Error("a handshake spooled something")
			}
		})
	}
}

func TestHandshakeRefusedWhenNoVerifyTokenConfigured(t *testing.T) {
	creds := &fakeCreds{apps: map[string]Credentials{"ns/app": {AppSecrets: [][]byte{appSecret}}}}
	ws := newWebhookServer(t, creds, 0)
	// An empty configured token must not match an empty (absent) hub.verify_token.
	resp, err := ws.Client().Get(ws.URL + "/webhooks/ns/app?hub.mode=subscribe&hub.verify_token=&hub.challenge=42")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("status = %d, want 403", resp.StatusCode)
	}
}

func TestDeliverSpoolsExactlyTheSignedBody(t *testing.T) {
	ws := newWebhookServer(t, testCreds(), 0)
	// Meta's bytes, whitespace and key order included, are what is kept.
	body := receivertest.ReadTestdata(t, "history_shared.json")
	status, resp := ws.post(t, receivertest.NS, receivertest.App, body, webhook.Sign(appSecret, body), false)
	if status != http.StatusOK {
		t.Fatalf("status = %d (%s), want 200", status, resp)
	}
	recs := ws.spooled(t)
	if len(recs) != 1 {
		t.Fatalf("%d records spooled, want 1", len(recs))
	}
	r := recs[0]
	if !bytes.Equal(r.Body, body) {
		t.Errorf("spooled body differs from the body sent (%d vs %d bytes)", len(r.Body), len(body))
	}
	if r.Namespace != receivertest.NS || r.App != receivertest.App {
		t.Errorf("spooled route = %s/%s, want %s/%s", r.Namespace, r.App, receivertest.NS, receivertest.App)
	}
	if !r.ReceivedAt.Equal(ws.clock.Now()) {
		t.Errorf("ReceivedAt = %v, want the server clock's %v", r.ReceivedAt, ws.clock.Now())
	}
	if got := ws.requests("accepted"); got != 1 {
		t.Errorf("requests_total{accepted} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(ws.metrics.Bytes); got != float64(len(body)) {
		t.Errorf("bytes_total = %v, want %d", got, len(body))
	}
	if got := testutil.ToFloat64(ws.metrics.SignatureFailures); got != 0 {
		t.Errorf("signature_failures_total = %v, want 0", got)
	}
}

func TestDeliverTwoBodiesBackToBackAreKeptApart(t *testing.T) {
	// The server reuses its read buffers: a second body must not overwrite the first.
	ws := newWebhookServer(t, testCreds(), 0)
	long := receivertest.ReadTestdata(t, "history_shared.json")
	short := receivertest.ReadTestdata(t, "account_offboarded.json")
	for _, b := range [][]byte{long, short} {
		if status, resp := ws.post(t, receivertest.NS, receivertest.App, b, webhook.Sign(appSecret, b), false); status != 200 {
			t.Fatalf("status = %d (%s)", status, resp)
		}
	}
	recs := ws.spooled(t)
	if len(recs) != 2 || !bytes.Equal(recs[0].Body, long) || !bytes.Equal(recs[1].Body, short) {
		t.Fatalf("spooled %q, want the two bodies as sent", receivertest.RecordBodies(recs))
	}
}

func TestDeliverRefusesBadSignatures(t *testing.T) {
	body := receivertest.ReadTestdata(t, "echoes.json")
	tampered := bytes.Replace(body, []byte("shipped"), []byte("shopped"), 1)
	goodSig := webhook.Sign(appSecret, body)
	tests := []struct {
		name string
		sig  string
	}{
		{"missing", ""},
		{"another secret", webhook.Sign([]byte("not-the-app-secret"), body)},
		{"another body", webhook.Sign(appSecret, tampered)},
		{"no sha256= prefix", strings.TrimPrefix(goodSig, "sha256=")},
		{"sha1 prefix", "sha1=" + strings.TrimPrefix(goodSig, "sha256=")},
		{"truncated", goodSig[:len(goodSig)-2]},
		{"prefix only", "sha256="},
		{"not hex", "sha256=" + strings.Repeat("zz", 32)},
		{"the verify token as secret", webhook.Sign(verifyToken, body)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ws := newWebhookServer(t, testCreds(), 0)
			status, _ := ws.post(t, receivertest.NS, receivertest.App, body, tc.sig, false)
			if status != http.StatusUnauthorized {
				t.Errorf("status = %d, want 401", status)
			}
			if n := len(ws.spooled(t)); n != 0 || ws.spool.LastSeq() != 0 {
				t.Errorf("%d records spooled (last seq %d), want none", n, ws.spool.LastSeq())
			}
			if got := testutil.ToFloat64(ws.metrics.SignatureFailures); got != 1 {
				t.Errorf("signature_failures_total = %v, want 1", got)
			}
			if got := ws.requests("bad_signature"); got != 1 {
				t.Errorf("requests_total{bad_signature} = %v, want 1", got)
			}
		})
	}
}

func TestDeliverAcceptsEitherSecretDuringRotation(t *testing.T) {
	creds := &fakeCreds{apps: map[string]Credentials{
		receivertest.NS + "/" + receivertest.App: {AppSecrets: [][]byte{appSecret, oldAppSecret}, VerifyToken: verifyToken},
	}}
	ws := newWebhookServer(t, creds, 0)
	a, b := []byte(`{"signed":"new"}`), []byte(`{"signed":"old"}`)
	for _, d := range []struct {
		body   []byte
		secret []byte
	}{{a, appSecret}, {b, oldAppSecret}} {
		if status, resp := ws.post(t, receivertest.NS, receivertest.App, d.body, webhook.Sign(d.secret, d.body), false); status != 200 {
			t.Errorf("body signed with %q: status = %d (%s), want 200", d.secret, status, resp)
		}
	}
	if got := receivertest.RecordBodies(ws.spooled(t)); !slices.Equal(got, []string{string(a), string(b)}) {
		t.Errorf("spooled %q", got)
	}
}

func TestDeliverWithoutUsableCredentials(t *testing.T) {
	body := []byte(`{"object":"whatsapp_business_account"}`)
	tests := []struct {
		name, ns, app string
		wantStatus    int
		wantResult    string
	}{
		{"unknown app", receivertest.NS, "nobody", 404, "unknown_app"},
		{"secret not readable", receivertest.NS, "locked", 503, "no_secret"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ws := newWebhookServer(t, testCreds(), 0)
			status, _ := ws.post(t, tc.ns, tc.app, body, webhook.Sign(appSecret, body), false)
			if status != tc.wantStatus {
				t.Errorf("status = %d, want %d", status, tc.wantStatus)
			}
			if ws.spool.LastSeq() != 0 {
				t.Error("spooled a webhook that could not be checked")
			}
			if got := ws.requests(tc.wantResult); got != 1 {
				t.Errorf("requests_total{%s} = %v, want 1", tc.wantResult, got)
			}
			if got := testutil.ToFloat64(ws.metrics.SignatureFailures); got != 0 {
				t.Errorf("signature_failures_total = %v, want 0: the signature was never checked", got)
			}
		})
	}
}

func TestDeliverBodySizeLimit(t *testing.T) {
	const limit = 1024
	sized := func(n int) []byte {
		b := []byte(`{"object":"whatsapp_business_account","pad":"`)
		b = append(b, bytes.Repeat([]byte("x"), n-len(b)-2)...)
		return append(b, `"}`...)
	}
	tests := []struct {
		name       string
		size       int
		chunked    bool
		wantStatus int
	}{
		{"at the limit with Content-Length", limit, false, 200},
		{"at the limit chunked", limit, true, 200},
		{"one byte over with Content-Length", limit + 1, false, 413},
		{"one byte over chunked", limit + 1, true, 413},
		{"far over chunked", 64 * limit, true, 413},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ws := newWebhookServer(t, testCreds(), limit)
			body := sized(tc.size)
			status, resp := ws.post(t, receivertest.NS, receivertest.App, body, webhook.Sign(appSecret, body), tc.chunked)
			if status != tc.wantStatus {
				t.Fatalf("status = %d (%s), want %d", status, resp, tc.wantStatus)
			}
			seen := ws.lastSeen()
			if tc.chunked && (seen.contentLength != -1 || !slices.Equal(seen.transferEncoding, []string{"chunked"})) {
				t.Fatalf("the request was not chunked: Content-Length %d, Transfer-Encoding %v", seen.contentLength, seen.transferEncoding)
			}
			if !tc.chunked && seen.contentLength != int64(tc.size) {
				t.Fatalf("Content-Length = %d, want %d", seen.contentLength, tc.size)
			}
			wantSpooled := 0
			if tc.wantStatus == 200 {
				wantSpooled = 1
			}
			if n := len(ws.spooled(t)); n != wantSpooled {
				t.Errorf("%d records spooled, want %d", n, wantSpooled)
			}
			if tc.wantStatus == 413 {
				if got := ws.requests("too_large"); got != 1 {
					t.Errorf("requests_total{too_large} = %v, want 1", got)
				}
				if got := testutil.ToFloat64(ws.metrics.SignatureFailures); got != 0 {
					t.Errorf("signature_failures_total = %v, want 0", got)
				}
			}
		})
	}
}

func TestUnknownRoutes(t *testing.T) {
	srv := NewServer(Options{Inbox: receivertest.NewStore(t), Credentials: testCreds(), Metrics: NewMetrics(nil)})
	tests := []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/", 404},
		{http.MethodGet, "/webhooks", 404},
		{http.MethodGet, "/webhooks/tenant", 404},
		{http.MethodPost, "/webhooks/tenant", 404},
		{http.MethodGet, "/webhooks/tenant/shop-app/extra", 404},
		{http.MethodPost, "/hooks/tenant/shop-app", 404},
		{http.MethodPut, "/webhooks/tenant/shop-app", 405},
		{http.MethodDelete, "/webhooks/tenant/shop-app", 405},
		{http.MethodPatch, "/webhooks/tenant/shop-app", 405},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			rr := httptest.NewRecorder()
			srv.ServeHTTP(rr, httptest.NewRequest(tc.method, tc.path, strings.NewReader("{}")))
			if rr.Code != tc.want {
				t.Errorf("status = %d, want %d", rr.Code, tc.want)
			}
		})
	}
}

func TestDeliverWhenSpoolClosedAnswers503(t *testing.T) {
	spool, err := bolt.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := spool.Close(); err != nil {
		t.Fatal(err)
	}
	srv := NewServer(Options{Inbox: spool, Credentials: testCreds(), Metrics: NewMetrics(nil)})
	body := []byte(`{"object":"whatsapp_business_account"}`)
	for i := range 10 {
		req := httptest.NewRequest(http.MethodPost, "/webhooks/tenant/shop-app", bytes.NewReader(body))
		req.Header.Set(webhook.SignatureHeader, webhook.Sign(appSecret, body))
		rr := httptest.NewRecorder()
		done := make(chan struct{})
		go func() { defer close(done); srv.ServeHTTP(rr, req) }()
		select {
		case <-done:
		case <-time.After(time.Second):
			// The handler stays blocked; nothing else uses rr.
			t.Fatal("BUG: with the spool closed (shutdown), a POST hangs instead of answering 503: the server " +
				"calls Spool.AppendEncoded, which can queue the request after commitLoop has exited and then waits " +
				"for it forever (see spoolCloseBug in spool_test.go); attempt " + strconv.Itoa(i))
		}
		if rr.Code != http.StatusServiceUnavailable {
			t.Fatalf("status = %d, want 503", rr.Code)
		}
	}
}
