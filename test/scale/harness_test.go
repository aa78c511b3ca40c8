// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package scale

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	v1 "github.com/coex-operator/coex-operator/api/v1alpha1"
	"github.com/coex-operator/coex-operator/controllers"
	"github.com/coex-operator/coex-operator/internal/controlplane"
	"github.com/coex-operator/coex-operator/internal/graphsim"
	"github.com/coex-operator/coex-operator/test/harness"
)

// One Meta app holds every number; each number is its own business with its own WABA, as
// coexistence numbers onboarded through Embedded Signup are. One token reaches every WABA.
const (
	appID     = "1001"
	appSecret = "s3cret"
	appName   = "acme"
	appToken  = "scale-token"
	// verifyToken is the MetaApp's webhook verify token.
	verifyToken = "verify-me"
)

// The one-shot steps of a number and the Graph call each makes once: the goal is exactly
// one call per step.
var oneShotCalls = []string{"GetPhoneNumber", "ListSubscribedApps", "SubscribeApp", "RequestContactsSync", "RequestHistorySync"}

func numberName(i int) string    { return fmt.Sprintf("n%04d", i) }
func wabaID(i int) string        { return fmt.Sprintf("2%06d", i) }
func phoneNumberID(i int) string { return fmt.Sprintf("3%06d", i) }
func displayNumber(i int) string { return fmt.Sprintf("+1415555%04d", i) }

// world is a control plane with the CRDs, the Meta simulator serving Graph on loopback, a
// webhook sink answering 200 to whatever the simulator sends after a sync request (until
// startReceiver sends them to the receiver binary instead), and a
// namespace holding the MetaApp, its Secret and the token Secret. The numbers exist in the
// simulator; createNumbers applies their CoexNumbers.
type world struct {
	tb    testing.TB
	env   *controlplane.Env
	k8s   client.Client
	sim   *graphsim.Sim
	graph *httptest.Server
	ns    string
	n     int
}

func newWorld(tb testing.TB, n int) *world {
	tb.Helper()
	setLogger()
	env, err := controlplane.Start(controlplane.Options{InstallCRDs: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = env.Stop() })
	k8s, err := client.New(env.Config, client.Options{Scheme: newScheme(tb)})
	if err != nil {
		tb.Fatal(err)
	}

	hooks := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	tb.Cleanup(hooks.Close)
	sim := graphsim.New(graphsim.Options{Seed: 1})
	tb.Cleanup(sim.Close)
	srv := httptest.NewServer(sim.Handler())
	tb.Cleanup(srv.Close)
	must(tb, sim.AddApp(graphsim.AppSpec{ID: appID, Secret: appSecret, CallbackURL: hooks.URL, Fields: v1.CoexistenceWebhookFields}))
	wabas := make([]string, n)
	for i := range n {
		wabas[i] = wabaID(i)
		// An empty scenario: no contacts, no messages. A sync request still makes the
		// simulator send its webhooks (an empty history chunk per phase) to the sink.
		_, err := sim.AddNumber(graphsim.NumberSpec{AppID: appID, WABAID: wabaID(i), PhoneNumberID: phoneNumberID(i),
			Scenario: graphsim.Scenario{DisplayPhoneNumber: displayNumber(i)}})
		must(tb, err)
	}
	_, err = sim.IssueToken(graphsim.TokenSpec{AppID: appID, WABAIDs: wabas, Value: appToken})
	must(tb, err)

	w := &world{tb: tb, env: env, k8s: k8s, sim: sim, graph: srv, n: n}
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "scale-"}}
	must(tb, k8s.Create(ctx, ns))
	w.ns = ns.Name
	must(tb, k8s.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: w.ns, Name: appName + "-app"},
		StringData: map[string]string{"app-secret": appSecret, "verify-token": verifyToken},
	}))
	must(tb, k8s.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: w.ns, Name: "number-token"},
		StringData: map[string]string{"token": appToken},
	}))
	must(tb, k8s.Create(ctx, &v1.MetaApp{
		ObjectMeta: metav1.ObjectMeta{Namespace: w.ns, Name: appName},
		Spec: v1.MetaAppSpec{
			AppID:          appID,
			AppSecretRef:   v1.SecretKeySelector{Name: appName + "-app", Key: "app-secret"},
			VerifyTokenRef: v1.SecretKeySelector{Name: appName + "-app", Key: "verify-token"},
			GraphBaseURL:   srv.URL,
		},
	}))
	return w
}

func newScheme(tb testing.TB) *kruntime.Scheme {
	tb.Helper()
	scheme := kruntime.NewScheme()
	must(tb, clientgoscheme.AddToScheme(scheme))
	must(tb, v1.AddToScheme(scheme))
	return scheme
}

// createNumbers applies every CoexNumber from workers goroutines at once, as `kubectl apply`
// of a large folder or a GitOps sync would.
func (w *world) createNumbers(ctx context.Context, workers int) error {
	idx := make(chan int)
	errs := make(chan error, w.n)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range idx {
				if err := w.k8s.Create(ctx, w.number(i)); err != nil {
					errs <- fmt.Errorf("create %s: %w", numberName(i), err)
				}
			}
		})
	}
	for i := range w.n {
		idx <- i
	}
	close(idx)
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

func (w *world) number(i int) *v1.CoexNumber {
	return &v1.CoexNumber{
		ObjectMeta: metav1.ObjectMeta{Namespace: w.ns, Name: numberName(i)},
		Spec: v1.CoexNumberSpec{
			AppRef:             v1.MetaAppReference{Name: appName},
			WABAID:             wabaID(i),
			PhoneNumberID:      phoneNumberID(i),
			DisplayPhoneNumber: displayNumber(i),
			TokenSecretRef:     &v1.SecretKeySelector{Name: "number-token", Key: "token"},
		},
	}
}

// startReceiver runs the receiver binary (its spool in a folder of its own) and has the
// simulator deliver the app's webhooks to it instead of the sink, as in the pod: the receiver
// writes each number's history and contacts status with server-side apply while the manager
// writes its own. It returns once the receiver answers Meta's verification handshake.
func (w *world) startReceiver() *harness.Process {
	w.tb.Helper()
	harness.StartCredentialsProjector(w.tb, w.env)
	p := harness.New(w.tb, w.env, "receiver")
	hooks := harness.FreeAddr(w.tb)
	p.MetricsAddr = harness.FreeAddr(w.tb)
	p.Args = []string{"--spool-dir", filepath.Join(p.Dir, "spool"), "--webhook-bind-address", hooks,
		"--metrics-bind-address", p.MetricsAddr, "--health-probe-bind-address", "0"}
	p.Start()
	callback := fmt.Sprintf("http://%s/webhooks/%s/%s", hooks, w.ns, appName)
	deadline := time.Now().Add(time.Minute)
	for {
		code, body := harness.Get(callback + "?hub.mode=subscribe&hub.verify_token=" + verifyToken + "&hub.challenge=ping")
		if code == http.StatusOK && body == "ping" {
			break
		}
		if time.Now().After(deadline) {
			w.tb.Fatalf("the receiver did not answer the handshake within a minute: %d %s", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	must(w.tb, w.sim.SubscribeAppFields(appID, callback, v1.CoexistenceWebhookFields...))
	return p
}

// runningManager is a controller manager with the reconcilers, started in this process.
type runningManager struct {
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// startManager starts a fresh manager (its own scheme, cache and clients) with
// controllers.Setup. Every manager skips controller-runtime's process-wide check of unique
// controller names, which would refuse the second manager's "coexnumber" controller; a
// real process runs one manager.
func (w *world) startManager(opts controllers.Options) *runningManager {
	w.tb.Helper()
	mgr, err := ctrl.NewManager(w.env.Config, ctrl.Options{
		Scheme:                 newScheme(w.tb),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		w.tb.Fatal(err)
	}
	opts.Events = mgr.GetEventRecorder("coex-operator")
	if err := setup(mgr, opts); err != nil {
		w.tb.Fatalf("controllers.Setup: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &runningManager{cancel: cancel, done: make(chan error, 1)}
	go func() { m.done <- mgr.Start(ctx) }()
	w.tb.Cleanup(func() { _ = m.stop() })
	return m
}

// setup is controllers.Setup, with a panic (a metric registered twice in the process's global
// registry by a second manager, say) turned into an error that says so.
func setup(mgr ctrl.Manager, opts controllers.Options) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("controllers.Setup panicked (a second manager in one process: metrics registered twice?): %v", p)
		}
	}()
	return controllers.Setup(mgr, opts)
}

// stop cancels the manager's context and waits until Start returns.
func (m *runningManager) stop() error {
	m.once.Do(func() {
		m.cancel()
		m.err = <-m.done
	})
	return m.err
}

// progress is what the API server says about the numbers.
type progress struct {
	total, contacts, history, both int
	phases                         map[v1.CoexNumberPhase]int
	bad                            []string // numbers in ReonboardRequired or Failed
	items                          []v1.CoexNumber
}

func (p progress) String() string {
	phases := make([]string, 0, len(p.phases))
	for ph, c := range p.phases {
		phases = append(phases, fmt.Sprintf("%s=%d", ph, c))
	}
	slices.Sort(phases)
	return fmt.Sprintf("%d numbers: contacts requested %d, history requested %d, both %d; phases %s",
		p.total, p.contacts, p.history, p.both, strings.Join(phases, " "))
}

func (w *world) progress(ctx context.Context) (progress, error) {
	var list v1.CoexNumberList
	if err := w.k8s.List(ctx, &list, client.InNamespace(w.ns)); err != nil {
		return progress{}, err
	}
	p := progress{total: len(list.Items), phases: map[v1.CoexNumberPhase]int{}, items: list.Items}
	for i := range list.Items {
		s := &list.Items[i].Status
		c := s.Contacts != nil && s.Contacts.RequestedAt != nil
		h := s.History != nil && s.History.RequestedAt != nil
		if c {
			p.contacts++
		}
		if h {
			p.history++
		}
		if c && h {
			p.both++
		}
		p.phases[s.Phase]++
		if s.Phase == v1.PhaseReonboardRequired || s.Phase == v1.PhaseFailed {
			p.bad = append(p.bad, fmt.Sprintf("%s (%s)", list.Items[i].Name, s.Phase))
		}
	}
	return p, nil
}

// waitAllRequested polls the API server until every number has both requestedAt, a number
// lands in ReonboardRequired or Failed, or timeout (a generous bound, not a measurement).
// Listing every number is not free for the API server on a small machine, so the polling
// starts once the simulator has accepted a history request for every number: before that,
// not all can be recorded.
func (w *world) waitAllRequested(every, timeout time.Duration) progress {
	w.tb.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(timeout)
	for w.sim.CountCalls(graphsim.CallFilter{Name: "RequestHistorySync", OnlyOK: true}) < w.n && time.Now().Before(deadline) {
		time.Sleep(every / 5)
	}
	var last progress
	for {
		p, err := w.progress(ctx)
		if err == nil {
			last = p
			if len(p.bad) > 0 {
				w.tb.Fatalf("numbers need re-onboarding or failed: %v\n%s\n%s", p.bad, p, logTail(40))
			}
			if p.total == w.n && p.both == w.n {
				return p
			}
		}
		if time.Now().After(deadline) {
			w.tb.Fatalf("not all %d numbers requested within %s: %s (last error %v)\n%s", w.n, timeout, last, err, logTail(40))
		}
		time.Sleep(every)
	}
}

// checkRequested fails unless every number has both sync conditions True and is Syncing, or
// Active once a receiver has recorded its history.
func (w *world) checkRequested(p progress) {
	w.tb.Helper()
	for i := range p.items {
		n := &p.items[i]
		for _, typ := range []string{v1.ConditionContactsSyncRequested, v1.ConditionHistorySyncRequested} {
			if !meta.IsStatusConditionTrue(n.Status.Conditions, typ) {
				w.tb.Errorf("%s: condition %s is not True: %+v", n.Name, typ, meta.FindStatusCondition(n.Status.Conditions, typ))
			}
		}
		if n.Status.Phase != v1.PhaseSyncing && n.Status.Phase != v1.PhaseActive {
			w.tb.Errorf("%s: phase %s, want %s or %s", n.Name, n.Status.Phase, v1.PhaseSyncing, v1.PhaseActive)
		}
	}
}

// callCount is how often one Graph call was made, answered 2xx or not.
type callCount struct{ ok, failed int }

func countByName(calls []graphsim.Call) map[string]callCount {
	m := map[string]callCount{}
	for _, c := range calls {
		cc := m[c.Name]
		if c.OK() {
			cc.ok++
		} else {
			cc.failed++
		}
		m[c.Name] = cc
	}
	return m
}

// callsAfter are the recorded calls with a sequence number above seq.
func callsAfter(calls []graphsim.Call, seq uint64) []graphsim.Call {
	i, _ := slices.BinarySearchFunc(calls, seq+1, func(c graphsim.Call, s uint64) int {
		switch {
		case c.Seq < s:
			return -1
		case c.Seq > s:
			return 1
		}
		return 0
	})
	return calls[i:]
}

func lastSeq(calls []graphsim.Call) uint64 {
	if len(calls) == 0 {
		return 0
	}
	return calls[len(calls)-1].Seq
}

// reconcileCounts reads controller-runtime's process-wide counters of a controller: every
// reconcile and the failed ones (a 409 on a status write from a stale cache included).
func reconcileCounts(controller string) (total, errs float64) {
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		return 0, 0
	}
	for _, f := range families {
		var sum *float64
		switch f.GetName() {
		case "controller_runtime_reconcile_total":
			sum = &total
		case "controller_runtime_reconcile_errors_total":
			sum = &errs
		default:
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "controller" && l.GetValue() == controller {
					*sum += m.GetCounter().GetValue()
				}
			}
		}
	}
	return total, errs
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// The managers log (JSON, info and above) into a ring of recent lines, shown when a test
// fails: thousands of reconciles would drown the test output otherwise. COEX_SCALE_LOG=<file>
// writes every line to that file too.
var (
	logOnce sync.Once
	logs    = &ringLog{max: 400}
)

func setLogger() {
	logOnce.Do(func() {
		var w io.Writer = logs
		if path := os.Getenv("COEX_SCALE_LOG"); path != "" {
			if f, err := os.Create(path); err == nil {
				w = io.MultiWriter(logs, f)
			}
		}
		ctrl.SetLogger(zap.New(zap.WriteTo(w)))
	})
}

type ringLog struct {
	mu    sync.Mutex
	max   int
	lines []string
}

func (r *ringLog) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, strings.TrimRight(string(p), "\n"))
	if len(r.lines) > r.max {
		r.lines = slices.Delete(r.lines, 0, len(r.lines)-r.max)
	}
	return len(p), nil
}

func logTail(n int) string {
	logs.mu.Lock()
	defer logs.mu.Unlock()
	lines := logs.lines[max(0, len(logs.lines)-n):]
	return "last manager log lines:\n" + strings.Join(lines, "\n")
}
