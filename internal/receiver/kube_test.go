// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package receiver

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/coex-operator/coex-operator/api/v1alpha1"
	"github.com/coex-operator/coex-operator/internal/receiver/ingest"
	"github.com/coex-operator/coex-operator/internal/receiver/internal/receivertest"
	"github.com/coex-operator/coex-operator/internal/receiver/store"
	"github.com/coex-operator/coex-operator/internal/receiver/store/bolt"
	"github.com/coex-operator/coex-operator/internal/receivercreds"
	"github.com/coex-operator/coex-operator/internal/webhook"
)

var (
	appSecret    = []byte("current-app-secret")
	oldAppSecret = []byte("previous-app-secret")
	verifyToken  = []byte("verify-me")
)

// webhookServer is the receiver's webhook server (ingest.Server) over a real bolt store,
// served by httptest, for the tests of what Kube hands it.
type webhookServer struct {
	*httptest.Server
	spool   *bolt.Store
	metrics *ingest.Metrics
}

func newWebhookServer(t *testing.T, creds ingest.CredentialSource) *webhookServer {
	t.Helper()
	ws := &webhookServer{spool: receivertest.NewStore(t), metrics: ingest.NewMetrics(nil)}
	ws.Server = httptest.NewServer(ingest.NewServer(ingest.Options{Inbox: ws.spool, Credentials: creds, Metrics: ws.metrics}))
	t.Cleanup(ws.Close)
	return ws
}

// post sends body to /webhooks/ns/app with the signature header and returns the status.
func (ws *webhookServer) post(t *testing.T, ns, app string, body []byte, sig string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, ws.URL+"/webhooks/"+ns+"/"+app, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(webhook.SignatureHeader, sig)
	resp, err := ws.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

func (ws *webhookServer) spooled(t *testing.T) []store.Record {
	t.Helper()
	return receivertest.Spooled(t, ws.spool)
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

func (c *kubeRotationCreds) Credentials(_ context.Context, ns, app string) (ingest.Credentials, error) {
	c.mu.Lock()
	secret := c.secret
	c.mu.Unlock()
	return ingest.Credentials{AppSecrets: c.kube.rotation(ns+"/"+app, secret), VerifyToken: verifyToken}, nil
}

func TestDeliverPreviousSecretOnlyWithinGrace(t *testing.T) {
	clock := receivertest.NewClock()
	creds := &kubeRotationCreds{kube: &Kube{RotationGrace: 10 * time.Minute, Now: clock.Now}, secret: oldAppSecret}
	ws := newWebhookServer(t, creds)
	send := func(body string, secret []byte) int {
		return ws.post(t, receivertest.NS, receivertest.App, []byte(body), webhook.Sign(secret, []byte(body)))
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
	if got := receivertest.RecordBodies(ws.spooled(t)); !slices.Equal(got, []string{`{"n":1}`, `{"n":2}`, `{"n":3}`, `{"n":5}`}) {
		t.Errorf("spooled %q, want all but the one signed with the expired secret", got)
	}
	if got := testutil.ToFloat64(ws.metrics.SignatureFailures); got != 1 {
		t.Errorf("signature_failures_total = %v, want 1", got)
	}
}

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
			clock := receivertest.NewClock()
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

// projection is the receiver's view of the credentials Secret, as a map.
type projection map[string][]byte

func (p projection) Value(_ context.Context, ns, name, key string) ([]byte, bool) {
	v, ok := p[receivercreds.Key(ns, name, key)]
	return v, ok
}

// projected is what the manager projects for these objects: the receiver sees the keys of
// Secrets that its MetaApps and CoexNumbers name, and nothing else.
func projected(t *testing.T, objs ...client.Object) projection {
	t.Helper()
	var apps []v1.MetaApp
	var nums []v1.CoexNumber
	secrets := map[[2]string]map[string][]byte{}
	for _, o := range objs {
		switch o := o.(type) {
		case *v1.MetaApp:
			apps = append(apps, *o)
		case *v1.CoexNumber:
			nums = append(nums, *o)
		case *corev1.Secret:
			secrets[[2]string{o.Namespace, o.Name}] = o.Data
		}
	}
	refs, _ := receivercreds.Needed(apps, nums)
	data, err := receivercreds.Build(refs, func(ns, name string) (map[string][]byte, bool, error) {
		d, ok := secrets[[2]string{ns, name}]
		return d, ok, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func secret(ns, name string, data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

func TestKubeCredentials(t *testing.T) {
	app := &v1.MetaApp{ObjectMeta: metav1.ObjectMeta{Namespace: receivertest.NS, Name: receivertest.App}, Spec: v1.MetaAppSpec{
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
		{"both keys readable", []client.Object{app, secret(receivertest.NS, "meta", map[string]string{"appSecret": "s3cret", "verifyToken": "tok"})},
			nil, nil, nil, "s3cret"},
		{"no MetaApp", nil, nil, ingest.ErrUnknownApp, nil, ""},
		{"a previous app secret kept beside it", []client.Object{app, secret(receivertest.NS, "meta", map[string]string{
			"appSecret": "s3cret", "appSecret.previous": "old", "verifyToken": "tok"})}, nil, nil, nil, "s3cret"},
		{"no Secret", []client.Object{app}, nil, ingest.ErrNoCredentials, nil, ""},
		{"no app secret key", []client.Object{app, secret(receivertest.NS, "meta", map[string]string{"verifyToken": "tok"})},
			nil, ingest.ErrNoCredentials, nil, ""},
		{"empty verify token", []client.Object{app, secret(receivertest.NS, "meta", map[string]string{"appSecret": "s", "verifyToken": ""})},
			nil, ingest.ErrNoCredentials, nil, ""},
		{"API error is neither unknown app nor a 404", []client.Object{app}, errors.New("cache not synced"),
			errors.New("any"), ingest.ErrUnknownApp, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := receivertest.NewObjectReader(tc.objs...)
			r.Err = tc.readerErr
			k := &Kube{Reader: r, Secrets: projected(t, tc.objs...)}
			creds, err := k.Credentials(context.Background(), receivertest.NS, receivertest.App)
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
		return &v1.MetaApp{ObjectMeta: metav1.ObjectMeta{Namespace: receivertest.NS, Name: receivertest.App}, Spec: v1.MetaAppSpec{Relay: r}}
	}
	number := func(r *v1.RelaySpec) *v1.CoexNumber {
		n := receivertest.CoexNumber(receivertest.NS, "shop")
		n.Spec.AppRef.Name, n.Spec.Relay = receivertest.App, r
		return n
	}
	keys := []client.Object{secret(receivertest.NS, "app-key", map[string]string{"hmac": "app-k"}),
		secret(receivertest.NS, "own-key", map[string]string{"hmac": "own-k"})}
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
			objs := append(tc.objs, keys...)
			k := &Kube{Reader: receivertest.NewObjectReader(objs...), Secrets: projected(t, objs...)}
			ep, ok, err := k.Endpoint(receivertest.NS + "/shop")
			if err != nil {
				t.Fatal(err)
			}
			if ok != (tc.wantURL != "") || ep.URL != tc.wantURL || string(ep.Secret) != tc.wantKey {
				t.Errorf("Endpoint = %+v, %v; want %q with key %q", ep, ok, tc.wantURL, tc.wantKey)
			}
		})
	}
}
