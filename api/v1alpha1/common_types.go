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
