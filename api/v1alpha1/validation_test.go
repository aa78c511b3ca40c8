// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package v1alpha1_test

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/coex-operator/coex-operator/api/v1alpha1"
)

// edit changes an object the way a user editing its YAML would.
type edit func(*unstructured.Unstructured)

// set sets the field at a dotted path, such as "spec.wabaID".
func set(path string, value any) edit {
	return func(u *unstructured.Unstructured) {
		Expect(unstructured.SetNestedField(u.Object, value, strings.Split(path, ".")...)).To(Succeed())
	}
}

// unset removes the field at a dotted path.
func unset(path string) edit {
	return func(u *unstructured.Unstructured) {
		unstructured.RemoveNestedField(u.Object, strings.Split(path, ".")...)
	}
}

// expectRefused checks that the API server answered 422 Invalid with a cause on field whose
// message holds message: what `kubectl apply` would print to the user.
func expectRefused(err error, field, message string) {
	GinkgoHelper()
	Expect(err).To(HaveOccurred(), "the API server accepted the object")
	Expect(apierrors.IsInvalid(err)).To(BeTrue(), "want 422 Invalid from the API server, got: %v", err)
	status := err.(apierrors.APIStatus).Status()
	Expect(status.Details).NotTo(BeNil())
	Expect(status.Details.Causes).To(ContainElement(SatisfyAll(
		HaveField("Field", field),
		HaveField("Message", ContainSubstring(message)),
	)), "the refusal names the field and says why: %v", err)
	Expect(err.Error()).To(ContainSubstring(field))
}

var _ = Describe("the samples", func() {
	It("are accepted as they are, Secrets included", func() {
		ns := newNamespace()
		for _, s := range samples {
			obj := s.DeepCopy()
			obj.SetNamespace(ns)
			Expect(k8sClient.Create(ctx, obj)).To(Succeed(), "%s %s", obj.GetKind(), obj.GetName())
		}
	})

	It("get the schema's defaults", func() {
		ns := newNamespace()
		app := sample("MetaApp", ns)
		unset("spec.graphBaseURL")(app)
		Expect(k8sClient.Create(ctx, app)).To(Succeed())
		Expect(app.Object).To(HaveKeyWithValue("spec", SatisfyAll(
			HaveKeyWithValue("graphBaseURL", v1alpha1.DefaultGraphBaseURL),
			HaveKeyWithValue("graphAPIVersion", v1alpha1.DefaultGraphAPIVersion),
			HaveKeyWithValue("requiredFields", ConsistOf(toAny(v1alpha1.CoexistenceWebhookFields)...)),
		)))

		number := sample("CoexNumber", ns)
		unset("spec.sync")(number)
		Expect(k8sClient.Create(ctx, number)).To(Succeed())
		sync, _, _ := unstructured.NestedMap(number.Object, "spec", "sync")
		Expect(sync).To(Equal(map[string]any{"contacts": true, "history": true}))
	})
})

var _ = Describe("CoexNumber validation", func() {
	var ns string
	BeforeEach(func() { ns = newNamespace() })

	DescribeTable("refuses an invalid CoexNumber on create",
		func(e edit, field, message string) {
			number := sample("CoexNumber", ns)
			e(number)
			expectRefused(k8sClient.Create(ctx, number), field, message)
		},
		Entry("with no credentials", unset("spec.tokenSecretRef"),
			"spec", "one of tokenSecretRef or signupCodeSecretRef is required"),
		Entry("with two credentials", set("spec.signupCodeSecretRef", map[string]any{"name": "signup", "key": "code"}),
			"spec", "tokenSecretRef and signupCodeSecretRef are mutually exclusive"),
		Entry("without appRef", unset("spec.appRef"), "spec.appRef", "Required value"),
		Entry("without phoneNumberID", unset("spec.phoneNumberID"), "spec.phoneNumberID", "Required value"),
		Entry("with a phone number holding spaces", set("spec.displayPhoneNumber", "+1 415 555 0123"),
			"spec.displayPhoneNumber", "must be E.164"),
		Entry("with a phone number holding dashes", set("spec.displayPhoneNumber", "+1-415-555-0123"),
			"spec.displayPhoneNumber", "must be E.164"),
		Entry("with a phone number without '+'", set("spec.displayPhoneNumber", "14155550123"),
			"spec.displayPhoneNumber", "must be E.164"),
		Entry("with a phone number of 7 digits", set("spec.displayPhoneNumber", "+1415555"),
			"spec.displayPhoneNumber", "must be E.164"),
		Entry("with a phone number of 16 digits", set("spec.displayPhoneNumber", "+1415555012345678"),
			"spec.displayPhoneNumber", "must be E.164"),
		Entry("with a non-digit wabaID", set("spec.wabaID", "1022901293403ab"),
			"spec.wabaID", "wabaID must contain digits only"),
		Entry("with a non-digit phoneNumberID", set("spec.phoneNumberID", "pn-106540352242922"),
			"spec.phoneNumberID", "phoneNumberID must contain digits only"),
		Entry("with a Secret key that is not a key", set("spec.tokenSecretRef.key", "my token"),
			"spec.tokenSecretRef.key", "key must be a valid Secret key"),
		Entry("with an upper-case Secret name", set("spec.tokenSecretRef.name", "Acme"),
			"spec.tokenSecretRef.name", "name must be a valid Secret name"),
		Entry("with sync.history not a boolean", set("spec.sync.history", "yes"),
			"spec.sync.history", "must be of type boolean"),
	)

	It("accepts a number of any country: the country rule is the operator's, with a reason", func() {
		number := sample("CoexNumber", ns)
		set("spec.displayPhoneNumber", "+2348012345678")(number)
		Expect(k8sClient.Create(ctx, number)).To(Succeed())
	})

	It("accepts a signup code instead of a token", func() {
		number := sample("CoexNumber", ns)
		unset("spec.tokenSecretRef")(number)
		set("spec.signupCodeSecretRef", map[string]any{"name": "signup", "key": "code"})(number)
		Expect(k8sClient.Create(ctx, number)).To(Succeed())
	})

	It("accepts a relay endpoint of its own", func() {
		number := sample("CoexNumber", ns)
		set("spec.relay", relay("https://app.example.com/coex/events"))(number)
		Expect(k8sClient.Create(ctx, number)).To(Succeed())
	})

	DescribeTable("refuses an invalid relay",
		func(e edit, field, message string) {
			number := sample("CoexNumber", ns)
			set("spec.relay", relay("https://app.example.com/coex/events"))(number)
			e(number)
			expectRefused(k8sClient.Create(ctx, number), field, message)
		},
		Entry("over plain http to a public host", set("spec.relay.url", "http://app.example.com/coex/events"),
			"spec.relay.url", "url must be an https URL, or http to a loopback host"),
		Entry("without secretRef", unset("spec.relay.secretRef"), "spec.relay.secretRef", "Required value"),
		Entry("without url", unset("spec.relay.url"), "spec.relay.url", "Required value"),
	)

	DescribeTable("refuses to change what identifies the number",
		func(before, after edit, field, message string) {
			number := sample("CoexNumber", ns)
			before(number)
			Expect(k8sClient.Create(ctx, number)).To(Succeed())
			after(number)
			expectRefused(k8sClient.Update(ctx, number), field, message)
		},
		Entry("wabaID", noEdit, set("spec.wabaID", "102290129340399"), "spec.wabaID", "wabaID is immutable"),
		Entry("phoneNumberID", noEdit, set("spec.phoneNumberID", "106540352242923"),
			"spec.phoneNumberID", "phoneNumberID is immutable"),
		Entry("onboardedAt, once set", set("spec.onboardedAt", "2026-11-22T09:30:00Z"),
			set("spec.onboardedAt", "2026-11-23T09:30:00Z"), "spec.onboardedAt", "onboardedAt is immutable once set"),
		Entry("onboardedAt, by removing it", set("spec.onboardedAt", "2026-11-22T09:30:00Z"),
			unset("spec.onboardedAt"), "spec.onboardedAt", "onboardedAt cannot be removed once set"),
	)

	It("accepts onboardedAt set after creation, and other spec changes", func() {
		number := sample("CoexNumber", ns)
		Expect(k8sClient.Create(ctx, number)).To(Succeed())
		set("spec.onboardedAt", "2026-11-22T09:30:00Z")(number)
		set("spec.displayPhoneNumber", "+14155550124")(number)
		set("spec.suspend", true)(number)
		Expect(k8sClient.Update(ctx, number)).To(Succeed())
	})

	Describe("status", func() {
		var number *unstructured.Unstructured
		BeforeEach(func() {
			number = sample("CoexNumber", ns)
			Expect(k8sClient.Create(ctx, number)).To(Succeed())
			set("status.contacts", map[string]any{"requestID": "contacts-1", "requestedAt": "2026-11-22T09:31:00Z"})(number)
			set("status.history", map[string]any{"requestID": "history-1", "requestedAt": "2026-11-22T09:32:00Z"})(number)
			Expect(k8sClient.Status().Update(ctx, number)).To(Succeed(), "the first record of a request id is accepted")
		})

		It("accepts progress beside a recorded request id", func() {
			set("status.history.progress", int64(40))(number)
			set("status.history.messages", int64(1200))(number)
			set("status.contacts.added", int64(31))(number)
			set("status.unsupportedMessages", map[string]any{"count": int64(2), "lastAt": "2026-11-22T10:02:00Z"})(number)
			Expect(k8sClient.Status().Update(ctx, number)).To(Succeed())
		})

		DescribeTable("refuses to change or drop a recorded request id",
			func(e edit, field, message string) {
				e(number)
				expectRefused(k8sClient.Status().Update(ctx, number), field, message)
			},
			Entry("a changed history request id", set("status.history.requestID", "history-2"),
				"status.history.requestID", "history.requestID is immutable once recorded"),
			Entry("a removed history request id", unset("status.history.requestID"),
				"status.history.requestID", "history.requestID is immutable once recorded"),
			Entry("a removed contacts record", unset("status.contacts"),
				"status.contacts.requestID", "contacts.requestID is immutable once recorded"),
			Entry("a history progress above 100", set("status.history.progress", int64(101)),
				"status.history.progress", "should be less than or equal to 100"),
			Entry("an unknown phase", set("status.phase", "Done"),
				"status.phase", "Unsupported value"),
			Entry("a negative unsupported message count", set("status.unsupportedMessages.count", int64(-1)),
				"status.unsupportedMessages.count", "should be greater than or equal to 0"),
		)
	})
})

var _ = Describe("MetaApp validation", func() {
	var ns string
	BeforeEach(func() { ns = newNamespace() })

	DescribeTable("refuses an invalid MetaApp",
		func(e edit, field, message string) {
			app := sample("MetaApp", ns)
			e(app)
			expectRefused(k8sClient.Create(ctx, app), field, message)
		},
		Entry("with a non-digit appID", set("spec.appID", "acme-app"), "spec.appID", "appID must contain digits only"),
		Entry("without appSecretRef", unset("spec.appSecretRef"), "spec.appSecretRef", "Required value"),
		Entry("with http to a public host", set("spec.graphBaseURL", "http://graph.facebook.com"),
			"spec.graphBaseURL", "graphBaseURL must be an https URL, or http to a loopback host"),
		Entry("with http to a private address", set("spec.graphBaseURL", "http://10.0.0.7:8080"),
			"spec.graphBaseURL", "graphBaseURL must be an https URL, or http to a loopback host"),
		Entry("with another scheme to loopback", set("spec.graphBaseURL", "ftp://127.0.0.1/"),
			"spec.graphBaseURL", "graphBaseURL must be an https URL, or http to a loopback host"),
		Entry("with a graphBaseURL that is no URL", set("spec.graphBaseURL", "graph.facebook.com"),
			"spec.graphBaseURL", "graphBaseURL must be an https URL, or http to a loopback host"),
		Entry("with a loopback name as a subdomain", set("spec.graphBaseURL", "http://localhost.example.com"),
			"spec.graphBaseURL", "graphBaseURL must be an https URL, or http to a loopback host"),
		Entry("with an http callbackURL to a public host", set("spec.callbackURL", "http://hooks.example.com/webhooks/default/acme"),
			"spec.callbackURL", "callbackURL must be an https URL, or http to a loopback host"),
		Entry("managing subscriptions without a callbackURL",
			func(u *unstructured.Unstructured) {
				unset("spec.callbackURL")(u)
				set("spec.manageSubscriptions", true)(u)
			},
			"spec.callbackURL", "callbackURL is required when manageSubscriptions is true"),
		Entry("with a graphAPIVersion without its v", set("spec.graphAPIVersion", "23.0"),
			"spec.graphAPIVersion", "graphAPIVersion must look like v23.0"),
		Entry("with a required field that is no field name", set("spec.requiredFields", []any{"messages", "History!"}),
			"spec.requiredFields[1]", "requiredFields entries must be webhook field names"),
		Entry("with no required fields", set("spec.requiredFields", []any{}),
			"spec.requiredFields", "should have at least 1 items"),
	)

	It("accepts a default relay endpoint for its numbers", func() {
		app := sample("MetaApp", ns)
		set("spec.relay", relay("https://app.example.com/coex/events"))(app)
		Expect(k8sClient.Create(ctx, app)).To(Succeed())
	})

	DescribeTable("refuses an invalid relay",
		func(e edit, field, message string) {
			app := sample("MetaApp", ns)
			set("spec.relay", relay("https://app.example.com/coex/events"))(app)
			e(app)
			expectRefused(k8sClient.Create(ctx, app), field, message)
		},
		Entry("over plain http to a public host", set("spec.relay.url", "http://app.example.com/coex/events"),
			"spec.relay.url", "url must be an https URL, or http to a loopback host"),
		Entry("over plain http to a private address", set("spec.relay.url", "http://10.0.0.7:8080/events"),
			"spec.relay.url", "url must be an https URL, or http to a loopback host"),
		Entry("with a url that is no URL", set("spec.relay.url", "app.example.com/coex/events"),
			"spec.relay.url", "url must be an https URL, or http to a loopback host"),
		Entry("without secretRef", unset("spec.relay.secretRef"), "spec.relay.secretRef", "Required value"),
		Entry("with an upper-case Secret name", set("spec.relay.secretRef.name", "Relay"),
			"spec.relay.secretRef.name", "name must be a valid Secret name"),
	)

	DescribeTable("accepts a relay to a loopback test endpoint",
		func(url string) {
			app := sample("MetaApp", ns)
			set("spec.relay", relay(url))(app)
			Expect(k8sClient.Create(ctx, app)).To(Succeed())
		},
		Entry("127.0.0.1 with a port", "http://127.0.0.1:18095/events"),
		Entry("localhost", "http://localhost:18095"),
		Entry("IPv6 loopback", "http://[::1]:18095/events"),
	)

	DescribeTable("accepts Meta's URL and loopback simulators",
		func(url string) {
			app := sample("MetaApp", ns)
			set("spec.graphBaseURL", url)(app)
			Expect(k8sClient.Create(ctx, app)).To(Succeed())
		},
		Entry("Meta", "https://graph.facebook.com"),
		Entry("https anywhere", "https://graph.internal.example.com:8443/proxy"),
		Entry("localhost", "http://localhost:18080"),
		Entry("127.0.0.0/8", "http://127.0.0.2:18080"),
		Entry("IPv6 loopback", "http://[::1]:18080"),
	)
})

func noEdit(*unstructured.Unstructured) {}

// relay is a spec.relay block sending to url, signed with a key of the Secret "relay".
func relay(url string) map[string]any {
	return map[string]any{"url": url, "secretRef": map[string]any{"name": "relay", "key": "hmac-key"}}
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
