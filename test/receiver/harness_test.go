// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

// Package receiver_test drives the built receiver (bin/receiver's code, as a process) against a
// real API server and the Meta simulator: webhooks signed and delivered over loopback HTTP,
// duplicates, SIGKILL restarts, and a relay sink that checks what arrives.
package receiver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/coex-operator/coex-operator/api/v1alpha1"
	"github.com/coex-operator/coex-operator/internal/controlplane"
	"github.com/coex-operator/coex-operator/internal/graph"
	"github.com/coex-operator/coex-operator/internal/graphsim"
	"github.com/coex-operator/coex-operator/internal/receiver/event"
	"github.com/coex-operator/coex-operator/internal/receiver/relay"
	"github.com/coex-operator/coex-operator/test/harness"
)

const (
	appID       = "1001"
	appName     = "acme"
	appSecret   = "app-secret-for-tests"
	verifyToken = "verify-me"
	relayKey    = "relay-key-for-tests"
	token       = "EAAG-test-token"
)

// world is one control plane, the simulator, a relay sink, and a receiver process.
type world struct {
	tb       testing.TB
	env      *controlplane.Env
	k8s      client.Client
	sim      *graphsim.Sim
	graph    *httptest.Server
	sink     *sink
	ns       string
	rcv      *harness.Process   // the receiver (the first, with several)
	rcvs     []*harness.Process // every receiver
	spool    string             // the receiver's spool folder
	backend  backend
	dsn      string // the receiver's database, with the postgres backend
	hookAddr string // where the receiver listens for Meta's webhooks
	numbers  []graphsim.NumberInfo
	// beforeAnswer, when set, sees each Graph call after it took effect at the simulator
	// and before the caller has its answer (graphsim.Options.BeforeAnswer).
	beforeAnswer atomic.Pointer[func(graphsim.Call)]
}

func newWorld(tb testing.TB, delivery graphsim.DeliveryOptions) *world {
	tb.Helper()
	return newWorldOn(tb, boltBackend, delivery)
}

// newWorldOn is newWorld with the receiver keeping its data in b.
func newWorldOn(tb testing.TB, b backend, delivery graphsim.DeliveryOptions) *world {
	tb.Helper()
	return newWorldOf(tb, b, 1, delivery)
}

// newWorldOf is newWorld with n receivers keeping their data in b, behind a round-robin
// proxy (a Service in front of the pods) when n > 1. Only a shared store allows n > 1.
func newWorldOf(tb testing.TB, b backend, n int, delivery graphsim.DeliveryOptions) *world {
	tb.Helper()
	env, err := controlplane.Start(controlplane.Options{InstallCRDs: true})
	must(tb, err)
	tb.Cleanup(func() { _ = env.Stop() })
	scheme := kruntime.NewScheme()
	must(tb, clientgoscheme.AddToScheme(scheme))
	must(tb, v1.AddToScheme(scheme))
	k8s, err := client.New(env.Config, client.Options{Scheme: scheme})
	must(tb, err)

	w := &world{tb: tb, env: env, k8s: k8s, sink: newSink(tb), backend: b}
	// What the leading manager does in the pod: the receivers read their credentials there.
	harness.StartCredentialsProjector(tb, env)
	w.startReceivers(n)
	w.sim = graphsim.New(graphsim.Options{Seed: 7, Delivery: delivery, BeforeAnswer: func(c graphsim.Call) {
		if f := w.beforeAnswer.Load(); f != nil {
			(*f)(c)
		}
	}})
	tb.Cleanup(w.sim.Close)
	w.graph = httptest.NewServer(w.sim.Handler())
	tb.Cleanup(w.graph.Close)

	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "rcv-"}}
	must(tb, k8s.Create(ctx, ns))
	w.ns = ns.Name
	must(tb, k8s.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: w.ns, Name: "acme-app"},
		StringData: map[string]string{"app-secret": appSecret, "verify-token": verifyToken, "relay": relayKey},
	}))
	must(tb, k8s.Create(ctx, &v1.MetaApp{
		ObjectMeta: metav1.ObjectMeta{Namespace: w.ns, Name: appName},
		Spec: v1.MetaAppSpec{
			AppID:          appID,
			AppSecretRef:   v1.SecretKeySelector{Name: "acme-app", Key: "app-secret"},
			VerifyTokenRef: v1.SecretKeySelector{Name: "acme-app", Key: "verify-token"},
			GraphBaseURL:   w.graph.URL,
			Relay:          &v1.RelaySpec{URL: w.sink.srv.URL, SecretRef: v1.SecretKeySelector{Name: "acme-app", Key: "relay"}},
		},
	}))
	must(tb, w.sim.AddApp(graphsim.AppSpec{ID: appID, Secret: appSecret, CallbackURL: w.callbackURL(),
		Fields: v1.CoexistenceWebhookFields}))
	return w
}

func (w *world) callbackURL() string {
	return fmt.Sprintf("http://%s/webhooks/%s/%s", w.hookAddr, w.ns, appName)
}

// addNumber adds a number to the simulator and its CoexNumber to the cluster.
func (w *world) addNumber(name, waba, phone string, sc graphsim.Scenario) graphsim.NumberInfo {
	w.tb.Helper()
	info, err := w.sim.AddNumber(graphsim.NumberSpec{AppID: appID, WABAID: waba, PhoneNumberID: phone,
		Scenario: sc, SubscribeApp: true})
	must(w.tb, err)
	// A token per number, as Embedded Signup gives, in the number's own Secret.
	_, err = w.sim.IssueToken(graphsim.TokenSpec{AppID: appID, WABAIDs: []string{waba}, Value: numberToken(phone)})
	must(w.tb, err)
	must(w.tb, w.k8s.Create(context.Background(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: w.ns, Name: name + "-token"},
		StringData: map[string]string{"token": numberToken(phone)},
	}))
	onboarded := metav1.NewTime(info.OnboardedAt)
	must(w.tb, w.k8s.Create(context.Background(), &v1.CoexNumber{
		ObjectMeta: metav1.ObjectMeta{Namespace: w.ns, Name: name},
		Spec: v1.CoexNumberSpec{
			AppRef: v1.MetaAppReference{Name: appName}, WABAID: waba, PhoneNumberID: phone,
			DisplayPhoneNumber: info.DisplayPhoneNumber, OnboardedAt: &onboarded,
			TokenSecretRef: &v1.SecretKeySelector{Name: name + "-token", Key: "token"},
		},
	}))
	w.numbers = append(w.numbers, info)
	return info
}

// requestSyncs asks the simulator for both syncs of a number, as the operator would.
func (w *world) requestSyncs(phone string) {
	w.tb.Helper()
	g := graph.New(graph.Options{BaseURL: w.graph.URL, APIVersion: "v23.0", AppID: appID})
	ctx := context.Background()
	_, err := g.RequestContactsSync(ctx, graph.Secret(numberToken(phone)), phone)
	must(w.tb, err)
	_, err = g.RequestHistorySync(ctx, graph.Secret(numberToken(phone)), phone)
	must(w.tb, err)
}

// numberToken is the access token of one number.
func numberToken(phone string) string { return token + "-" + phone }

func (w *world) number(name string) *v1.CoexNumber {
	w.tb.Helper()
	n := &v1.CoexNumber{}
	must(w.tb, w.k8s.Get(context.Background(), client.ObjectKey{Namespace: w.ns, Name: name}, n))
	return n
}

// waitFor polls cond until it holds or timeout passes; the timeout is a deadline, not a
// performance goal.
func waitFor(tb testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		time.Sleep(200 * time.Millisecond)
	}
	tb.Fatalf("timed out after %s waiting for %s; last: %s", timeout, what, last)
}

// startReceiver runs the receiver binary with its spool in a folder of its own.
// startReceivers starts n receivers; with more than one, Meta reaches them through a
// round-robin proxy, which answers 502 for one that is down (Meta retries later).
func (w *world) startReceivers(n int) {
	w.tb.Helper()
	if n <= 1 {
		w.startReceiver()
		w.rcvs = []*harness.Process{w.rcv}
		return
	}
	var targets []*url.URL
	for range n {
		w.startReceiver()
		w.rcvs = append(w.rcvs, w.rcv)
		targets = append(targets, &url.URL{Scheme: "http", Host: w.hookAddr})
	}
	w.rcv = w.rcvs[0]
	var next atomic.Uint64
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(targets[next.Add(1)%uint64(len(targets))])
		},
		ErrorLog: log.New(io.Discard, "", 0),
	}
	srv := httptest.NewServer(proxy)
	w.tb.Cleanup(srv.Close)
	w.hookAddr = srv.Listener.Addr().String()
}

func (w *world) startReceiver() {
	w.tb.Helper()
	p := harness.New(w.tb, w.env, "receiver")
	w.spool, w.hookAddr, p.MetricsAddr = filepath.Join(p.Dir, "spool"), harness.FreeAddr(w.tb), harness.FreeAddr(w.tb)
	p.Args = append(w.storeArgs(p.Dir), "--webhook-bind-address", w.hookAddr, "--metrics-bind-address", p.MetricsAddr,
		"--health-probe-bind-address", "0")
	p.Start()
	w.rcv = p
}

// sink is the tenant's endpoint: it checks each delivery's signature and counts every event
// id, de-duplicating as a tenant would.
type sink struct {
	srv  *httptest.Server
	mu   sync.Mutex
	ids  map[string]int
	kept map[string]event.Event // events other than history, by id
	down atomic.Bool            // answer 503: the tenant's endpoint is down
	// afterDelivery, when set, is called after each delivery the sink has taken.
	afterDelivery atomic.Pointer[func()]
	byType        map[string]int
	deliveries    int
	lastNew       time.Time // when an event id arrived for the first time, last
	redelivery    int       // events received again
	badSig        int
	order         streamOrder
}

func newSink(tb testing.TB) *sink {
	s := &sink{ids: map[string]int{}, byType: map[string]int{}, kept: map[string]event.Event{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.srv.Close)
	return s
}

func (s *sink) serve(w http.ResponseWriter, r *http.Request) {
	if s.down.Load() {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if !relay.Verify([]byte(relayKey), r.Header.Get("X-Coex-Timestamp"), body, r.Header.Get("X-Coex-Signature-256")) {
		s.mu.Lock()
		s.badSig++
		s.mu.Unlock()
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var batch struct {
		Events []event.Event `json:"events"`
	}
	if err := json.Unmarshal(body, &batch); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if f := s.afterDelivery.Load(); f != nil {
		defer (*f)()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deliveries++
	ids := make([]string, len(batch.Events))
	for i, e := range batch.Events {
		ids[i] = e.ID
	}
	s.order.check(r.Header.Get("X-Coex-Delivery"), ids, func(id string) bool { return s.ids[id] > 0 })
	for _, e := range batch.Events {
		if s.ids[e.ID]++; s.ids[e.ID] > 1 {
			s.redelivery++
			continue
		}
		s.byType[e.Type]++
		s.lastNew = time.Now()
		if e.Type != event.TypeHistoryMessage && e.Type != event.TypeHistoryMedia && e.Type != event.TypeContact {
			s.kept[e.ID] = e
		}
	}
}

// event returns a relayed event (not history or contacts) by id.
func (s *sink) event(id string) (event.Event, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.kept[id]
	return e, ok
}

// eventOfType returns some relayed event of a type (not history or contacts).
func (s *sink) eventOfType(typ string) (event.Event, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.kept {
		if e.Type == typ {
			return e, true
		}
	}
	return event.Event{}, false
}

type sinkCounts struct {
	distinct, redelivered, badSig, deliveries int
	byType                                    map[string]int
	lastNew                                   time.Time
	outOfOrder                                []string // deliveries that broke a number's order
}

func (s *sink) counts() sinkCounts {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := sinkCounts{distinct: len(s.ids), redelivered: s.redelivery, badSig: s.badSig, deliveries: s.deliveries,
		byType: map[string]int{}, lastNew: s.lastNew, outOfOrder: slices.Clone(s.order.bad)}
	for k, v := range s.byType {
		c.byType[k] = v
	}
	return c
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}
