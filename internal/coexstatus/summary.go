// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

// Package coexstatus derives a CoexNumber's phase and its kstatus conditions (Ready,
// Reconciling, Stalled) from the conditions each owner sets. The reconcilers and the webhook
// receiver both write status, so both call Summarize before writing: the summary is a
// function of the conditions, never a second source of truth.
package coexstatus

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/coex-operator/coex-operator/api/v1alpha1"
)

// Reasons of the conditions. Those in terminalReasons need a human: they stall the number.
const (
	ReasonCoexistenceConfirmed = "CoexistenceConfirmed"
	ReasonNotOnBusinessApp     = "NotOnBusinessApp"
	ReasonNotCloudAPI          = "NotCloudAPI"
	ReasonUnsupportedCountry   = "UnsupportedCountry"
	ReasonCredentialsMissing   = "CredentialsMissing"
	ReasonCredentialsRejected  = "CredentialsRejected"
	ReasonSignupCodeSpent      = "SignupCodeSpent"
	ReasonSignupCodeExpired    = "SignupCodeExpired"
	ReasonTokenSecretConflict  = "TokenSecretConflict"
	ReasonMetaAppNotFound      = "MetaAppNotFound"
	ReasonGraphError           = "GraphError"
	ReasonGraphUnavailable     = "GraphUnavailable"

	ReasonSubscribed  = "Subscribed"
	ReasonSubscribing = "Subscribing"

	ReasonRequested        = "Requested"
	ReasonAlreadyRequested = "AlreadyRequested"
	ReasonRequesting       = "Requesting"
	ReasonOutcomeUnknown   = "OutcomeUnknown"
	// ReasonAcceptedPerWebhooks: the outcome of a request was unknown, and the receiver has
	// since recorded the webhooks that only an accepted request produces.
	ReasonAcceptedPerWebhooks = "AcceptedPerWebhooks"
	// ReasonRequestUnconfirmed: a request whose outcome was unknown was asked again and Meta's
	// answer was neither a success nor a refusal we can read; asking a third time would be a
	// guess, so the sync waits for webhooks or a human.
	ReasonRequestUnconfirmed = "RequestUnconfirmed"
	// ReasonSyncRefused: Meta refused a first request with a permanent 4xx.
	ReasonSyncRefused   = "SyncRefused"
	ReasonWaiting       = "Waiting"
	ReasonWindowExpired = "WindowExpired"

	ReasonHistoryCompleted  = "Completed"
	ReasonHistoryDeclined   = "Declined"
	ReasonHistoryInProgress = "InProgress"

	ReasonActive            = "Active"
	ReasonOffboarded        = "Offboarded"
	ReasonReonboardRequired = "ReonboardRequired"
	ReasonSuspended         = "Suspended"
)

// terminalReasons are the reasons that no retry can fix.
var terminalReasons = map[string]bool{
	ReasonNotOnBusinessApp:    true,
	ReasonNotCloudAPI:         true,
	ReasonUnsupportedCountry:  true,
	ReasonCredentialsRejected: true,
	ReasonSignupCodeSpent:     true,
	ReasonSignupCodeExpired:   true,
	ReasonTokenSecretConflict: true,
	ReasonWindowExpired:       true,
	ReasonRequestUnconfirmed:  true,
	ReasonSyncRefused:         true,
}

// IsTerminal reports whether a condition reason needs a human.
func IsTerminal(reason string) bool { return terminalReasons[reason] }

// Set sets a condition stamped with the object's generation, keeping its transition time when
// the status does not change. It reports whether anything changed.
func Set(n *v1.CoexNumber, typ string, status metav1.ConditionStatus, reason, message string) bool {
	return meta.SetStatusCondition(&n.Status.Conditions, metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: message, ObservedGeneration: n.Generation,
	})
}

// Summarize sets status.phase, Ready, Reconciling, Stalled and observedGeneration from the
// other conditions. Ready means verified, subscribed, every requested sync requested, and
// history complete or declined (when requested).
func Summarize(n *v1.CoexNumber) {
	phase, reason, message := derive(n)
	n.Status.Phase = phase
	n.Status.ObservedGeneration = n.Generation

	ready := metav1.ConditionFalse
	if phase == v1.PhaseActive {
		ready, reason, message = metav1.ConditionTrue, ReasonActive, "verified, subscribed, syncs requested and history complete"
	}
	Set(n, v1.ConditionReady, ready, reason, message)

	stalled := phase == v1.PhaseFailed || phase == v1.PhaseReonboardRequired || phase == v1.PhaseOffboarded
	if stalled {
		Set(n, v1.ConditionStalled, metav1.ConditionTrue, reason, message)
		meta.RemoveStatusCondition(&n.Status.Conditions, v1.ConditionReconciling)
	} else {
		meta.RemoveStatusCondition(&n.Status.Conditions, v1.ConditionStalled)
		// Active and Suspended are at rest, not progressing. kstatus reads Active as Current;
		// it has no suspended state, so a suspended number (Ready=False) reads InProgress with
		// the Suspended message, and Argo CD's health check reads it as Suspended.
		if phase == v1.PhaseActive || phase == v1.PhaseSuspended {
			meta.RemoveStatusCondition(&n.Status.Conditions, v1.ConditionReconciling)
		} else {
			Set(n, v1.ConditionReconciling, metav1.ConditionTrue, reason, message)
		}
	}
}

// derive picks the phase and the reason and message of the condition that decides it.
func derive(n *v1.CoexNumber) (v1.CoexNumberPhase, string, string) {
	conds := n.Status.Conditions
	if c := meta.FindStatusCondition(conds, v1.ConditionOffboarded); c != nil && c.Status == metav1.ConditionTrue {
		return v1.PhaseOffboarded, ReasonOffboarded, c.Message
	}
	if n.Spec.Suspend {
		return v1.PhaseSuspended, ReasonSuspended,
			"spec.suspend is true: no Graph call of any kind is made for this number until it is false (webhooks are still recorded)"
	}
	for _, typ := range []string{v1.ConditionContactsSyncRequested, v1.ConditionHistorySyncRequested} {
		if c := meta.FindStatusCondition(conds, typ); c != nil && c.Reason == ReasonWindowExpired {
			return v1.PhaseReonboardRequired, ReasonReonboardRequired, c.Message
		}
	}
	for _, typ := range []string{v1.ConditionVerified, v1.ConditionWebhooksSubscribed,
		v1.ConditionContactsSyncRequested, v1.ConditionHistorySyncRequested} {
		if c := meta.FindStatusCondition(conds, typ); c != nil && c.Status != metav1.ConditionTrue && IsTerminal(c.Reason) {
			return v1.PhaseFailed, c.Reason, c.Message
		}
	}
	verified := meta.FindStatusCondition(conds, v1.ConditionVerified)
	if verified == nil {
		return v1.PhasePending, "Pending", "not yet checked"
	}
	if verified.Status != metav1.ConditionTrue {
		return v1.PhaseVerifying, verified.Reason, verified.Message
	}
	if c := meta.FindStatusCondition(conds, v1.ConditionWebhooksSubscribed); c == nil || c.Status != metav1.ConditionTrue {
		return v1.PhaseVerifying, reasonOf(c, ReasonSubscribing), messageOf(c, "subscribing the app to the WABA")
	}
	wants := map[string]bool{
		v1.ConditionContactsSyncRequested: n.Spec.Sync.WantsContactsSync(),
		v1.ConditionHistorySyncRequested:  n.Spec.Sync.WantsHistorySync(),
	}
	for _, typ := range []string{v1.ConditionContactsSyncRequested, v1.ConditionHistorySyncRequested} {
		if c := meta.FindStatusCondition(conds, typ); wants[typ] && (c == nil || c.Status != metav1.ConditionTrue) {
			return v1.PhaseSyncing, reasonOf(c, ReasonWaiting), messageOf(c, "sync not yet requested")
		}
	}
	if wants[v1.ConditionHistorySyncRequested] {
		if c := meta.FindStatusCondition(conds, v1.ConditionHistorySynced); c == nil || c.Status != metav1.ConditionTrue {
			return v1.PhaseSyncing, reasonOf(c, ReasonHistoryInProgress), messageOf(c, "history is arriving")
		}
	}
	return v1.PhaseActive, ReasonActive, ""
}

func reasonOf(c *metav1.Condition, def string) string {
	if c == nil {
		return def
	}
	return c.Reason
}

func messageOf(c *metav1.Condition, def string) string {
	if c == nil || c.Message == "" {
		return def
	}
	return c.Message
}
