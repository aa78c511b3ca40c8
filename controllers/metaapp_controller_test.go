// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	v1 "github.com/coex-operator/coex-operator/api/v1alpha1"
	"github.com/coex-operator/coex-operator/internal/graph"
)

const (
	maNamespace   = "shop"
	maName        = "app"
	maSecretName  = "meta-app"
	maAppSecret   = "s3cr3t-app-value"
	maVerifyToken = "v3rify-token-value"
	maCallbackURL = "https://hooks.example.com/webhooks/shop/app"
	maRecheck     = 10 * time.Minute
)

// maAllFields are the default required fields, sorted.
var maAllFields = []string{"account_update", "history", "messages", "smb_app_state_sync", "smb_message_echoes"}

var maKey = types.NamespacedName{Namespace: maNamespace, Name: maName}

// maScheme is the scheme of the fake-client tests: Kubernetes kinds and ours.
func maScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := v1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}

func maApp(mutate ...func(*v1.MetaApp)) *v1.MetaApp {
	app := &v1.MetaApp{
		ObjectMeta: metav1.ObjectMeta{Namespace: maNamespace, Name: maName, Generation: 1, UID: "0d7c7a52-uid"},
		Spec: v1.MetaAppSpec{
			AppID:          "1234567890",
			AppSecretRef:   v1.SecretKeySelector{Name: maSecretName, Key: "appSecret"},
			VerifyTokenRef: v1.SecretKeySelector{Name: maSecretName, Key: "verifyToken"},
			CallbackURL:    maCallbackURL,
		},
	}
	for _, m := range mutate {
		m(app)
	}
	return app
}

func maSecret(data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: maNamespace, Name: maSecretName}, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

func maSecretBoth() *corev1.Secret {
	return maSecret(map[string]string{"appSecret": maAppSecret, "verifyToken": maVerifyToken})
}

// maMeta is a stateful stand-in for Meta's app subscription: the graph.Fake reads and
// writes it, and records the secrets it was called with.
type maMeta struct {
	mu       sync.Mutex
	sub      *graph.AppSubscription
	getErr   error
	setErr   error
	apps     []graph.App // the App of every call, in order
	setCalls []graph.AppSubscriptionRequest
}

func (m *maMeta) fake() *graph.Fake {
	return &graph.Fake{
		GetAppSubscriptionsFunc: func(_ context.Context, app graph.App) ([]graph.AppSubscription, error) {
			m.mu.Lock()
			defer m.mu.Unlock()
			m.apps = append(m.apps, app)
			if m.getErr != nil {
				return nil, m.getErr
			}
			subs := []graph.AppSubscription{{Object: "page", CallbackURL: "https://elsewhere.example.com", Active: true, Fields: []string{"feed"}}}
			if m.sub != nil {
				subs = append(subs, *m.sub)
			}
			return subs, nil
		},
		SetAppSubscriptionFunc: func(_ context.Context, app graph.App, req graph.AppSubscriptionRequest) error {
			m.mu.Lock()
			defer m.mu.Unlock()
			m.apps = append(m.apps, app)
			m.setCalls = append(m.setCalls, req)
			if m.setErr != nil {
				return m.setErr
			}
			m.sub = &graph.AppSubscription{Object: req.Object, CallbackURL: req.CallbackURL, Active: true, Fields: req.Fields}
			return nil
		},
	}
}

func wabaSub(callbackURL string, fields ...string) *graph.AppSubscription {
	return &graph.AppSubscription{Object: "whatsapp_business_account", CallbackURL: callbackURL, Active: true, Fields: fields}
}

type maEnv struct {
	r      *MetaAppReconciler
	c      client.Client
	graph  *graph.Fake
	meta   *maMeta
	clock  *clocktesting.FakeClock
	events *events.FakeRecorder
	seen   []string // every event drained so far
}

func newMAEnv(t *testing.T, m *maMeta, objs ...client.Object) *maEnv {
	t.Helper()
	c := fake.NewClientBuilder().WithScheme(maScheme(t)).
		WithStatusSubresource(&v1.MetaApp{}).
		WithIndex(&v1.MetaApp{}, secretNamesIndex, metaAppSecretNames).
		WithObjects(objs...).Build()
	g := m.fake()
	e := &maEnv{c: c, graph: g, meta: m,
		clock:  clocktesting.NewFakeClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)),
		events: events.NewFakeRecorder(100)}
	e.r = &MetaAppReconciler{Options: Options{
		Client: c, Clock: e.clock, Events: e.events, SubscriptionRecheck: maRecheck,
		Graph: GraphFactoryFunc(func(*v1.MetaApp) graph.Client { return g }),
	}}
	return e
}

func (e *maEnv) reconcile(t *testing.T) ctrl.Result {
	t.Helper()
	res, err := e.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: maKey})
	if err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	e.drain()
	return res
}

func (e *maEnv) get(t *testing.T) *v1.MetaApp {
	t.Helper()
	app := &v1.MetaApp{}
	if err := e.c.Get(context.Background(), maKey, app); err != nil {
		t.Fatal(err)
	}
	return app
}

func (e *maEnv) drain() {
	for {
		select {
		case ev := <-e.events.Events:
			e.seen = append(e.seen, ev)
		default:
			return
		}
	}
}

// maConds returns the conditions as type → "Status/Reason".
func maConds(app *v1.MetaApp) map[string]string {
	out := map[string]string{}
	for _, c := range app.Status.Conditions {
		out[c.Type] = string(c.Status) + "/" + c.Reason
	}
	return out
}

// noSecretLeak fails when a secret value appears in a condition, an event or the status.
func (e *maEnv) noSecretLeak(t *testing.T, app *v1.MetaApp, secrets ...string) {
	t.Helper()
	secrets = append(secrets, maAppSecret, maVerifyToken)
	var texts []string
	for _, c := range app.Status.Conditions {
		texts = append(texts, c.Message)
	}
	texts = append(texts, e.seen...)
	texts = append(texts, app.Status.SubscribedFields...)
	texts = append(texts, app.Status.MissingFields...)
	texts = append(texts, app.Status.SubscribedCallbackURL)
	for _, text := range texts {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("secret value leaked in %q", text)
			}
		}
	}
}

func maMessage(app *v1.MetaApp, typ string) string {
	if c := meta.FindStatusCondition(app.Status.Conditions, typ); c != nil {
		return c.Message
	}
	return ""
}

func TestMetaAppReconcile(t *testing.T) {
	authErr := &graph.Error{Call: graph.CallGetAppSubscriptions, HTTPStatus: 400, Code: 190, Type: "OAuthException",
		Message: "Error validating application", Class: graph.ClassAuth}
	transientErr := &graph.Error{Call: graph.CallGetAppSubscriptions, HTTPStatus: 503, Message: "try later", Class: graph.ClassTransient}
	permanentErr := &graph.Error{Call: graph.CallGetAppSubscriptions, HTTPStatus: 400, Code: 100, Message: "invalid parameter", Class: graph.ClassPermanent}
	manage := func(a *v1.MetaApp) { a.Spec.ManageSubscriptions = true }
	ready := map[string]string{
		v1.ConditionCredentialsResolved: "True/Resolved", v1.ConditionFieldsSubscribed: "True/AllFieldsSubscribed", v1.ConditionReady: "True/Ready",
	}
	notReady := func(reason string) map[string]string {
		return map[string]string{v1.ConditionCredentialsResolved: "True/Resolved", v1.ConditionFieldsSubscribed: "False/" + reason,
			v1.ConditionReady: "False/" + reason, v1.ConditionReconciling: "True/" + reason}
	}
	stalled := func(credentials, fields, reason string) map[string]string {
		m := map[string]string{v1.ConditionCredentialsResolved: credentials, v1.ConditionReady: "False/" + reason, v1.ConditionStalled: "True/" + reason}
		if fields != "" {
			m[v1.ConditionFieldsSubscribed] = fields
		}
		return m
	}

	cases := map[string]struct {
		app    *v1.MetaApp
		secret *corev1.Secret // nil: no Secret
		sub    *graph.AppSubscription
		getErr error
		setErr error

		wantConds      map[string]string
		wantSubscribed []string
		wantMissing    []string
		wantCallback   string
		wantChecked    bool
		wantGets       int
		wantSet        *graph.AppSubscriptionRequest // the one SetAppSubscription expected, if any
		wantRequeue    [2]time.Duration              // inclusive range
		wantMessage    []string                      // in the Ready message
		wantEvents     []string                      // prefixes of events recorded
	}{
		"all fields subscribed is Ready": {
			app: maApp(), secret: maSecretBoth(),
			sub:       wabaSub(maCallbackURL, "messages", "history", "smb_app_state_sync", "smb_message_echoes", "account_update", "message_template_status_update"),
			wantConds: ready, wantCallback: maCallbackURL, wantChecked: true, wantGets: 1,
			wantSubscribed: []string{"account_update", "history", "message_template_status_update", "messages", "smb_app_state_sync", "smb_message_echoes"},
			wantRequeue:    [2]time.Duration{maRecheck, maRecheck + maRecheck/10},
			wantEvents:     []string{"Normal Resolved", "Normal AllFieldsSubscribed"},
		},
		"missing fields are listed": {
			app: maApp(), secret: maSecretBoth(),
			sub:       wabaSub(maCallbackURL, "messages", "history"),
			wantConds: notReady("FieldsMissing"), wantCallback: maCallbackURL, wantChecked: true, wantGets: 1,
			wantSubscribed: []string{"history", "messages"},
			wantMissing:    []string{"account_update", "smb_app_state_sync", "smb_message_echoes"},
			wantRequeue:    [2]time.Duration{maRecheck, maRecheck + maRecheck/10},
			wantMessage:    []string{"missing webhook fields: account_update, smb_app_state_sync, smb_message_echoes", "manageSubscriptions"},
			wantEvents:     []string{"Normal Resolved", "Warning FieldsMissing"},
		},
		"no whatsapp_business_account subscription": {
			app: maApp(), secret: maSecretBoth(),
			wantConds: notReady("FieldsMissing"), wantChecked: true, wantGets: 1,
			wantMissing: maAllFields,
			wantRequeue: [2]time.Duration{maRecheck, maRecheck + maRecheck/10},
			wantMessage: []string{"no whatsapp_business_account webhook subscription", "callback URL is none, not spec.callbackURL " + maCallbackURL},
		},
		"callback URL mismatch": {
			app: maApp(), secret: maSecretBoth(),
			sub:       wabaSub("https://old.example.com/hook", maAllFields...),
			wantConds: notReady("CallbackURLMismatch"), wantCallback: "https://old.example.com/hook", wantChecked: true, wantGets: 1,
			wantSubscribed: maAllFields,
			wantRequeue:    [2]time.Duration{maRecheck, maRecheck + maRecheck/10},
			wantMessage:    []string{"Meta's callback URL is https://old.example.com/hook, not spec.callbackURL " + maCallbackURL},
		},
		"no spec.callbackURL accepts any": {
			app: maApp(func(a *v1.MetaApp) { a.Spec.CallbackURL = "" }), secret: maSecretBoth(),
			sub:       wabaSub("https://old.example.com/hook", maAllFields...),
			wantConds: ready, wantCallback: "https://old.example.com/hook", wantChecked: true, wantGets: 1,
			wantSubscribed: maAllFields,
			wantRequeue:    [2]time.Duration{maRecheck, maRecheck + maRecheck/10},
		},
		"custom requiredFields": {
			app: maApp(func(a *v1.MetaApp) { a.Spec.RequiredFields = []string{"messages"} }), secret: maSecretBoth(),
			sub:       wabaSub(maCallbackURL, "messages"),
			wantConds: ready, wantCallback: maCallbackURL, wantChecked: true, wantGets: 1,
			wantSubscribed: []string{"messages"},
			wantRequeue:    [2]time.Duration{maRecheck, maRecheck + maRecheck/10},
		},
		"inactive subscription": {
			app: maApp(), secret: maSecretBoth(),
			sub:       &graph.AppSubscription{Object: "whatsapp_business_account", CallbackURL: maCallbackURL, Fields: maAllFields},
			wantConds: notReady("SubscriptionInactive"), wantCallback: maCallbackURL, wantChecked: true, wantGets: 1,
			wantSubscribed: maAllFields,
			wantRequeue:    [2]time.Duration{maRecheck, maRecheck + maRecheck/10},
		},
		"manageSubscriptions subscribes the union": {
			app: maApp(manage), secret: maSecretBoth(),
			sub:       wabaSub(maCallbackURL, "messages", "message_template_status_update"),
			wantConds: ready, wantCallback: maCallbackURL, wantChecked: true, wantGets: 1,
			wantSet: &graph.AppSubscriptionRequest{Object: "whatsapp_business_account", CallbackURL: maCallbackURL, VerifyToken: maVerifyToken,
				Fields: []string{"account_update", "history", "message_template_status_update", "messages", "smb_app_state_sync", "smb_message_echoes"}},
			wantSubscribed: []string{"account_update", "history", "message_template_status_update", "messages", "smb_app_state_sync", "smb_message_echoes"},
			wantRequeue:    [2]time.Duration{maRecheck, maRecheck + maRecheck/10},
			wantEvents:     []string{"Normal Resolved", "Normal FieldsSubscribed", "Normal AllFieldsSubscribed"},
		},
		"manageSubscriptions fixes the callback URL": {
			app: maApp(manage), secret: maSecretBoth(),
			sub:       wabaSub("https://old.example.com/hook", maAllFields...),
			wantConds: ready, wantCallback: maCallbackURL, wantChecked: true, wantGets: 1,
			wantSet:        &graph.AppSubscriptionRequest{Object: "whatsapp_business_account", CallbackURL: maCallbackURL, VerifyToken: maVerifyToken, Fields: maAllFields},
			wantSubscribed: maAllFields,
			wantRequeue:    [2]time.Duration{maRecheck, maRecheck + maRecheck/10},
		},
		"manageSubscriptions with nothing missing does not write": {
			app: maApp(manage), secret: maSecretBoth(),
			sub:       wabaSub(maCallbackURL, maAllFields...),
			wantConds: ready, wantCallback: maCallbackURL, wantChecked: true, wantGets: 1,
			wantSubscribed: maAllFields,
			wantRequeue:    [2]time.Duration{maRecheck, maRecheck + maRecheck/10},
		},
		"manageSubscriptions failing is retried": {
			app: maApp(manage), secret: maSecretBoth(),
			sub: wabaSub(maCallbackURL, "messages"), setErr: transientErr,
			wantConds: notReady("GraphUnavailable"), wantGets: 1, wantChecked: true, wantCallback: maCallbackURL,
			wantSubscribed: []string{"messages"}, wantMissing: []string{"account_update", "history", "smb_app_state_sync", "smb_message_echoes"},
			wantSet:     &graph.AppSubscriptionRequest{Object: "whatsapp_business_account", CallbackURL: maCallbackURL, VerifyToken: maVerifyToken, Fields: maAllFields},
			wantRequeue: [2]time.Duration{retryTransient, retryTransient},
			wantMessage: []string{"cannot subscribe the app to its webhook fields"},
		},
		"missing Secret stalls without calling Graph": {
			app:         maApp(),
			wantConds:   stalled("False/SecretMissing", "", "SecretMissing"),
			wantMessage: []string{`Secret "meta-app" not found`},
			wantEvents:  []string{"Warning SecretMissing"},
		},
		"missing key stalls without calling Graph": {
			app: maApp(), secret: maSecret(map[string]string{"appSecret": maAppSecret}),
			wantConds:   stalled("False/SecretMissing", "", "SecretMissing"),
			wantMessage: []string{`Secret "meta-app" has no key "verifyToken"`},
		},
		"Graph auth error stalls": {
			app: maApp(), secret: maSecretBoth(), getErr: authErr,
			wantConds: stalled("True/Resolved", "False/CredentialsRejected", "CredentialsRejected"), wantGets: 1,
			wantMessage: []string{"cannot read the app's webhook subscriptions", "(#190)", "fix the app secret"},
		},
		"Graph transient error is retried soon": {
			app: maApp(), secret: maSecretBoth(), getErr: transientErr,
			wantConds: notReady("GraphUnavailable"), wantGets: 1,
			wantRequeue: [2]time.Duration{retryTransient, retryTransient},
			wantMessage: []string{"HTTP 503"},
		},
		"Graph permanent error is retried later": {
			app: maApp(), secret: maSecretBoth(), getErr: permanentErr,
			wantConds: notReady("GraphError"), wantGets: 1,
			wantRequeue: [2]time.Duration{retryPermanent, retryPermanent},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			objs := []client.Object{tc.app}
			if tc.secret != nil {
				objs = append(objs, tc.secret)
			}
			m := &maMeta{sub: tc.sub, getErr: tc.getErr, setErr: tc.setErr}
			e := newMAEnv(t, m, objs...)
			res := e.reconcile(t)
			app := e.get(t)

			if got := maConds(app); !reflect.DeepEqual(got, tc.wantConds) {
				t.Errorf("conditions = %v, want %v", got, tc.wantConds)
			}
			for _, c := range app.Status.Conditions {
				if c.ObservedGeneration != app.Generation {
					t.Errorf("condition %s observedGeneration = %d, want %d", c.Type, c.ObservedGeneration, app.Generation)
				}
			}
			if app.Status.ObservedGeneration != app.Generation {
				t.Errorf("observedGeneration = %d, want %d", app.Status.ObservedGeneration, app.Generation)
			}
			if !reflect.DeepEqual(app.Status.SubscribedFields, tc.wantSubscribed) {
				t.Errorf("subscribedFields = %v, want %v", app.Status.SubscribedFields, tc.wantSubscribed)
			}
			if !reflect.DeepEqual(app.Status.MissingFields, tc.wantMissing) {
				t.Errorf("missingFields = %v, want %v", app.Status.MissingFields, tc.wantMissing)
			}
			if app.Status.SubscribedCallbackURL != tc.wantCallback {
				t.Errorf("subscribedCallbackURL = %q, want %q", app.Status.SubscribedCallbackURL, tc.wantCallback)
			}
			if checked := app.Status.LastCheckedAt != nil; checked != tc.wantChecked {
				t.Errorf("lastCheckedAt set = %v, want %v", checked, tc.wantChecked)
			} else if checked && !app.Status.LastCheckedAt.Time.Equal(e.clock.Now()) {
				t.Errorf("lastCheckedAt = %v, want %v", app.Status.LastCheckedAt, e.clock.Now())
			}
			if got := e.graph.Count(graph.CallGetAppSubscriptions); got != tc.wantGets {
				t.Errorf("GetAppSubscriptions calls = %d, want %d", got, tc.wantGets)
			}
			switch {
			case tc.wantSet == nil && len(m.setCalls) != 0:
				t.Errorf("SetAppSubscription called %d times, want none", len(m.setCalls))
			case tc.wantSet != nil && len(m.setCalls) != 1:
				t.Errorf("SetAppSubscription called %d times, want once", len(m.setCalls))
			case tc.wantSet != nil:
				got := m.setCalls[0]
				if got.Object != tc.wantSet.Object || got.CallbackURL != tc.wantSet.CallbackURL ||
					got.VerifyToken.Reveal() != tc.wantSet.VerifyToken.Reveal() || !reflect.DeepEqual(got.Fields, tc.wantSet.Fields) {
					t.Errorf("SetAppSubscription(%+v), want %+v", got, *tc.wantSet)
				}
			}
			for _, a := range m.apps {
				if a.ID != "1234567890" || a.Secret.Reveal() != maAppSecret {
					t.Errorf("Graph called with app %s and another secret", a.ID)
				}
			}
			if res.RequeueAfter < tc.wantRequeue[0] || res.RequeueAfter > tc.wantRequeue[1] {
				t.Errorf("RequeueAfter = %v, want within %v", res.RequeueAfter, tc.wantRequeue)
			}
			for _, want := range tc.wantMessage {
				if msg := maMessage(app, v1.ConditionReady); !strings.Contains(msg, want) {
					t.Errorf("Ready message %q does not contain %q", msg, want)
				}
			}
			if len(tc.wantEvents) > 0 {
				if len(e.seen) != len(tc.wantEvents) {
					t.Errorf("events = %q, want %q", e.seen, tc.wantEvents)
				} else {
					for i, want := range tc.wantEvents {
						if !strings.HasPrefix(e.seen[i], want+" ") {
							t.Errorf("event %d = %q, want %q", i, e.seen[i], want)
						}
					}
				}
			}
			e.noSecretLeak(t, app)
		})
	}
}

// A check is made once per period: reconciles in between (status writes, Secret events
// that change nothing) do not call Meta, and do not write the status.
func TestMetaAppRecheckPeriod(t *testing.T) {
	m := &maMeta{sub: wabaSub(maCallbackURL, maAllFields...)}
	e := newMAEnv(t, m, maApp(), maSecretBoth())
	res := e.reconcile(t)
	period := res.RequeueAfter
	if period < maRecheck || period > maRecheck+maRecheck/10 {
		t.Fatalf("RequeueAfter = %v, want SubscriptionRecheck plus up to 10%%", period)
	}
	rv := e.get(t).ResourceVersion

	e.clock.Step(time.Minute)
	res = e.reconcile(t)
	if got := e.graph.Count(graph.CallGetAppSubscriptions); got != 1 {
		t.Errorf("GetAppSubscriptions calls = %d before the period, want 1", got)
	}
	if res.RequeueAfter != period-time.Minute {
		t.Errorf("RequeueAfter = %v, want the rest of the period %v", res.RequeueAfter, period-time.Minute)
	}
	if got := e.get(t).ResourceVersion; got != rv {
		t.Errorf("status written though nothing changed (resourceVersion %s → %s)", rv, got)
	}

	// Someone removes fields in the App Dashboard: the next periodic check notices.
	m.sub = wabaSub(maCallbackURL, "messages")
	e.clock.Step(period)
	res = e.reconcile(t)
	app := e.get(t)
	if got := e.graph.Count(graph.CallGetAppSubscriptions); got != 2 {
		t.Errorf("GetAppSubscriptions calls = %d after the period, want 2", got)
	}
	if got := maConds(app)[v1.ConditionReady]; got != "False/FieldsMissing" {
		t.Errorf("Ready = %s after drift, want False/FieldsMissing", got)
	}
	if want := e.clock.Now().Truncate(time.Second); !app.Status.LastCheckedAt.Time.Equal(want) { // stored in seconds
		t.Errorf("lastCheckedAt = %v, want %v", app.Status.LastCheckedAt, want)
	}
	if res.RequeueAfter != period {
		t.Errorf("RequeueAfter = %v, want %v", res.RequeueAfter, period)
	}
	if last := e.seen[len(e.seen)-1]; !strings.HasPrefix(last, "Warning FieldsMissing") {
		t.Errorf("last event = %q, want a FieldsMissing warning", last)
	}
}

// A spec change or a new reconcile-requested-at value re-checks at once.
func TestMetaAppRecheckOnChange(t *testing.T) {
	for name, change := range map[string]func(*v1.MetaApp){
		"generation": func(a *v1.MetaApp) {
			a.Spec.RequiredFields = []string{"messages"}
			a.Generation++
		},
		"force annotation": func(a *v1.MetaApp) {
			a.Annotations = map[string]string{AnnotationReconcileRequestedAt: "2026-03-01T12:01:00Z"}
		},
	} {
		t.Run(name, func(t *testing.T) {
			m := &maMeta{sub: wabaSub(maCallbackURL, maAllFields...)}
			e := newMAEnv(t, m, maApp(), maSecretBoth())
			e.reconcile(t)
			app := e.get(t)
			change(app)
			if err := e.c.Update(context.Background(), app); err != nil {
				t.Fatal(err)
			}
			e.clock.Step(time.Minute)
			e.reconcile(t)
			if got := e.graph.Count(graph.CallGetAppSubscriptions); got != 2 {
				t.Errorf("GetAppSubscriptions calls = %d, want 2", got)
			}
			// The same annotation value, or the same generation, is not a new request.
			e.reconcile(t)
			if got := e.graph.Count(graph.CallGetAppSubscriptions); got != 2 {
				t.Errorf("GetAppSubscriptions calls = %d after a no-op reconcile, want 2", got)
			}
		})
	}
}

// A rotated app secret is used on the very next reconcile, without a restart, and a missing
// Secret recovers as soon as it is created.
func TestMetaAppSecretRotation(t *testing.T) {
	const rotated = "r0tated-app-value"
	m := &maMeta{sub: wabaSub(maCallbackURL, maAllFields...)}
	e := newMAEnv(t, m, maApp())
	ctx := context.Background()

	e.reconcile(t)
	if got := maConds(e.get(t))[v1.ConditionStalled]; got != "True/SecretMissing" {
		t.Fatalf("Stalled = %q without the Secret, want True/SecretMissing", got)
	}
	if err := e.c.Create(ctx, maSecretBoth()); err != nil {
		t.Fatal(err)
	}
	e.reconcile(t)
	if got := maConds(e.get(t)); got[v1.ConditionReady] != "True/Ready" || got[v1.ConditionStalled] != "" {
		t.Fatalf("conditions = %v once the Secret exists, want Ready and not Stalled", got)
	}

	s := &corev1.Secret{}
	if err := e.c.Get(ctx, types.NamespacedName{Namespace: maNamespace, Name: maSecretName}, s); err != nil {
		t.Fatal(err)
	}
	s.Data["appSecret"] = []byte(rotated)
	if err := e.c.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	e.reconcile(t) // what the Secret watch triggers; no time has passed
	if len(m.apps) != 2 {
		t.Fatalf("Graph calls = %d, want 2", len(m.apps))
	}
	if got := m.apps[1].Secret.Reveal(); got != rotated {
		t.Errorf("the reconcile after the rotation used secret %q, want the rotated one", got)
	}

	// Meta rejects the new secret: stalled, and said at once rather than a period later.
	m.getErr = &graph.Error{Call: graph.CallGetAppSubscriptions, HTTPStatus: 400, Code: 190, Class: graph.ClassAuth, Message: "Invalid OAuth access token"}
	s.Data["appSecret"] = []byte("wr0ng-app-value")
	if err := e.c.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	res := e.reconcile(t)
	app := e.get(t)
	if got := maConds(app)[v1.ConditionStalled]; got != "True/CredentialsRejected" {
		t.Errorf("Stalled = %q, want True/CredentialsRejected", got)
	}
	if res.RequeueAfter != 0 {
		t.Errorf("RequeueAfter = %v for rejected credentials, want none (the Secret watch brings it back)", res.RequeueAfter)
	}
	e.noSecretLeak(t, app, rotated, "wr0ng-app-value")
}

// With manageSubscriptions the fields are set once; later checks find them and write nothing.
func TestMetaAppManageSubscriptionsOnce(t *testing.T) {
	m := &maMeta{sub: wabaSub(maCallbackURL, "messages")}
	e := newMAEnv(t, m, maApp(func(a *v1.MetaApp) { a.Spec.ManageSubscriptions = true }), maSecretBoth())
	for range 3 {
		res := e.reconcile(t)
		e.clock.Step(res.RequeueAfter)
	}
	if got := e.graph.Count(graph.CallSetAppSubscription); got != 1 {
		t.Errorf("SetAppSubscription calls = %d, want 1", got)
	}
	if got := e.graph.Count(graph.CallGetAppSubscriptions); got != 3 {
		t.Errorf("GetAppSubscriptions calls = %d, want 3 (one per period)", got)
	}
	app := e.get(t)
	if got := maConds(app)[v1.ConditionReady]; got != "True/Ready" {
		t.Errorf("Ready = %s, want True/Ready", got)
	}
	if app.Status.MissingFields != nil {
		t.Errorf("missingFields = %v, want none", app.Status.MissingFields)
	}
	e.noSecretLeak(t, app)
}

func TestMetaAppPaused(t *testing.T) {
	m := &maMeta{sub: wabaSub(maCallbackURL, "messages")}
	e := newMAEnv(t, m, maApp(func(a *v1.MetaApp) {
		a.Spec.ManageSubscriptions = true
		a.Annotations = map[string]string{AnnotationPaused: "true"}
	}), maSecretBoth())
	res := e.reconcile(t)
	if n := len(e.graph.Calls()); n != 0 {
		t.Errorf("Graph calls = %d while paused, want 0", n)
	}
	if res != (ctrl.Result{}) {
		t.Errorf("result = %+v while paused, want none", res)
	}
	if app := e.get(t); len(app.Status.Conditions) != 0 {
		t.Errorf("conditions = %v while paused, want none", maConds(app))
	}
}

func TestMetaAppNotFound(t *testing.T) {
	e := newMAEnv(t, &maMeta{})
	if res := e.reconcile(t); res != (ctrl.Result{}) {
		t.Errorf("result = %+v, want none", res)
	}
}

// A Kubernetes error reading the Secret is returned for a retry, not reported as missing.
func TestMetaAppSecretReadError(t *testing.T) {
	e := newMAEnv(t, &maMeta{}, maApp())
	boom := errors.New("etcd is down")
	e.r.Client = maFailingSecrets{Client: e.c, err: boom}
	if _, err := e.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: maKey}); !errors.Is(err, boom) {
		t.Errorf("Reconcile error = %v, want %v", err, boom)
	}
	if n := len(e.graph.Calls()); n != 0 {
		t.Errorf("Graph calls = %d, want 0", n)
	}
}

// maFailingSecrets fails every Get of a Secret with err.
type maFailingSecrets struct {
	client.Client
	err error
}

func (c maFailingSecrets) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if _, ok := obj.(*corev1.Secret); ok {
		return c.err
	}
	return c.Client.Get(ctx, key, obj, opts...)
}

// A Secret maps to the MetaApps of its namespace that read it, for either key.
func TestMetaAppSecretMapping(t *testing.T) {
	app := func(ns, name, appSecret, verifyToken string) *v1.MetaApp {
		return maApp(func(a *v1.MetaApp) {
			a.Namespace, a.Name = ns, name
			a.Spec.AppSecretRef.Name, a.Spec.VerifyTokenRef.Name = appSecret, verifyToken
		})
	}
	e := newMAEnv(t, &maMeta{},
		app("shop", "a", "app-secret", "verify"),
		app("shop", "b", "other", "app-secret"),
		app("shop", "c", "other", "other"),
		app("bakery", "d", "app-secret", "app-secret"),
	)
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "app-secret"}}
	var got []string
	for _, req := range e.r.appsOfSecret(context.Background(), secret) {
		got = append(got, req.String())
	}
	if want := []string{"shop/a", "shop/b"}; !reflect.DeepEqual(got, want) {
		t.Errorf("appsOfSecret = %v, want %v", got, want)
	}
	if got := metaAppSecretNames(app("shop", "d", "same", "same")); !reflect.DeepEqual(got, []string{"same"}) {
		t.Errorf("metaAppSecretNames = %v, want one name", got)
	}
}

func TestMetaAppFieldHelpers(t *testing.T) {
	if got := missingFields([]string{"b", "a", "c"}, []string{"c"}); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("missingFields = %v", got)
	}
	if got := missingFields([]string{"a"}, []string{"a"}); got != nil {
		t.Errorf("missingFields = %v, want nil (omitted from status)", got)
	}
	if got := fieldUnion([]string{"b", "a"}, []string{"c", "a"}); !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
		t.Errorf("fieldUnion = %v", got)
	}
	app := maApp()
	if a, b := jittered(maRecheck, app.UID), jittered(maRecheck, app.UID); a != b || a < maRecheck || a > maRecheck+maRecheck/10 {
		t.Errorf("jittered = %v, %v: want the same, within 10%% above %v", a, b, maRecheck)
	}
}
