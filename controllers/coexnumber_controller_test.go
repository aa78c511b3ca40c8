// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"context"
	"strconv"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/coex-operator/coex-operator/api/v1alpha1"
	"github.com/coex-operator/coex-operator/internal/coexstatus"
	"github.com/coex-operator/coex-operator/internal/graph"
	"github.com/coex-operator/coex-operator/internal/webhook"
)

var _ = Describe("a CoexNumber", func() {
	var w *world
	BeforeEach(func() { w = newWorld() })

	It("is verified, subscribed and synced once, contacts first, then Active when history completes", func() {
		w.createApp()
		n := w.number()
		Eventually(cond(n, v1.ConditionHistorySyncRequested)).Should(Equal("True/" + coexstatus.ReasonRequested))
		Expect(cond(n, v1.ConditionVerified)()).To(Equal("True/" + coexstatus.ReasonCoexistenceConfirmed))
		Expect(cond(n, v1.ConditionWebhooksSubscribed)()).To(Equal("True/" + coexstatus.ReasonSubscribed))
		Expect(cond(n, v1.ConditionContactsSyncRequested)()).To(Equal("True/" + coexstatus.ReasonRequested))
		Expect(w.callsSoFar()).To(ContainElements("RequestContactsSync", "RequestHistorySync"))
		calls := w.callsSoFar()
		Expect(indexOf(calls, "RequestContactsSync")).To(BeNumerically("<", indexOf(calls, "RequestHistorySync")), "contacts first")

		got := fresh(n)
		Expect(got.Status.Contacts.RequestID).To(Equal("contacts-1"))
		Expect(got.Status.History.RequestID).To(Equal("history-1"))
		Expect(got.Status.History.IntentAt).NotTo(BeNil())
		Expect(got.Status.SyncDeadline.Time).To(Equal(got.CreationTimestamp.Add(24 * time.Hour)))
		Expect(got.Status.Phase).To(Equal(v1.PhaseSyncing), "history has not arrived yet")
		Expect(cond(n, v1.ConditionReconciling)()).To(HavePrefix("True/"))

		receiverSets(n, func(c *v1.CoexNumber) {
			coexstatus.Set(c, v1.ConditionHistorySynced, metav1.ConditionTrue, coexstatus.ReasonHistoryCompleted, "progress 100")
		})
		force(n)
		Eventually(phaseOf(n)).Should(Equal(v1.PhaseActive))
		Expect(cond(n, v1.ConditionReady)()).To(Equal("True/" + coexstatus.ReasonActive))
		Expect(cond(n, v1.ConditionReconciling)()).To(BeEmpty())
		Expect(fresh(n).Status.ObservedGeneration).To(Equal(fresh(n).Generation))

		Consistently(w.count(graph.CallRequestHistorySync), "2s").Should(Equal(1))
		Expect(w.count(graph.CallRequestContactsSync)()).To(Equal(1))
		Expect(eventReasons(n)()).To(ContainElements(coexstatus.ReasonCoexistenceConfirmed, coexstatus.ReasonRequested))
	})

	It("requests only the syncs spec.sync asks for", func() {
		w.createApp()
		no := false
		n := w.number(func(n *v1.CoexNumber) { n.Spec.Sync.History = &no })
		Eventually(phaseOf(n)).Should(Equal(v1.PhaseActive), "no history wanted: Active once contacts are requested")
		Expect(w.count(graph.CallRequestHistorySync)()).To(BeZero())
		Expect(w.count(graph.CallRequestContactsSync)()).To(Equal(1))
	})

	It("keeps Meta's answer when another writer changes the number meanwhile: one request, its id recorded", func() {
		w.createApp()
		var first atomic.Bool
		first.Store(true)
		var n *v1.CoexNumber
		w.fake.RequestHistorySyncFunc = func(context.Context, graph.Secret, string) (graph.SyncRequest, error) {
			if first.CompareAndSwap(true, false) {
				// Meta accepts the request, but the status write that would record it fails:
				// someone changes the number meanwhile, so the optimistic-lock patch is refused.
				setAnnotation(n, "test/bump", "1")
				return graph.SyncRequest{RequestID: "history-1"}, nil
			}
			return graph.SyncRequest{}, &graph.Error{Call: graph.CallRequestHistorySync, HTTPStatus: 400, Code: 100,
				Subcode: 2593107, Message: "History sync already requested", Class: graph.ClassAlreadyRequested}
		}
		n = w.number()
		Eventually(cond(n, v1.ConditionHistorySyncRequested)).Should(Equal("True/" + coexstatus.ReasonRequested))
		got := fresh(n)
		Expect(got.Status.History.RequestID).To(Equal("history-1"), "the answer survives the conflicting write")
		Expect(got.Status.History.RequestedAt).NotTo(BeNil())
		Consistently(w.count(graph.CallRequestHistorySync), "2s").Should(Equal(1),
			"the 200 was received: never asked again")
	})

	It("turns ReonboardRequired, Stalled, with a Warning, when the deadline passes without a request", func() {
		w.createApp()
		w.fake.RequestContactsSyncFunc = func(context.Context, graph.Secret, string) (graph.SyncRequest, error) {
			return graph.SyncRequest{}, transient()
		}
		onboarded := metav1.NewTime(clk.Now().Add(-23 * time.Hour))
		n := w.number(func(n *v1.CoexNumber) { n.Spec.OnboardedAt = &onboarded })
		Eventually(cond(n, v1.ConditionContactsSyncRequested)).Should(Equal("False/" + coexstatus.ReasonGraphUnavailable))
		Expect(phaseOf(n)()).To(Equal(v1.PhaseSyncing))

		clk.SetTime(onboarded.Add(24*time.Hour + time.Second))
		force(n)
		Eventually(phaseOf(n)).Should(Equal(v1.PhaseReonboardRequired))
		Expect(cond(n, v1.ConditionStalled)()).To(Equal("True/" + coexstatus.ReasonReonboardRequired))
		Expect(message(n, v1.ConditionContactsSyncRequested)).To(SatisfyAll(
			ContainSubstring("24 h window closed"), ContainSubstring("onboard again")))
		Eventually(eventReasons(n)).Should(ContainElement(coexstatus.ReasonWindowExpired))
		calls := w.count(graph.CallRequestContactsSync)()
		force(n)
		Consistently(w.count(graph.CallRequestContactsSync), "2s").Should(Equal(calls), "no POST past the deadline")
		Expect(w.count(graph.CallRequestHistorySync)()).To(BeZero())
	})

	It("still ends requested when Meta throttles until just before the deadline", func() {
		w.createApp()
		var throttle atomic.Bool
		throttle.Store(true)
		w.fake.RequestContactsSyncFunc = func(context.Context, graph.Secret, string) (graph.SyncRequest, error) {
			if throttle.Load() {
				return graph.SyncRequest{}, transient()
			}
			return graph.SyncRequest{RequestID: "contacts-late"}, nil
		}
		onboarded := metav1.NewTime(clk.Now().Add(-time.Hour))
		n := w.number(func(n *v1.CoexNumber) { n.Spec.OnboardedAt = &onboarded })
		Eventually(cond(n, v1.ConditionContactsSyncRequested)).Should(Equal("False/" + coexstatus.ReasonGraphUnavailable))
		clk.SetTime(onboarded.Add(24*time.Hour - time.Minute))
		force(n)
		Eventually(w.count(graph.CallRequestContactsSync)).Should(BeNumerically(">=", 2))
		throttle.Store(false)
		force(n)
		Eventually(cond(n, v1.ConditionContactsSyncRequested)).Should(Equal("True/" + coexstatus.ReasonRequested))
		Eventually(cond(n, v1.ConditionHistorySyncRequested)).Should(Equal("True/" + coexstatus.ReasonRequested))
		Expect(fresh(n).Status.Contacts.RequestID).To(Equal("contacts-late"))
		Expect(phaseOf(n)()).NotTo(Equal(v1.PhaseReonboardRequired))
	})

	It("keeps an unknown outcome unknown when the re-ask is throttled: the next answer is read as a re-ask's", func() {
		w.createApp()
		answers := []error{
			&graph.Error{Call: graph.CallRequestContactsSync, HTTPStatus: 503, Class: graph.ClassTransient}, // may have been taken
			transient(), // the re-ask throttled: certainly not taken
			&graph.Error{Call: graph.CallRequestContactsSync, HTTPStatus: 400, Code: 100, Message: "Invalid parameter",
				Class: graph.ClassPermanent}, // an answer that says nothing
		}
		var calls atomic.Int64
		w.fake.RequestContactsSyncFunc = func(context.Context, graph.Secret, string) (graph.SyncRequest, error) {
			return graph.SyncRequest{}, answers[min(int(calls.Add(1))-1, len(answers)-1)]
		}
		n := w.number()
		Eventually(cond(n, v1.ConditionContactsSyncRequested)).Should(Equal("False/" + coexstatus.ReasonOutcomeUnknown))
		intent := fresh(n).Status.Contacts.IntentAt
		Expect(intent).NotTo(BeNil())
		for range 2 {
			clk.Step(retryTransient)
			force(n)
			Eventually(calls.Load).Should(BeNumerically(">=", calls.Load()+1))
		}
		Eventually(cond(n, v1.ConditionContactsSyncRequested)).Should(Equal("False/"+coexstatus.ReasonRequestUnconfirmed),
			"the 400 answers a re-ask (the first ask's outcome is still unknown), not a first ask (SyncRefused)")
		Expect(fresh(n).Status.Contacts.IntentAt).To(Equal(intent), "the first ask's intent is kept through the throttle")
		Consistently(calls.Load, "2s").Should(Equal(int64(3)), "no fourth ask")
	})

	It("retries a failing sync request after a backoff, not in a loop, even when each error differs", func() {
		w.createApp()
		var calls atomic.Int64
		w.fake.RequestContactsSyncFunc = func(context.Context, graph.Secret, string) (graph.SyncRequest, error) {
			// Meta's messages carry a new fbtrace id every time, so the status changes on
			// every failure.
			return graph.SyncRequest{}, &graph.Error{Call: graph.CallRequestContactsSync, HTTPStatus: 503,
				FBTraceID: strconv.FormatInt(calls.Add(1), 10), Class: graph.ClassTransient}
		}
		n := w.number()
		Eventually(cond(n, v1.ConditionContactsSyncRequested)).Should(Equal("False/" + coexstatus.ReasonOutcomeUnknown))
		Consistently(calls.Load, "3s").Should(BeNumerically("<=", 2), "the next try waits for the backoff")
	})

	It("makes no Graph call while offboarded, and verifies again when reconnected", func() {
		w.createApp()
		n := w.number(func(n *v1.CoexNumber) { n.Annotations = map[string]string{AnnotationPaused: "true"} })
		receiverSets(n, func(c *v1.CoexNumber) {
			coexstatus.Set(c, v1.ConditionOffboarded, metav1.ConditionTrue, webhook.EventPartnerRemoved,
				"PARTNER_REMOVED: PRIMARY_INACTIVITY, initiated by SYSTEM")
		})
		setAnnotation(n, AnnotationPaused, "")
		Eventually(phaseOf(n)).Should(Equal(v1.PhaseOffboarded))
		Expect(cond(n, v1.ConditionStalled)()).To(Equal("True/" + coexstatus.ReasonOffboarded))
		force(n)
		Consistently(w.numberCalls, "2s").Should(BeEmpty(), "no Graph call for an offboarded number")

		at := metav1.NewTime(clk.Now())
		receiverSets(n, func(c *v1.CoexNumber) {
			coexstatus.Set(c, v1.ConditionOffboarded, metav1.ConditionFalse, webhook.EventAccountReconnected, "reconnected")
			c.Status.Offboarding = &v1.OffboardingStatus{Event: webhook.EventAccountReconnected, At: &at}
		})
		// The receiver's write alone reconciles the number and verification runs again.
		Eventually(w.count(graph.CallGetPhoneNumber)).Should(BeNumerically(">=", 1))
		Eventually(cond(n, v1.ConditionVerified)).Should(Equal("True/" + coexstatus.ReasonCoexistenceConfirmed))
		Eventually(cond(n, v1.ConditionHistorySyncRequested)).Should(Equal("True/" + coexstatus.ReasonRequested))
	})

	It("stalls a number of an unsupported country with a clear message and no Graph call", func() {
		w.createApp()
		n := w.number(func(n *v1.CoexNumber) { n.Spec.DisplayPhoneNumber = "+2348012345678" })
		Eventually(phaseOf(n)).Should(Equal(v1.PhaseFailed))
		Expect(cond(n, v1.ConditionStalled)()).To(Equal("True/" + coexstatus.ReasonUnsupportedCountry))
		Expect(message(n, v1.ConditionVerified)).To(SatisfyAll(ContainSubstring("+234"), ContainSubstring("not available")))
		Expect(w.numberCalls()).To(BeEmpty())
	})

	DescribeTable("stalls a number Meta does not report as a coexistence number",
		func(pn graph.PhoneNumber, reason, says string) {
			w.createApp()
			w.fake.GetPhoneNumberFunc = func(context.Context, graph.Secret, string) (graph.PhoneNumber, error) { return pn, nil }
			n := w.number()
			Eventually(phaseOf(n)).Should(Equal(v1.PhaseFailed))
			Expect(cond(n, v1.ConditionVerified)()).To(Equal("False/" + reason))
			Expect(message(n, v1.ConditionVerified)).To(ContainSubstring(says))
			Expect(w.count(graph.CallRequestContactsSync)()).To(BeZero())
		},
		Entry("not on the Business app", graph.PhoneNumber{IsOnBizApp: false, PlatformType: "CLOUD_API"},
			coexstatus.ReasonNotOnBusinessApp, "is_on_biz_app=false"),
		Entry("not on the Cloud API", graph.PhoneNumber{IsOnBizApp: true, PlatformType: "ON_PREMISE"},
			coexstatus.ReasonNotCloudAPI, `platform_type="ON_PREMISE"`),
	)

	It("waits for its MetaApp, then proceeds when it is created", func() {
		n := w.number()
		Eventually(cond(n, v1.ConditionVerified)).Should(Equal("False/" + coexstatus.ReasonMetaAppNotFound))
		Expect(phaseOf(n)()).To(Equal(v1.PhaseVerifying))
		w.createApp()
		Eventually(cond(n, v1.ConditionContactsSyncRequested)).Should(Equal("True/" + coexstatus.ReasonRequested))
	})

	It("waits for a missing token Secret, then proceeds when it is created", func() {
		w.createApp()
		n := w.number(func(n *v1.CoexNumber) { n.Spec.TokenSecretRef.Name = "later-token" })
		Eventually(cond(n, v1.ConditionVerified)).Should(Equal("False/" + coexstatus.ReasonCredentialsMissing))
		Expect(message(n, v1.ConditionVerified)).To(ContainSubstring(`Secret "later-token" not found`))
		Expect(k8s.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: w.ns, Name: "later-token"},
			StringData: map[string]string{"token": "t0ken"},
		})).To(Succeed())
		Eventually(cond(n, v1.ConditionVerified)).Should(Equal("True/" + coexstatus.ReasonCoexistenceConfirmed))
	})

	It("exchanges a signup code once, into a Secret it owns", func() {
		w.createApp()
		var tokens []graph.Secret
		w.fake.GetPhoneNumberFunc = func(_ context.Context, tok graph.Secret, id string) (graph.PhoneNumber, error) {
			tokens = append(tokens, tok)
			return graph.PhoneNumber{ID: id, IsOnBizApp: true, PlatformType: graph.PlatformCloudAPI}, nil
		}
		n := w.number(func(n *v1.CoexNumber) {
			n.Spec.TokenSecretRef = nil
			n.Spec.SignupCodeSecretRef = &v1.SecretKeySelector{Name: "number-token", Key: "code"}
		})
		Eventually(cond(n, v1.ConditionHistorySyncRequested)).Should(Equal("True/" + coexstatus.ReasonRequested))
		got := fresh(n)
		Expect(got.Status.Credentials.ExchangedAt).NotTo(BeNil())
		var s corev1.Secret
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: w.ns, Name: got.Status.Credentials.TokenSecretName}, &s)).To(Succeed())
		Expect(string(s.Data["token"])).To(Equal("exchanged-token"))
		Expect(metav1.IsControlledBy(&s, got)).To(BeTrue(), "the token Secret is owned by the number")
		Expect(tokens[0].Reveal()).To(Equal("exchanged-token"), "the exchanged token is the one used")
		force(n)
		Consistently(w.count(graph.CallExchangeCode), "2s").Should(Equal(1), "a code is exchanged once")
		Expect(eventReasons(n)()).To(ContainElement("SignupCodeExchanged"))
	})

	It("stalls when the signup code was already used", func() {
		w.createApp()
		w.fake.ExchangeCodeFunc = func(context.Context, graph.App, graph.Secret) (graph.Secret, error) {
			return "", &graph.Error{Call: graph.CallExchangeCode, HTTPStatus: 400, Code: 100, Subcode: 36009,
				Message: "This authorization code has been used.", Class: graph.ClassPermanent}
		}
		n := w.number(func(n *v1.CoexNumber) {
			n.Spec.TokenSecretRef = nil
			n.Spec.SignupCodeSecretRef = &v1.SecretKeySelector{Name: "number-token", Key: "code"}
		})
		Eventually(cond(n, v1.ConditionStalled)).Should(Equal("True/" + coexstatus.ReasonSignupCodeSpent))
		Expect(message(n, v1.ConditionVerified)).To(ContainSubstring("run Embedded Signup again"))
		Expect(w.count(graph.CallRequestContactsSync)()).To(BeZero())
	})

	It("stalls on rejected credentials and never prints the token", func() {
		w.createApp()
		w.fake.GetPhoneNumberFunc = func(context.Context, graph.Secret, string) (graph.PhoneNumber, error) {
			return graph.PhoneNumber{}, &graph.Error{Call: graph.CallGetPhoneNumber, HTTPStatus: 401, Code: 190,
				Type: "OAuthException", Message: "Invalid OAuth access token", Class: graph.ClassAuth}
		}
		n := w.number()
		Eventually(cond(n, v1.ConditionStalled)).Should(Equal("True/" + coexstatus.ReasonCredentialsRejected))
		Expect(message(n, v1.ConditionVerified)).NotTo(ContainSubstring("t0ken"))
	})

	It("subscribes the app to the WABA when missing, and restores it after drift", func() {
		w.createApp()
		n := w.number()
		Eventually(cond(n, v1.ConditionWebhooksSubscribed)).Should(Equal("True/" + coexstatus.ReasonSubscribed))
		Expect(w.count(graph.CallSubscribeApp)()).To(Equal(1))
		Expect(fresh(n).Status.Subscription.CreatedByOperator).To(BeTrue())

		w.subscribed.Store(false) // someone removes it in Meta's UI
		clk.Step(DefaultSubscriptionRecheck * 2)
		force(n)
		Eventually(w.count(graph.CallSubscribeApp)).Should(Equal(2))
		Eventually(eventReasons(n)).Should(ContainElement("SubscriptionRestored"))
	})

	It("finds an existing subscription and calls Meta once per recheck period after that", func() {
		w.subscribed.Store(true)
		w.createApp()
		n := w.number()
		Eventually(cond(n, v1.ConditionHistorySyncRequested)).Should(Equal("True/" + coexstatus.ReasonRequested))
		Expect(w.count(graph.CallSubscribeApp)()).To(BeZero())
		Expect(fresh(n).Status.Subscription.CreatedByOperator).To(BeFalse())
		before := len(w.numberCalls())
		// Status writes by the receiver reconcile the number; within the period they cost no call.
		for i := range 3 {
			receiverSets(n, func(c *v1.CoexNumber) {
				c.Status.Contacts.Added = int64(i + 1)
			})
		}
		Consistently(func() int { return len(w.numberCalls()) }, "2s").Should(Equal(before))
	})

	It("requests nothing while suspended, and requests when resumed", func() {
		w.createApp()
		n := w.number(func(n *v1.CoexNumber) { n.Spec.Suspend = true })
		Eventually(phaseOf(n)).Should(Equal(v1.PhaseSuspended))
		Expect(cond(n, v1.ConditionReady)()).To(Equal("False/" + coexstatus.ReasonSuspended))
		Expect(w.numberCalls()).To(BeEmpty(), "suspended: not one Graph call for the number")
		updateSpec(n, func(cur *v1.CoexNumber) { cur.Spec.Suspend = false })
		Eventually(cond(n, v1.ConditionHistorySyncRequested)).Should(Equal("True/" + coexstatus.ReasonRequested))
	})

	It("does nothing while paused", func() {
		w.createApp()
		n := w.number(func(n *v1.CoexNumber) { n.Annotations = map[string]string{AnnotationPaused: "true"} })
		Consistently(w.numberCalls, "2s").Should(BeEmpty())
		Expect(fresh(n).Status.Phase).To(BeEmpty())
		setAnnotation(n, AnnotationPaused, "")
		Eventually(cond(n, v1.ConditionHistorySyncRequested)).Should(Equal("True/" + coexstatus.ReasonRequested))
	})

	It("on deletion removes the subscription it made once no other number needs it, and never deregisters", func() {
		w.createApp()
		waba := uniqueWABA()
		n := w.number(func(n *v1.CoexNumber) { n.Spec.WABAID = waba })
		other := w.number(func(o *v1.CoexNumber) { o.Name = "sales"; o.Spec.PhoneNumberID = "3002"; o.Spec.WABAID = waba })
		Eventually(cond(n, v1.ConditionWebhooksSubscribed)).Should(HavePrefix("True/"))
		Eventually(cond(other, v1.ConditionWebhooksSubscribed)).Should(HavePrefix("True/"))
		Expect(fresh(n).Finalizers).To(ContainElement(finalizer))

		deleteAndWait(n)
		Expect(w.count(graph.CallUnsubscribeApp)()).To(BeZero(), "the other number still needs the subscription")

		deleteAndWait(other)
		Expect(w.count(graph.CallUnsubscribeApp)()).To(Equal(1))
	})

	It("on deletion keeps a subscription that a number of the same Meta app in another namespace uses", func() {
		w.createApp()
		waba := uniqueWABA()
		n := w.number(func(n *v1.CoexNumber) { n.Spec.WABAID = waba })
		Eventually(cond(n, v1.ConditionWebhooksSubscribed)).Should(Equal("True/" + coexstatus.ReasonSubscribed))
		Expect(fresh(n).Status.Subscription.CreatedByOperator).To(BeTrue())

		// Another tenant's namespace, a MetaApp with the same app ID, a number on the same WABA:
		// Meta's subscription is the (app, WABA) pair, so they share it.
		w2 := newWorld()
		w2.subscribed.Store(true)
		w2.createApp()
		n2 := w2.number(func(o *v1.CoexNumber) { o.Spec.WABAID = waba; o.Spec.PhoneNumberID = "3002" })
		Eventually(cond(n2, v1.ConditionWebhooksSubscribed)).Should(HavePrefix("True/"))

		deleteAndWait(n)
		Expect(w.count(graph.CallUnsubscribeApp)()).To(BeZero(), "a number of the same app in another namespace uses it")
		Eventually(func() bool { return fresh(n2).Status.Subscription.CreatedByOperator }).Should(BeTrue(),
			"the record of who made it moves to the number that stays")

		deleteAndWait(n2)
		Expect(w2.count(graph.CallUnsubscribeApp)()).To(Equal(1), "the last user removes it")
	})

	It("on deletion removes its subscription when the other namespace's number belongs to another Meta app", func() {
		w.createApp()
		waba := uniqueWABA()
		n := w.number(func(n *v1.CoexNumber) { n.Spec.WABAID = waba })
		Eventually(cond(n, v1.ConditionWebhooksSubscribed)).Should(Equal("True/" + coexstatus.ReasonSubscribed))

		w2 := newWorld()
		w2.createApp(func(a *v1.MetaApp) { a.Spec.AppID = "1999" })
		n2 := w2.number(func(o *v1.CoexNumber) { o.Spec.WABAID = waba; o.Spec.PhoneNumberID = "3002" })
		Eventually(cond(n2, v1.ConditionWebhooksSubscribed)).Should(HavePrefix("True/"))

		deleteAndWait(n)
		Expect(w.count(graph.CallUnsubscribeApp)()).To(Equal(1))
	})

	It("on deletion of a suspended number makes no Graph call and says the subscription was kept", func() {
		w.createApp()
		n := w.number(func(n *v1.CoexNumber) { n.Spec.WABAID = uniqueWABA() })
		Eventually(cond(n, v1.ConditionWebhooksSubscribed)).Should(Equal("True/" + coexstatus.ReasonSubscribed))
		updateSpec(n, func(cur *v1.CoexNumber) { cur.Spec.Suspend = true })
		Eventually(phaseOf(n)).Should(Equal(v1.PhaseSuspended))
		before := len(w.numberCalls())

		deleteAndWait(n)
		Expect(w.numberCalls()).To(HaveLen(before), "suspended: not one Graph call, deletion included")
		Eventually(eventReasons(n)).Should(ContainElement("SubscriptionKept"))
	})

	It("warns, named for what it measures, when no message from the app is seen for 10 days", func() {
		w.createApp()
		n := w.number()
		Eventually(cond(n, v1.ConditionAppEchoesRecent)).Should(Equal("Unknown/NoEchoYet"))
		last := metav1.NewTime(clk.Now())
		receiverSets(n, func(c *v1.CoexNumber) { c.Status.Echoes = &v1.EchoStatus{Count: 3, LastAt: &last} })
		force(n) // echo counts alone do not reconcile a number; its next reconcile reads them
		Eventually(cond(n, v1.ConditionAppEchoesRecent)).Should(Equal("True/EchoSeen"))
		clk.Step(DefaultAppInactivityWarning + time.Hour)
		force(n)
		Eventually(cond(n, v1.ConditionAppEchoesRecent)).Should(Equal("False/NoRecentEcho"))
		Expect(message(n, v1.ConditionAppEchoesRecent)).To(ContainSubstring("ask the business to open the app"))
		Expect(phaseOf(n)()).NotTo(Equal(v1.PhaseFailed), "a warning, not a failure")
	})
})

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}
