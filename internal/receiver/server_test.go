// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package receiver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/coex-operator/coex-operator/api/v1alpha1"
	"github.com/coex-operator/coex-operator/internal/webhook"

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
			testNS + "/" + testApp: {AppSecrets: [][]byte{appSecret}, VerifyToken: verifyToken},
		},
		errs: map[string]error{
			testNS + "/locked": fmt.Errorf("%w: app secret: secret tenant/meta not found", ErrNoCredentials),
		},
	}
}

// webhookServer is a Server over a real bolt store, served by httptest.
type webhookServer struct {
	*httptest.Server
	spool   *bolt.Store
	metrics *Metrics
	clock   *testClock
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
	ws := &webhookServer{spool: newTestStore(t), metrics: NewMetrics(nil), clock: newTestClock()}
	srv := NewServer(ServerOptions{Inbox: ws.spool, Credentials: creds, Metrics: ws.metrics,
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

func (ws *webhookServer) spooled(t *testing.T) []Record {
	t.Helper()
	b, err := ws.spool.Claim(context.Background(), 1000, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	if b == nil {
		return nil
	}
	defer b.Release()
	return b.Records()
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
	body := readTestdata(t, "history_shared.json")
	status, resp := ws.post(t, testNS, testApp, body, webhook.Sign(appSecret, body), false)
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
	if r.Namespace != testNS || r.App != testApp {
		t.Errorf("spooled route = %s/%s, want %s/%s", r.Namespace, r.App, testNS, testApp)
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
	long := readTestdata(t, "history_shared.json")
	short := readTestdata(t, "account_offboarded.json")
	for _, b := range [][]byte{long, short} {
		if status, resp := ws.post(t, testNS, testApp, b, webhook.Sign(appSecret, b), false); status != 200 {
			t.Fatalf("status = %d (%s)", status, resp)
		}
	}
	recs := ws.spooled(t)
	if len(recs) != 2 || !bytes.Equal(recs[0].Body, long) || !bytes.Equal(recs[1].Body, short) {
		t.Fatalf("spooled %q, want the two bodies as sent", recordBodies(recs))
	}
}

func TestDeliverRefusesBadSignatures(t *testing.T) {
	body := readTestdata(t, "echoes.json")
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
			status, _ := ws.post(t, testNS, testApp, body, tc.sig, false)
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
		testNS + "/" + testApp: {AppSecrets: [][]byte{appSecret, oldAppSecret}, VerifyToken: verifyToken},
	}}
	ws := newWebhookServer(t, creds, 0)
	a, b := []byte(`{"signed":"new"}`), []byte(`{"signed":"old"}`)
	for _, d := range []struct {
		body   []byte
		secret []byte
	}{{a, appSecret}, {b, oldAppSecret}} {
		if status, resp := ws.post(t, testNS, testApp, d.body, webhook.Sign(d.secret, d.body), false); status != 200 {
			t.Errorf("body signed with %q: status = %d (%s), want 200", d.secret, status, resp)
		}
	}
	if got := recordBodies(ws.spooled(t)); !slices.Equal(got, []string{string(a), string(b)}) {
		t.Errorf("spooled %q", got)
	}
}

// kubeRotationCreds answers with a Kube's rotation of a secret the test changes, as
// Kube.Credentials does after reading the Secret.
type kubeRotationCreds struct {
	kube   *Kube
	mu     sync.Mutex
	secret []byte
}

func (c *kubeRotationCreds) set(secret []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.secret = secret
}

func (c *kubeRotationCreds) Credentials(_ context.Context, ns, app string) (Credentials, error) {
	c.mu.Lock()
	secret := c.secret
	c.mu.Unlock()
	return Credentials{AppSecrets: c.kube.rotation(ns+"/"+app, secret), VerifyToken: verifyToken}, nil
}

func TestDeliverPreviousSecretOnlyWithinGrace(t *testing.T) {
	clock := newTestClock()
	creds := &kubeRotationCreds{kube: &Kube{RotationGrace: 10 * time.Minute, Now: clock.Now}, secret: oldAppSecret}
	ws := newWebhookServer(t, creds, 0)
	send := func(body string, secret []byte) int {
		status, _ := ws.post(t, testNS, testApp, []byte(body), webhook.Sign(secret, []byte(body)), false)
		return status
	}
	if s := send(`{"n":1}`, oldAppSecret); s != 200 {
		t.Fatalf("before the rotation: status = %d, want 200", s)
	}
	creds.set(appSecret) // the Secret is rotated
	if s := send(`{"n":2}`, appSecret); s != 200 {
		t.Errorf("new secret right after the rotation: status = %d, want 200", s)
	}
	clock.Advance(9 * time.Minute)
	if s := send(`{"n":3}`, oldAppSecret); s != 200 {
		t.Errorf("previous secret within the grace: status = %d, want 200", s)
	}
	clock.Advance(time.Minute)
	if s := send(`{"n":4}`, oldAppSecret); s != http.StatusUnauthorized {
		t.Errorf("previous secret after the grace: status = %d, want 401", s)
	}
	if s := send(`{"n":5}`, appSecret); s != 200 {
		t.Errorf("new secret after the grace: status = %d, want 200", s)
	}
	if got := recordBodies(ws.spooled(t)); !slices.Equal(got, []string{`{"n":1}`, `{"n":2}`, `{"n":3}`, `{"n":5}`}) {
		t.Errorf("spooled %q, want all but the one signed with the expired secret", got)
	}
	if got := testutil.ToFloat64(ws.metrics.SignatureFailures); got != 1 {
		t.Errorf("signature_failures_total = %v, want 1", got)
	}
}

func TestDeliverWithoutUsableCredentials(t *testing.T) {
	body := []byte(`{"object":"whatsapp_business_account"}`)
	tests := []struct {
		name, ns, app string
		wantStatus    int
		wantResult    string
	}{
		{"unknown app", testNS, "nobody", 404, "unknown_app"},
		{"secret not readable", testNS, "locked", 503, "no_secret"},
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
			status, resp := ws.post(t, testNS, testApp, body, webhook.Sign(appSecret, body), tc.chunked)
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
	srv := NewServer(ServerOptions{Inbox: newTestStore(t), Credentials: testCreds(), Metrics: NewMetrics(nil)})
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
	srv := NewServer(ServerOptions{Inbox: spool, Credentials: testCreds(), Metrics: NewMetrics(nil)})
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
				"for it forever (see spoolCloseBug in spool_test.go); attempt " + itoa(i))
		}
		if rr.Code != http.StatusServiceUnavailable {
			t.Fatalf("status = %d, want 503", rr.Code)
		}
	}
}

// --- Kube ---

func TestKubeRotation(t *testing.T) {
	a, b, c := []byte("secret-a"), []byte("secret-b"), []byte("secret-c")
	type step struct {
		advance time.Duration
		key     string
		current []byte
		want    [][]byte
	}
	tests := []struct {
		name  string
		grace time.Duration
		steps []step
	}{
		{"first sight has no previous", time.Minute, []step{
			{0, "ns/app", a, [][]byte{a}},
			{time.Hour, "ns/app", a, [][]byte{a}},
		}},
		{"previous valid within the grace, not at its end", 10 * time.Minute, []step{
			{0, "ns/app", a, [][]byte{a}},
			{time.Hour, "ns/app", b, [][]byte{b, a}}, // changed now
			{10*time.Minute - time.Nanosecond, "ns/app", b, [][]byte{b, a}},
			{time.Nanosecond, "ns/app", b, [][]byte{b}},
			{time.Hour, "ns/app", b, [][]byte{b}},
		}},
		{"default grace is 15 minutes", 0, []step{
			{0, "ns/app", a, [][]byte{a}},
			{0, "ns/app", b, [][]byte{b, a}},
			{14 * time.Minute, "ns/app", b, [][]byte{b, a}},
			{time.Minute, "ns/app", b, [][]byte{b}},
		}},
		{"a second rotation forgets the oldest and restarts the grace", 10 * time.Minute, []step{
			{0, "ns/app", a, [][]byte{a}},
			{0, "ns/app", b, [][]byte{b, a}},
			{5 * time.Minute, "ns/app", c, [][]byte{c, b}},
			{9 * time.Minute, "ns/app", c, [][]byte{c, b}},
			{time.Minute, "ns/app", c, [][]byte{c}},
		}},
		{"rotating back is a rotation too", 10 * time.Minute, []step{
			{0, "ns/app", a, [][]byte{a}},
			{0, "ns/app", b, [][]byte{b, a}},
			{time.Minute, "ns/app", a, [][]byte{a, b}},
		}},
		{"apps rotate independently", 10 * time.Minute, []step{
			{0, "ns/one", a, [][]byte{a}},
			{0, "ns/two", b, [][]byte{b}}, // another app's first sight, not a rotation
			{0, "ns/one", c, [][]byte{c, a}},
			{0, "other/one", a, [][]byte{a}},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newTestClock()
			k := &Kube{RotationGrace: tc.grace, Now: clock.Now}
			for i, st := range tc.steps {
				clock.Advance(st.advance)
				got := k.rotation(st.key, st.current)
				if !slices.EqualFunc(got, st.want, bytes.Equal) {
					t.Fatalf("step %d: rotation(%s, %s) = %q, want %q", i, st.key, st.current, got, st.want)
				}
			}
		})
	}
}

// objectReader is a client.Reader over fixed objects (MetaApps, Secrets, CoexNumbers).
type objectReader struct {
	client.Reader
	mu   sync.Mutex
	objs map[string]client.Object // "<kind>/<namespace>/<name>"
	err  error                    // returned by every Get when set
}

func objKey(obj client.Object, nn types.NamespacedName) string {
	return fmt.Sprintf("%T/%s/%s", obj, nn.Namespace, nn.Name)
}

func newObjectReader(objs ...client.Object) *objectReader {
	r := &objectReader{objs: map[string]client.Object{}}
	for _, o := range objs {
		r.objs[objKey(o, types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()})] = o
	}
	return r
}

func (r *objectReader) Get(_ context.Context, nn types.NamespacedName, obj client.Object, _ ...client.GetOption) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	o, ok := r.objs[objKey(obj, nn)]
	if !ok {
		return apierrors.NewNotFound(schema.GroupResource{Resource: fmt.Sprintf("%T", obj)}, nn.Name)
	}
	switch dst := obj.(type) {
	case *v1.MetaApp:
		o.(*v1.MetaApp).DeepCopyInto(dst)
	case *v1.CoexNumber:
		o.(*v1.CoexNumber).DeepCopyInto(dst)
	case *corev1.Secret:
		o.(*corev1.Secret).DeepCopyInto(dst)
	default:
		return fmt.Errorf("objectReader cannot get %T", obj)
	}
	return nil
}

func secret(ns, name string, data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

func TestKubeCredentials(t *testing.T) {
	app := &v1.MetaApp{ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: testApp}, Spec: v1.MetaAppSpec{
		AppID:          "123",
		AppSecretRef:   v1.SecretKeySelector{Name: "meta", Key: "appSecret"},
		VerifyTokenRef: v1.SecretKeySelector{Name: "meta", Key: "verifyToken"},
	}}
	tests := []struct {
		name       string
		objs       []client.Object
		readerErr  error
		wantErr    error // nil: success
		notErr     error // the error must not be this one
		wantSecret string
	}{
		{"both keys readable", []client.Object{app, secret(testNS, "meta", map[string]string{"appSecret": "s3cret", "verifyToken": "tok"})},
			nil, nil, nil, "s3cret"},
		{"no MetaApp", nil, nil, ErrUnknownApp, nil, ""},
		{"a previous app secret kept beside it", []client.Object{app, secret(testNS, "meta", map[string]string{
			"appSecret": "s3cret", "appSecret.previous": "old", "verifyToken": "tok"})}, nil, nil, nil, "s3cret"},
		{"no Secret", []client.Object{app}, nil, ErrNoCredentials, nil, ""},
		{"no app secret key", []client.Object{app, secret(testNS, "meta", map[string]string{"verifyToken": "tok"})},
			nil, ErrNoCredentials, nil, ""},
		{"empty verify token", []client.Object{app, secret(testNS, "meta", map[string]string{"appSecret": "s", "verifyToken": ""})},
			nil, ErrNoCredentials, nil, ""},
		{"API error is neither unknown app nor a 404", []client.Object{app}, errors.New("cache not synced"),
			errors.New("any"), ErrUnknownApp, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newObjectReader(tc.objs...)
			r.err = tc.readerErr
			k := &Kube{Reader: r}
			creds, err := k.Credentials(context.Background(), testNS, testApp)
			switch {
			case tc.wantErr == nil:
				if err != nil {
					t.Fatal(err)
				}
				want := 1
				if strings.Contains(tc.name, "previous") {
					want = 2 // the current one first, then "<key>.previous"
				}
				if len(creds.AppSecrets) != want || string(creds.AppSecrets[0]) != tc.wantSecret || string(creds.VerifyToken) != "tok" ||
					want == 2 && string(creds.AppSecrets[1]) != "old" {
					t.Errorf("credentials = %q / %q", creds.AppSecrets, creds.VerifyToken)
				}
			case tc.notErr != nil:
				if err == nil || errors.Is(err, tc.notErr) {
					t.Errorf("err = %v, want an error that is not %v", err, tc.notErr)
				}
			default:
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("err = %v, want %v", err, tc.wantErr)
				}
			}
		})
	}
}

// TestKubeEndpoint: a number's own relay wins over its MetaApp's; without either, or without a
// readable key, there is no endpoint (the events wait in the outbox).
func TestKubeEndpoint(t *testing.T) {
	relay := func(url, secretName string) *v1.RelaySpec {
		return &v1.RelaySpec{URL: url, SecretRef: v1.SecretKeySelector{Name: secretName, Key: "hmac"}}
	}
	app := func(r *v1.RelaySpec) *v1.MetaApp {
		return &v1.MetaApp{ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: testApp}, Spec: v1.MetaAppSpec{Relay: r}}
	}
	number := func(r *v1.RelaySpec) *v1.CoexNumber {
		n := coexNumber(testNS, "shop")
		n.Spec.AppRef.Name, n.Spec.Relay = testApp, r
		return n
	}
	keys := []client.Object{secret(testNS, "app-key", map[string]string{"hmac": "app-k"}),
		secret(testNS, "own-key", map[string]string{"hmac": "own-k"})}
	tests := []struct {
		name    string
		objs    []client.Object
		wantURL string // "" means no endpoint
		wantKey string
	}{
		{"the MetaApp's", []client.Object{app(relay("https://app.example/ev", "app-key")), number(nil)},
			"https://app.example/ev", "app-k"},
		{"the number's own wins", []client.Object{app(relay("https://app.example/ev", "app-key")),
			number(relay("https://own.example/ev", "own-key"))}, "https://own.example/ev", "own-k"},
		{"none configured", []client.Object{app(nil), number(nil)}, "", ""},
		{"key Secret missing", []client.Object{app(relay("https://app.example/ev", "nope")), number(nil)}, "", ""},
		{"number deleted", []client.Object{app(relay("https://app.example/ev", "app-key"))}, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := &Kube{Reader: newObjectReader(append(tc.objs, keys...)...)}
			ep, ok, err := k.Endpoint(testNS + "/shop")
			if err != nil {
				t.Fatal(err)
			}
			if ok != (tc.wantURL != "") || ep.URL != tc.wantURL || string(ep.Secret) != tc.wantKey {
				t.Errorf("Endpoint = %+v, %v; want %q with key %q", ep, ok, tc.wantURL, tc.wantKey)
			}
		})
	}
}
