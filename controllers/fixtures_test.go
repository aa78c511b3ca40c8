// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/coex-operator/coex-operator/api/v1alpha1"
	"github.com/coex-operator/coex-operator/internal/graph"
)

const (
	testAppID = "1001"
	testWABA  = "2001"
	testPhone = "3001"
)

// world is one spec's namespace: a MetaApp with its Secret, a token Secret, and the Graph
// fake that stands for Meta, answering like a healthy coexistence number.
type world struct {
	ns   string
	fake *graph.Fake
	// subscribed is whether the fake has the app subscribed to the WABA.
	subscribed atomic.Bool
	mu         sync.Mutex
	calls      []string // Graph calls in order, for ordering assertions
}

func newWorld() *world {
	GinkgoHelper()
	clk.SetTime(time.Now().Truncate(time.Second))
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "coex-"}}
	Expect(k8s.Create(ctx, ns)).To(Succeed())
	w := &world{ns: ns.Name}
	w.fake = &graph.Fake{
		GetPhoneNumberFunc: func(_ context.Context, _ graph.Secret, id string) (graph.PhoneNumber, error) {
			w.record("GetPhoneNumber")
			return graph.PhoneNumber{ID: id, IsOnBizApp: true, PlatformType: graph.PlatformCloudAPI}, nil
		},
		ListSubscribedAppsFunc: func(context.Context, graph.Secret, string) ([]graph.SubscribedApp, error) {
			w.record("ListSubscribedApps")
			if w.subscribed.Load() {
				return []graph.SubscribedApp{{AppID: testAppID}}, nil
			}
			return nil, nil
		},
		SubscribeAppFunc: func(context.Context, graph.Secret, string, graph.SubscribeOptions) error {
			w.record("SubscribeApp")
			w.subscribed.Store(true)
			return nil
		},
		UnsubscribeAppFunc: func(context.Context, graph.Secret, string) error {
			w.record("UnsubscribeApp")
			w.subscribed.Store(false)
			return nil
		},
		RequestContactsSyncFunc: func(context.Context, graph.Secret, string) (graph.SyncRequest, error) {
			w.record("RequestContactsSync")
			return graph.SyncRequest{RequestID: "contacts-1"}, nil
		},
		RequestHistorySyncFunc: func(context.Context, graph.Secret, string) (graph.SyncRequest, error) {
			w.record("RequestHistorySync")
			return graph.SyncRequest{RequestID: "history-1"}, nil
		},
		ExchangeCodeFunc: func(context.Context, graph.App, graph.Secret) (graph.Secret, error) {
			w.record("ExchangeCode")
			return "exchanged-token", nil
		},
		GetAppSubscriptionsFunc: func(context.Context, graph.App) ([]graph.AppSubscription, error) {
			return []graph.AppSubscription{{Object: "whatsapp_business_account", Active: true, Fields: v1.CoexistenceWebhookFields}}, nil
		},
		SetAppSubscriptionFunc: func(context.Context, graph.App, graph.AppSubscriptionRequest) error { return nil },
	}
	fakes.set(client.ObjectKey{Namespace: w.ns, Name: "acme"}, w.fake)
	Expect(k8s.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: w.ns, Name: "acme-app"},
		StringData: map[string]string{"app-secret": "s3cret", "verify-token": "v"},
	})).To(Succeed())
	Expect(k8s.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: w.ns, Name: "number-token"},
		StringData: map[string]string{"token": "t0ken", "code": "signup-code"},
	})).To(Succeed())
	return w
}

func (w *world) record(call string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls = append(w.calls, call)
}

func (w *world) callsSoFar() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.calls...)
}

// numberCalls are the Graph calls made for numbers (the MetaApp reconciler's app-level calls
// left out).
func (w *world) numberCalls() []string {
	var calls []string
	for _, c := range w.fake.Calls() {
		if c.Method != graph.CallGetAppSubscriptions && c.Method != graph.CallSetAppSubscription {
			calls = append(calls, c.Method)
		}
	}
	return calls
}

// count is how many times the Graph call was made.
func (w *world) count(call string) func() int {
	return func() int { return w.fake.Count(call) }
}

func (w *world) createApp(edits ...func(*v1.MetaApp)) {
	GinkgoHelper()
	app := &v1.MetaApp{
		ObjectMeta: metav1.ObjectMeta{Namespace: w.ns, Name: "acme"},
		Spec: v1.MetaAppSpec{
			AppID:          testAppID,
			AppSecretRef:   v1.SecretKeySelector{Name: "acme-app", Key: "app-secret"},
			VerifyTokenRef: v1.SecretKeySelector{Name: "acme-app", Key: "verify-token"},
		},
	}
	for _, e := range edits {
		e(app)
	}
	Expect(k8s.Create(ctx, app)).To(Succeed())
}

// wabaSeq numbers the WABAs of specs that need one of their own: every spec's namespace stays
// in the API server (envtest runs no namespace controller), and a subscription is shared by
// every number of the same app ID and WABA, in any namespace.
var wabaSeq atomic.Int64

func uniqueWABA() string { return fmt.Sprintf("29%05d", wabaSeq.Add(1)) }

// deleteAndWait deletes n and waits until its finalizer let it go.
func deleteAndWait(n *v1.CoexNumber) {
	GinkgoHelper()
	Expect(k8s.Delete(ctx, fresh(n))).To(Succeed())
	Eventually(func() error { return k8s.Get(ctx, client.ObjectKeyFromObject(n), &v1.CoexNumber{}) }).Should(
		MatchError(ContainSubstring("not found")))
}

// number creates a CoexNumber (after the MetaApp unless noApp), changed by each edit.
func (w *world) number(edits ...func(*v1.CoexNumber)) *v1.CoexNumber {
	GinkgoHelper()
	n := &v1.CoexNumber{
		ObjectMeta: metav1.ObjectMeta{Namespace: w.ns, Name: "support"},
		Spec: v1.CoexNumberSpec{
			AppRef:             v1.MetaAppReference{Name: "acme"},
			WABAID:             testWABA,
			PhoneNumberID:      testPhone,
			DisplayPhoneNumber: "+14155550123",
			TokenSecretRef:     &v1.SecretKeySelector{Name: "number-token", Key: "token"},
		},
	}
	for _, e := range edits {
		e(n)
	}
	Expect(k8s.Create(ctx, n)).To(Succeed())
	return n
}

// fresh reads n again.
func fresh(n *v1.CoexNumber) *v1.CoexNumber {
	GinkgoHelper()
	out := &v1.CoexNumber{}
	Expect(k8s.Get(ctx, client.ObjectKeyFromObject(n), out)).To(Succeed())
	return out
}

func phaseOf(n *v1.CoexNumber) func() v1.CoexNumberPhase {
	return func() v1.CoexNumberPhase { return fresh(n).Status.Phase }
}

// cond returns the condition typ of n as "Status/Reason".
func cond(n *v1.CoexNumber, typ string) func() string {
	return func() string {
		c := meta.FindStatusCondition(fresh(n).Status.Conditions, typ)
		if c == nil {
			return ""
		}
		return string(c.Status) + "/" + c.Reason
	}
}

func message(n *v1.CoexNumber, typ string) string {
	GinkgoHelper()
	c := meta.FindStatusCondition(fresh(n).Status.Conditions, typ)
	Expect(c).NotTo(BeNil(), "condition %s", typ)
	return c.Message
}

var forceSeq atomic.Int64

// force sets the reconcile-requested-at annotation to a new value, as a user would.
func force(n *v1.CoexNumber) {
	GinkgoHelper()
	Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur := fresh(n)
		if cur.Annotations == nil {
			cur.Annotations = map[string]string{}
		}
		cur.Annotations[AnnotationReconcileRequestedAt] = strconv.FormatInt(forceSeq.Add(1), 10)
		return k8s.Update(ctx, cur)
	})).To(Succeed())
}

// updateSpec changes the number's spec as a user would, retrying the conflicts the
// reconciler's own writes (finalizer, annotations) cause meanwhile.
func updateSpec(n *v1.CoexNumber, change func(*v1.CoexNumber)) {
	GinkgoHelper()
	Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur := fresh(n)
		change(cur)
		return k8s.Update(ctx, cur)
	})).To(Succeed())
}

// setAnnotation sets (or with "" removes) an annotation.
func setAnnotation(n *v1.CoexNumber, key, value string) {
	GinkgoHelper()
	Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur := fresh(n)
		if value == "" {
			delete(cur.Annotations, key)
		} else {
			if cur.Annotations == nil {
				cur.Annotations = map[string]string{}
			}
			cur.Annotations[key] = value
		}
		return k8s.Update(ctx, cur)
	})).To(Succeed())
}

// receiverSets writes status as the webhook receiver does (issue 5), retrying conflicts.
func receiverSets(n *v1.CoexNumber, change func(*v1.CoexNumber)) {
	GinkgoHelper()
	Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur := fresh(n)
		change(cur)
		return k8s.Status().Update(ctx, cur)
	})).To(Succeed())
}

// eventReasons lists the reasons of the Events about n.
func eventReasons(n *v1.CoexNumber) func() []string {
	return func() []string {
		var list eventsv1.EventList
		Expect(k8s.List(ctx, &list, client.InNamespace(n.Namespace))).To(Succeed())
		var reasons []string
		for _, e := range list.Items {
			if e.Regarding.Name == n.Name {
				reasons = append(reasons, e.Reason)
			}
		}
		return reasons
	}
}

func transient() error {
	return &graph.Error{Call: "test", HTTPStatus: 429, Code: 4, Message: "(#4) Application request limit reached", Class: graph.ClassTransient}
}
