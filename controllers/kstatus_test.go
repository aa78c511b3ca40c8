// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/coex-operator/coex-operator/api/v1alpha1"
	"github.com/coex-operator/coex-operator/internal/coexstatus"
)

// kstatusOf runs kstatus (Flux's cli-utils, what Flux's health checks and `kubectl wait`-style
// tools use) on the object as the API server returns it.
func kstatusOf(obj client.Object, kind string) func() status.Status {
	return func() status.Status { return kstatusResult(obj, kind).Status }
}

func kstatusResult(obj client.Object, kind string) *status.Result {
	GinkgoHelper()
	Expect(k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	Expect(err).NotTo(HaveOccurred())
	u := &unstructured.Unstructured{Object: m}
	u.SetGroupVersionKind(v1.GroupVersion.WithKind(kind))
	res, err := status.Compute(u)
	Expect(err).NotTo(HaveOccurred())
	return res
}

var _ = Describe("kstatus on real objects (what GitOps tools read)", func() {
	var w *world
	BeforeEach(func() { w = newWorld() })

	It("reads a syncing number as InProgress, an Active one as Current", func() {
		w.createApp()
		n := w.number()
		Eventually(cond(n, v1.ConditionHistorySyncRequested)).Should(Equal("True/" + coexstatus.ReasonRequested))
		Expect(phaseOf(n)()).To(Equal(v1.PhaseSyncing))
		Expect(kstatusOf(n.DeepCopy(), "CoexNumber")()).To(Equal(status.InProgressStatus))

		receiverSets(n, func(c *v1.CoexNumber) {
			coexstatus.Set(c, v1.ConditionHistorySynced, metav1.ConditionTrue, coexstatus.ReasonHistoryCompleted, "progress 100")
		})
		force(n)
		Eventually(phaseOf(n)).Should(Equal(v1.PhaseActive))
		Eventually(kstatusOf(n.DeepCopy(), "CoexNumber")).Should(Equal(status.CurrentStatus))
	})

	It("reads a stalled number as Failed", func() {
		w.createApp()
		n := w.number(func(n *v1.CoexNumber) { n.Spec.DisplayPhoneNumber = "+2348012345678" })
		Eventually(phaseOf(n)).Should(Equal(v1.PhaseFailed))
		Expect(kstatusOf(n.DeepCopy(), "CoexNumber")()).To(Equal(status.FailedStatus))
	})

	// kstatus has no suspended state: a suspended number is not Ready, so it reads InProgress
	// and the message says why (a Flux wait names it; Argo CD's health check says Suspended).
	It("reads a suspended number as InProgress whose message says it is suspended", func() {
		w.createApp()
		n := w.number(func(n *v1.CoexNumber) { n.Spec.Suspend = true })
		Eventually(phaseOf(n)).Should(Equal(v1.PhaseSuspended))
		res := kstatusResult(n.DeepCopy(), "CoexNumber")
		Expect(res.Status).To(Equal(status.InProgressStatus))
		Expect(res.Message).To(ContainSubstring("spec.suspend is true"))
	})

	It("reads a ready MetaApp as Current", func() {
		w.createApp()
		app := &v1.MetaApp{}
		app.Namespace, app.Name = w.ns, "acme"
		Eventually(kstatusOf(app, "MetaApp")).Should(Equal(status.CurrentStatus))
	})
})
