// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DefaultGraphBaseURL is Meta's Graph API host; tests and the demo point MetaApps at the
// simulator instead.
const DefaultGraphBaseURL = "https://graph.facebook.com"

// DefaultGraphAPIVersion is the Graph API version used when a MetaApp does not pin one.
const DefaultGraphAPIVersion = "v23.0"

// CoexistenceWebhookFields are the app webhook fields a coexistence number needs: inbound
// messages, echoes of messages sent from the Business app, contact sync, history sync and
// account updates (disconnection). They are MetaAppSpec.RequiredFields' default.
var CoexistenceWebhookFields = []string{
	"messages", "smb_message_echoes", "smb_app_state_sync", "history", "account_update",
}

// MetaApp condition types, besides Ready, Reconciling and Stalled.
const (
	// ConditionCredentialsResolved is True when the app secret and verify token Secrets exist
	// and hold the referenced keys.
	ConditionCredentialsResolved = "CredentialsResolved"
	// ConditionFieldsSubscribed is True when the app's webhook subscription covers every field
	// of spec.requiredFields; status.missingFields lists the rest.
	ConditionFieldsSubscribed = "FieldsSubscribed"
)

// MetaAppSpec describes a Meta app: its id, where its credentials live and which webhook
// fields it must be subscribed to.
//
// +kubebuilder:validation:XValidation:rule="!has(self.manageSubscriptions) || !self.manageSubscriptions || has(self.callbackURL)",message="callbackURL is required when manageSubscriptions is true: it is the URL the app's webhooks are subscribed to",fieldPath=".callbackURL"
type MetaAppSpec struct {
	// appID is the Meta app's numeric id (App Dashboard > App settings > Basic).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9]+$')",message="appID must contain digits only"
	AppID string `json:"appID"`

	// appSecretRef names the Secret key holding the app secret. It signs app access tokens
	// (<appID>|<appSecret>), the token exchange, and every webhook Meta sends
	// (X-Hub-Signature-256). A rotated Secret takes effect without a restart.
	// +required
	AppSecretRef SecretKeySelector `json:"appSecretRef"`

	// verifyTokenRef names the Secret key holding the verify token Meta echoes in the webhook
	// verification handshake (hub.verify_token).
	// +required
	VerifyTokenRef SecretKeySelector `json:"verifyTokenRef"`

	// graphAPIVersion is the Graph API version used in every call, such as v23.0.
	// +optional
	// +kubebuilder:default="v23.0"
	// +kubebuilder:validation:MaxLength=16
	// +kubebuilder:validation:XValidation:rule="self.matches('^v[0-9]+[.][0-9]+$')",message="graphAPIVersion must look like v23.0"
	GraphAPIVersion string `json:"graphAPIVersion,omitempty"`

	// graphBaseURL is the Graph API host, without the version. It must be https, except that
	// http is accepted to a loopback host (localhost, 127.0.0.0/8, ::1) so that tests and the
	// demo can use the local simulator.
	// +optional
	// +kubebuilder:default="https://graph.facebook.com"
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="isURL(self) && ((url(self).getScheme() == 'https' && url(self).getHostname() != '') || self.matches('^http://(localhost|127([.][0-9]{1,3}){3}|[[]::1[]])(:[0-9]{1,5})?(/.*)?$'))",message="graphBaseURL must be an https URL, or http to a loopback host (localhost, 127.0.0.0/8, ::1)"
	GraphBaseURL string `json:"graphBaseURL,omitempty"`

	// callbackURL is the public https URL at which Meta reaches this app's webhook receiver,
	// such as https://hooks.example.com/webhooks/<namespace>/<metaapp>. It is what the app's
	// webhook subscription is checked against, and set to when manageSubscriptions is true.
	// http is accepted only to a loopback host, for the simulator.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="isURL(self) && ((url(self).getScheme() == 'https' && url(self).getHostname() != '') || self.matches('^http://(localhost|127([.][0-9]{1,3}){3}|[[]::1[]])(:[0-9]{1,5})?(/.*)?$'))",message="callbackURL must be an https URL, or http to a loopback host (localhost, 127.0.0.0/8, ::1)"
	CallbackURL string `json:"callbackURL,omitempty"`

	// requiredFields are the webhook fields the app must be subscribed to. It defaults to the
	// five coexistence needs: messages, smb_message_echoes, smb_app_state_sync, history and
	// account_update. Missing ones are reported in status.missingFields.
	// +optional
	// +listType=set
	// +kubebuilder:default={messages,smb_message_echoes,smb_app_state_sync,history,account_update}
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=64
	// +kubebuilder:validation:items:XValidation:rule="self.matches('^[a-z][a-z0-9_]*$')",message="requiredFields entries must be webhook field names such as history (lowercase letters, digits and '_')"
	RequiredFields []string `json:"requiredFields,omitempty"`

	// manageSubscriptions lets the operator subscribe the app to missing requiredFields at
	// callbackURL. When false (the default) the operator only reports what is missing.
	// +optional
	ManageSubscriptions bool `json:"manageSubscriptions,omitempty"`

	// relay is the default endpoint to which the webhook receiver relays the normalized
	// events of this app's numbers: at least once, in order per number, each with a stable
	// id, signed with HMAC-SHA256 in X-Coex-Signature-256. A CoexNumber's own spec.relay
	// overrides it. Without either, events are not relayed; status is still updated.
	// +optional
	Relay *RelaySpec `json:"relay,omitempty"`
}

// MetaAppStatus is what the operator last observed of a MetaApp.
type MetaAppStatus struct {
	// observedGeneration is the metadata.generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// subscribedFields are the webhook fields the app is subscribed to, as Meta last reported.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=64
	SubscribedFields []string `json:"subscribedFields,omitempty"`

	// missingFields are the requiredFields the app is not subscribed to; empty when all are.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=64
	MissingFields []string `json:"missingFields,omitempty"`

	// subscribedCallbackURL is the callback URL Meta reported for the app's
	// whatsapp_business_account subscription.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	SubscribedCallbackURL string `json:"subscribedCallbackURL,omitempty"`

	// lastCheckedAt is when the app's webhook subscriptions were last read from Meta.
	// +optional
	LastCheckedAt *metav1.Time `json:"lastCheckedAt,omitempty"`

	// conditions: Ready, CredentialsResolved, FieldsSubscribed, Reconciling and Stalled.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// MetaApp is a Meta app whose credentials and webhook subscriptions serve CoexNumbers, like
// cert-manager's Issuer serves Certificates. CoexNumbers refer to it by name, in the same
// namespace.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=whatsapp
// +kubebuilder:printcolumn:name="App ID",type=string,JSONPath=`.spec.appID`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Missing",type=string,JSONPath=`.status.missingFields`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Message",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1
type MetaApp struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired state of the Meta app.
	// +required
	Spec MetaAppSpec `json:"spec"`

	// status is what the operator last observed.
	// +optional
	Status MetaAppStatus `json:"status,omitempty"`
}

// MetaAppList is a list of MetaApps.
//
// +kubebuilder:object:root=true
type MetaAppList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []MetaApp `json:"items"`
}

func init() {
	SchemeBuilder.Register(&MetaApp{}, &MetaAppList{})
}
