// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package v1alpha1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SyncWindow is how long after onboarding Meta accepts the contacts and history sync
// requests. Past it the business must offboard and onboard again.
const SyncWindow = 24 * time.Hour

// SyncWindowStart is when the 24 h sync window opened: spec.onboardedAt when set, otherwise the
// CoexNumber's creation time.
func (n *CoexNumber) SyncWindowStart() metav1.Time {
	if n.Spec.OnboardedAt != nil {
		return *n.Spec.OnboardedAt
	}
	return n.CreationTimestamp
}

// SyncDeadline is the last moment Meta accepts a sync request for this number.
func (n *CoexNumber) SyncDeadline() metav1.Time {
	return metav1.NewTime(n.SyncWindowStart().Add(SyncWindow))
}

// WantsContactsSync reports whether spec.sync asks for the contacts sync; unset means yes, as
// the schema's default does, so objects built in Go without defaulting behave the same.
func (s SyncSpec) WantsContactsSync() bool { return s.Contacts == nil || *s.Contacts }

// WantsHistorySync reports whether spec.sync asks for the history sync; unset means yes.
func (s SyncSpec) WantsHistorySync() bool { return s.History == nil || *s.History }
