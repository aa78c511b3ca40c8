// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/coex-operator/coex-operator/api/v1alpha1"
	"github.com/coex-operator/coex-operator/internal/receivercreds"
)

// projectionKey is the receiver's credentials Secret the suite's manager keeps.
var projectionKey = client.ObjectKey{Namespace: "default", Name: receivercreds.DefaultSecretName}

// projected returns the projection's keys of namespace ns (every spec shares the Secret).
func projected(ns string) func() map[string]string {
	return func() map[string]string {
		s := &corev1.Secret{}
		if err := k8s.Get(ctx, projectionKey, s); err != nil {
			return nil
		}
		out := map[string]string{}
		for k, v := range s.Data {
			if ref, ok := receivercreds.ParseKey(k); ok && ref.Namespace == ns {
				out[ref.Name+"/"+ref.Key] = string(v)
			}
		}
		return out
	}
}

var _ = Describe("the receiver's credentials Secret", func() {
	It("holds exactly the keys the receiver reads, and an app secret's previous value for the grace after a rotation", func() {
		w := newWorld()
		w.createApp(func(a *v1.MetaApp) {
			a.Spec.Relay = &v1.RelaySpec{URL: "https://relay.example/ev", SecretRef: v1.SecretKeySelector{Name: "relay", Key: "hmac"}}
		})
		Expect(k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: w.ns, Name: "relay"},
			StringData: map[string]string{"hmac": "relay-key", "unrelated": "x"}})).To(Succeed())
		n := w.number(func(n *v1.CoexNumber) {
			n.Spec.Relay = &v1.RelaySpec{URL: "https://own.example/ev", SecretRef: v1.SecretKeySelector{Name: "own-relay", Key: "k"}}
		})
		Expect(k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: w.ns, Name: "own-relay"},
			StringData: map[string]string{"k": "own-key"}})).To(Succeed())

		// The access token and signup code (number-token) are the manager's alone.
		Eventually(projected(w.ns)).Should(Equal(map[string]string{
			"acme-app/app-secret": "s3cret", "acme-app/verify-token": "v", "relay/hmac": "relay-key", "own-relay/k": "own-key",
		}))

		By("rotating the app secret")
		secret := &corev1.Secret{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: w.ns, Name: "acme-app"}, secret)).To(Succeed())
		secret.Data["app-secret"] = []byte("n3w")
		Expect(k8s.Update(ctx, secret)).To(Succeed())
		Eventually(projected(w.ns)).Should(HaveKeyWithValue("acme-app/app-secret", "n3w"))
		Expect(projected(w.ns)()).To(HaveKeyWithValue("acme-app/app-secret.previous", "s3cret"))
		proj := &corev1.Secret{}
		Expect(k8s.Get(ctx, projectionKey, proj)).To(Succeed())
		Expect(proj.Annotations[receivercreds.AnnotationPreviousUntil]).To(ContainSubstring(w.ns + "_acme-app_app-secret.previous"))

		By("letting the grace pass; any change rebuilds the Secret without the previous value")
		clk.Step(DefaultRotationGrace + time.Minute)
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: w.ns, Name: "acme-app"}, secret)).To(Succeed())
		secret.Data["touched"] = []byte("1")
		Expect(k8s.Update(ctx, secret)).To(Succeed())
		Eventually(projected(w.ns)).ShouldNot(HaveKey("acme-app/app-secret.previous"))

		By("deleting the number: its own relay key goes")
		deleteAndWait(n)
		Eventually(projected(w.ns)).ShouldNot(HaveKey("own-relay/k"))
	})
})
