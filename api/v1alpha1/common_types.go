// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package v1alpha1

// SecretKeySelector names one key of a Secret in the same namespace as the object that refers
// to it. Secrets are never read across namespaces: a tenant can only point at its own.
type SecretKeySelector struct {
	// name of the Secret, in the same namespace as the referring object.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="name must be a valid Secret name (lowercase DNS subdomain)"
	Name string `json:"name"`

	// key within the Secret's data whose value is used.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[-._a-zA-Z0-9]+$')",message="key must be a valid Secret key (letters, digits, '-', '_' and '.')"
	Key string `json:"key"`
}

// MetaAppReference names a MetaApp in the same namespace.
type MetaAppReference struct {
	// name of the MetaApp, in the same namespace as the CoexNumber.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// Condition types shared by both kinds. Ready, Reconciling and Stalled follow kstatus
// (sigs.k8s.io/cli-utils/pkg/kstatus) so that Argo CD, Flux and `kubectl wait` read them.
const (
	// ConditionReady is True when the object does what it is for: for a CoexNumber, verified,
	// subscribed, the requested syncs done and history complete or declined; for a MetaApp,
	// credentials readable and every required webhook field subscribed.
	ConditionReady = "Ready"
	// ConditionReconciling is True while the operator is still working towards Ready.
	ConditionReconciling = "Reconciling"
	// ConditionStalled is True when progress needs a human: the reason says what to do.
	ConditionStalled = "Stalled"
)

// RelaySpec is the tenant's HTTP endpoint to which the webhook receiver relays a number's
// normalized events: contacts, history, messages, echoes, edits, revokes, account updates.
// Events are delivered at least once and in order per number; each has a stable id (the same
// Meta data always gets the same id), so the endpoint de-duplicates on it. Every delivery is
// signed: header X-Coex-Signature-256 is "sha256=<hex>", the HMAC-SHA256, keyed with the
// secretRef value, of "<X-Coex-Timestamp>.<body>" (the X-Coex-Timestamp header, a dot, then
// the raw request body).
type RelaySpec struct {
	// url is the endpoint events are POSTed to, such as https://app.example.com/coex/events.
	// It must be https, except that http is accepted to a loopback host (localhost,
	// 127.0.0.0/8, ::1) for local tests.
	// +required
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && ((url(self).getScheme() == 'https' && url(self).getHostname() != '') || self.matches('^http://(localhost|127([.][0-9]{1,3}){3}|[[]::1[]])(:[0-9]{1,5})?(/.*)?$'))",message="url must be an https URL, or http to a loopback host (localhost, 127.0.0.0/8, ::1)"
	URL string `json:"url"`

	// secretRef names the Secret key holding the HMAC key the receiver signs deliveries with.
	// Each delivery carries headers X-Coex-Timestamp and X-Coex-Signature-256:
	// "sha256=<hex>", the HMAC-SHA256 of "<X-Coex-Timestamp>.<body>" under this key.
	// +required
	SecretRef SecretKeySelector `json:"secretRef"`
}
