// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CoexNumberPhase summarizes where a number stands. It is derived from the conditions, which
// carry the detail; the phase is for `kubectl get` and humans.
// +kubebuilder:validation:Enum=Pending;Verifying;Syncing;Active;Suspended;ReonboardRequired;Offboarded;Failed
type CoexNumberPhase string

const (
	// PhasePending: accepted, not yet looked at.
	PhasePending CoexNumberPhase = "Pending"
	// PhaseVerifying: checking the number is on the Business app and the Cloud API, its
	// credentials and its webhook subscription.
	PhaseVerifying CoexNumberPhase = "Verifying"
	// PhaseSyncing: the one-shot sync requests are being made or history is still arriving.
	PhaseSyncing CoexNumberPhase = "Syncing"
	// PhaseActive: verified, subscribed, requested syncs done, history complete or declined.
	PhaseActive CoexNumberPhase = "Active"
	// PhaseSuspended: spec.suspend is true; no Graph call of any kind is made for the number.
	PhaseSuspended CoexNumberPhase = "Suspended"
	// PhaseReonboardRequired: the 24 h window passed before a sync could be requested; the
	// business must offboard in the app and onboard again through Embedded Signup.
	PhaseReonboardRequired CoexNumberPhase = "ReonboardRequired"
	// PhaseOffboarded: Meta reported PARTNER_REMOVED or ACCOUNT_OFFBOARDED; no Graph calls
	// are made until ACCOUNT_RECONNECTED.
	PhaseOffboarded CoexNumberPhase = "Offboarded"
	// PhaseFailed: a terminal error such as a number that is not a coexistence number or is
	// in an unsupported country; the Stalled condition says why.
	PhaseFailed CoexNumberPhase = "Failed"
)

// CoexNumber condition types, besides Ready, Reconciling and Stalled. The reconcilers own
// Verified, WebhooksSubscribed and the *SyncRequested conditions; the webhook receiver owns
// HistorySynced and Offboarded (see CoexNumberStatus for the fields each writer owns).
const (
	ConditionVerified              = "Verified"
	ConditionWebhooksSubscribed    = "WebhooksSubscribed"
	ConditionContactsSyncRequested = "ContactsSyncRequested"
	ConditionHistorySyncRequested  = "HistorySyncRequested"
	ConditionHistorySynced         = "HistorySynced"
	ConditionOffboarded            = "Offboarded"
	// ConditionAppEchoesRecent is False when no message sent from the WhatsApp Business app
	// (an smb_message_echoes webhook) has been seen for a while. It measures echoes, not app
	// opens, which Meta does not report; it is a warning and no part of Ready.
	ConditionAppEchoesRecent = "AppEchoesRecent"
)

// CoexNumberSpec describes one WhatsApp Coexistence phone number: a WhatsApp Business app
// number also onboarded to the Cloud API through Embedded Signup.
//
// +kubebuilder:validation:XValidation:rule="has(self.tokenSecretRef) || has(self.signupCodeSecretRef)",message="one of tokenSecretRef or signupCodeSecretRef is required"
// +kubebuilder:validation:XValidation:rule="!(has(self.tokenSecretRef) && has(self.signupCodeSecretRef))",message="tokenSecretRef and signupCodeSecretRef are mutually exclusive: set exactly one"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.onboardedAt) || has(self.onboardedAt)",message="onboardedAt cannot be removed once set: the 24 h sync window is counted from it",fieldPath=".onboardedAt"
type CoexNumberSpec struct {
	// appRef names the MetaApp, in the same namespace, whose credentials and webhooks serve
	// this number.
	// +required
	AppRef MetaAppReference `json:"appRef"`

	// wabaID is the WhatsApp Business Account id the number belongs to. Immutable: a number
	// in another WABA is another CoexNumber.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9]+$')",message="wabaID must contain digits only"
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="wabaID is immutable: create a new CoexNumber instead"
	WABAID string `json:"wabaID"`

	// phoneNumberID is the Cloud API phone number id (not the phone number itself). Every
	// Graph call and webhook for the number is keyed by it. Immutable.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9]+$')",message="phoneNumberID must contain digits only"
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="phoneNumberID is immutable: create a new CoexNumber instead"
	PhoneNumberID string `json:"phoneNumberID"`

	// displayPhoneNumber is the number in E.164 form: '+', then 8 to 15 digits, the first not
	// 0, such as +14155550123. Spaces, dashes and brackets are rejected rather than
	// normalized, so that what is in git is exactly what is checked. Its country code decides
	// the country rule (coexistence is unavailable in some countries).
	// +required
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^[+][1-9][0-9]{7,14}$')",message="displayPhoneNumber must be E.164: '+' then 8 to 15 digits without spaces or dashes, such as +14155550123"
	DisplayPhoneNumber string `json:"displayPhoneNumber"`

	// onboardedAt is when Embedded Signup finished for this number. Meta accepts the
	// contacts and history sync requests only within 24 hours of it. Defaults to the
	// CoexNumber's creation time; set it when the resource is created later than the signup.
	// Immutable once set: a new onboarding is a new CoexNumber.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="onboardedAt is immutable once set: a new onboarding is a new CoexNumber"
	OnboardedAt *metav1.Time `json:"onboardedAt,omitempty"`

	// tokenSecretRef names the Secret key holding a business integration system user access
	// token for this number. Exactly one of tokenSecretRef and signupCodeSecretRef is set.
	// +optional
	TokenSecretRef *SecretKeySelector `json:"tokenSecretRef,omitempty"`

	// signupCodeSecretRef names the Secret key holding the code returned by Embedded Signup.
	// The operator exchanges it once for a token, written to a Secret owned by this
	// CoexNumber (status.credentials). Exactly one of tokenSecretRef and signupCodeSecretRef
	// is set.
	// +optional
	SignupCodeSecretRef *SecretKeySelector `json:"signupCodeSecretRef,omitempty"`

	// sync says which one-shot syncs to request from Meta after onboarding. Both default to
	// true. Each can be requested once per onboarding, within 24 hours of onboardedAt.
	// +optional
	// +kubebuilder:default={}
	Sync SyncSpec `json:"sync,omitempty"`

	// suspend stops every Graph call for this number while true: no verification, no
	// subscription check, no code exchange, no sync request, no unsubscribe on deletion. The
	// phase is Suspended. Webhooks are still received and recorded. A sync window that
	// passes while suspended is not extended.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// relay is the endpoint to which the webhook receiver relays this number's normalized
	// events, overriding the MetaApp's spec.relay: at least once, in order, each with a
	// stable id, signed with HMAC-SHA256 in X-Coex-Signature-256.
	// +optional
	Relay *RelaySpec `json:"relay,omitempty"`
}

// SyncSpec selects the one-shot syncs to request.
type SyncSpec struct {
	// contacts requests the contacts sync (smb_app_state_sync): the Business app's contacts
	// arrive as smb_app_state_sync webhooks. Requested before history.
	// +optional
	// +kubebuilder:default=true
	Contacts *bool `json:"contacts,omitempty"`

	// history requests the history sync: up to 180 days of the Business app's chats arrive
	// as history webhooks, in phases, unless the business declines to share them.
	// +optional
	// +kubebuilder:default=true
	History *bool `json:"history,omitempty"`
}

// CoexNumberStatus is what the operator and its webhook receiver last observed. It holds
// counters and records only, never message bodies.
//
// Two writers share it, split by field rather than by timing. The webhook receiver owns the
// history and contacts progress (history phase, chunks, progress, threads, messages, declined
// and completedAt; contacts added and removed), echoes, unsupportedMessages, offboarding and
// the HistorySynced and Offboarded conditions. The reconcilers own the rest: onboarding,
// credentials, subscription, the sync request records and their own conditions.
//
// Request ids, once recorded, never change: they are the proof a one-shot request was made.
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.contacts) || !has(oldSelf.contacts.requestID) || (has(self.contacts) && has(self.contacts.requestID) && self.contacts.requestID == oldSelf.contacts.requestID)",message="contacts.requestID is immutable once recorded",fieldPath=".contacts.requestID"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.history) || !has(oldSelf.history.requestID) || (has(self.history) && has(self.history.requestID) && self.history.requestID == oldSelf.history.requestID)",message="history.requestID is immutable once recorded",fieldPath=".history.requestID"
type CoexNumberStatus struct {
	// observedGeneration is the metadata.generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// phase summarizes the conditions: Pending, Verifying, Syncing, Active, Suspended,
	// ReonboardRequired, Offboarded or Failed.
	// +optional
	Phase CoexNumberPhase `json:"phase,omitempty"`

	// syncDeadline is onboardedAt + 24h: the last moment Meta accepts the sync requests.
	// +optional
	SyncDeadline *metav1.Time `json:"syncDeadline,omitempty"`

	// onboarding is what Meta reported of the number the last time it was checked.
	// +optional
	Onboarding *OnboardingStatus `json:"onboarding,omitempty"`

	// credentials records the signup code exchange, when signupCodeSecretRef is used.
	// +optional
	Credentials *CredentialsStatus `json:"credentials,omitempty"`

	// contacts records the contacts sync request and the contact changes received since.
	// +optional
	Contacts *ContactsSyncStatus `json:"contacts,omitempty"`

	// history records the history sync request and its progress.
	// +optional
	History *HistorySyncStatus `json:"history,omitempty"`

	// echoes counts messages the business sent from the WhatsApp Business app, echoed to
	// the Cloud API; their absence for days means the app is not being used.
	// +optional
	Echoes *EchoStatus `json:"echoes,omitempty"`

	// subscription records the check of the app's subscription to the number's WABA.
	// +optional
	Subscription *SubscriptionStatus `json:"subscription,omitempty"`

	// lastHandledReconcileAt is the value of the whatsapp.coex.dev/reconcile-requested-at
	// annotation last acted on.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	LastHandledReconcileAt string `json:"lastHandledReconcileAt,omitempty"`

	// offboarding records the last account_update that disconnected or reconnected the
	// number.
	// +optional
	Offboarding *OffboardingStatus `json:"offboarding,omitempty"`

	// unsupportedMessages counts messages Meta could not show through the Cloud API (error
	// 131060), such as ones sent from an ad or from an unsupported companion device. The
	// business should read them in the WhatsApp Business app.
	// +optional
	UnsupportedMessages *UnsupportedMessagesStatus `json:"unsupportedMessages,omitempty"`

	// conditions: Ready, Verified, WebhooksSubscribed, ContactsSyncRequested,
	// HistorySyncRequested, HistorySynced, Offboarded, Reconciling and Stalled.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=32
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// OnboardingStatus is the result of the onboarding check
// (GET /<phoneNumberID>?fields=is_on_biz_app,platform_type).
type OnboardingStatus struct {
	// onBizApp is Meta's is_on_biz_app: the number is in use on the WhatsApp Business app.
	// +optional
	OnBizApp *bool `json:"onBizApp,omitempty"`

	// platformType is Meta's platform_type; CLOUD_API for a coexistence number.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	PlatformType string `json:"platformType,omitempty"`

	// checkedAt is when Meta was last asked.
	// +optional
	CheckedAt *metav1.Time `json:"checkedAt,omitempty"`
}

// SubscriptionStatus records the app's subscription to the number's WABA.
type SubscriptionStatus struct {
	// checkedAt is when Meta was last asked whether the app is subscribed to the WABA.
	// +optional
	CheckedAt *metav1.Time `json:"checkedAt,omitempty"`

	// createdByOperator is true when the operator made the subscription (rather than finding
	// it). Deleting the last CoexNumber of the WABA then removes it; a subscription the
	// operator found is never removed.
	// +optional
	CreatedByOperator bool `json:"createdByOperator,omitempty"`
}

// CredentialsStatus records the one-time exchange of a signup code for a token.
type CredentialsStatus struct {
	// tokenSecretName is the Secret, owned by this CoexNumber, that holds the exchanged
	// token under the key "token".
	// +optional
	// +kubebuilder:validation:MaxLength=253
	TokenSecretName string `json:"tokenSecretName,omitempty"`

	// exchangedAt is when the signup code was exchanged. A code is single-use: once this is
	// set the exchange is never attempted again.
	// +optional
	ExchangedAt *metav1.Time `json:"exchangedAt,omitempty"`
}

// SyncRequestRecord is the crash-safe record of one one-shot sync request: the intent is
// written before the POST, the request id after it.
type SyncRequestRecord struct {
	// intentAt is when the operator committed to making the request, written before the
	// POST. An intentAt without a requestedAt means the outcome is not yet known.
	// +optional
	IntentAt *metav1.Time `json:"intentAt,omitempty"`

	// requestID is the request_id Meta returned. Immutable once recorded.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	RequestID string `json:"requestID,omitempty"`

	// requestedAt is when Meta accepted the request (or answered that it was already made).
	// +optional
	RequestedAt *metav1.Time `json:"requestedAt,omitempty"`
}

// ContactsSyncStatus is the contacts sync request and what it delivered.
type ContactsSyncStatus struct {
	SyncRequestRecord `json:",inline"`

	// added counts contact additions and edits received (action "add").
	// +optional
	// +kubebuilder:validation:Minimum=0
	Added int64 `json:"added,omitempty"`

	// removed counts contact removals received (action "remove").
	// +optional
	// +kubebuilder:validation:Minimum=0
	Removed int64 `json:"removed,omitempty"`
}

// HistorySyncStatus is the history sync request and its progress. Meta sends history in
// phases 0 (day 0-1), 1 (day 1-90) and 2 (day 90-180), in chunks that may arrive out of
// order; progress 100 in the last phase means done.
type HistorySyncStatus struct {
	SyncRequestRecord `json:",inline"`

	// phase is the highest history phase received so far (0, 1 or 2).
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=2
	Phase *int32 `json:"phase,omitempty"`

	// chunks counts distinct history chunks received, each (phase, chunk_order) once.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Chunks int64 `json:"chunks,omitempty"`

	// progress is Meta's progress percentage, 0 to 100.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	Progress int32 `json:"progress,omitempty"`

	// threads counts distinct chat threads received.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Threads int64 `json:"threads,omitempty"`

	// messages counts distinct history messages received, each message id once.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Messages int64 `json:"messages,omitempty"`

	// declined is true when the business chose not to share its history (error 2593109).
	// +optional
	Declined bool `json:"declined,omitempty"`

	// completedAt is when history finished: progress 100 in the last phase, or declined.
	// +optional
	CompletedAt *metav1.Time `json:"completedAt,omitempty"`
}

// EchoStatus counts smb_message_echoes: messages the business sent from the app.
type EchoStatus struct {
	// count of distinct echoed messages received.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Count int64 `json:"count,omitempty"`

	// lastAt is the timestamp of the newest echo: the last time the business was seen
	// sending from the app.
	// +optional
	LastAt *metav1.Time `json:"lastAt,omitempty"`
}

// UnsupportedMessagesStatus counts messages Meta could not deliver through the Cloud API
// (error 131060).
type UnsupportedMessagesStatus struct {
	// count of distinct unsupported messages received.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Count int64 `json:"count,omitempty"`

	// lastAt is the timestamp of the newest unsupported message: the business should check
	// the WhatsApp Business app for messages since then.
	// +optional
	LastAt *metav1.Time `json:"lastAt,omitempty"`
}

// OffboardingStatus records an account_update event.
type OffboardingStatus struct {
	// event is Meta's event: PARTNER_REMOVED, ACCOUNT_OFFBOARDED or ACCOUNT_RECONNECTED.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Event string `json:"event,omitempty"`

	// reason is disconnection_info.reason, such as PRIMARY_INACTIVITY, when Meta gives one.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	Reason string `json:"reason,omitempty"`

	// initiatedBy is disconnection_info.initiated_by: USER or SYSTEM, when Meta gives it.
	// +optional
	// +kubebuilder:validation:MaxLength=32
	InitiatedBy string `json:"initiatedBy,omitempty"`

	// at is the webhook's time.
	// +optional
	At *metav1.Time `json:"at,omitempty"`
}

// CoexNumber is one WhatsApp Coexistence phone number managed by the operator: verified,
// subscribed to webhooks, its contacts and history synced once within Meta's 24 h window,
// and offboarded when the business disconnects.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=coex,categories=whatsapp
// +kubebuilder:printcolumn:name="Phone",type=string,JSONPath=`.spec.displayPhoneNumber`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="History%",type=integer,JSONPath=`.status.history.progress`
// +kubebuilder:printcolumn:name="Deadline",type=string,JSONPath=`.status.syncDeadline`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Message",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1
type CoexNumber struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired state of the number.
	// +required
	Spec CoexNumberSpec `json:"spec"`

	// status is what the operator and its webhook receiver last observed.
	// +optional
	Status CoexNumberStatus `json:"status,omitempty"`
}

// CoexNumberList is a list of CoexNumbers.
//
// +kubebuilder:object:root=true
type CoexNumberList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []CoexNumber `json:"items"`
}

func init() {
	SchemeBuilder.Register(&CoexNumber{}, &CoexNumberList{})
}
