// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package project

import (
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/coex-operator/coex-operator/api/v1alpha1"
	"github.com/coex-operator/coex-operator/internal/coexstatus"
	"github.com/coex-operator/coex-operator/internal/receiver/store"
)

// Status never goes backwards. The receiver applies its fields with server-side apply and
// force, so a body that holds less than the object shows would lower a count or, for a field
// left out, remove it. Its state can hold less than the object after the state volume was
// lost, or after a restore from an older backup: the counts written from it start again
// from zero. So what is applied is the state's counts merged with what the object already
// shows: counts only rise, and a completed or declined history, a completedAt and an
// offboarding record stay until a newer one replaces them.
//
// This holds only for counts recorded for the object's own UID; counts of another UID (a
// CoexNumber deleted and recreated under the same name) are never written at all (see
// belongsTo).

// belongsTo reports whether counts c were recorded for the live object n. Counts without a
// UID (a state file from before counts were stamped) cannot be told from a predecessor's, so
// they are not written; the next webhook for the number stamps them (store.Tx.Number).
func belongsTo(c store.NumberCounts, n *v1.CoexNumber) bool {
	return c.UID != "" && c.UID == string(n.UID)
}

// carryForward returns c merged with the receiver's fields that n already shows.
func carryForward(c store.NumberCounts, n *v1.CoexNumber) store.NumberCounts {
	shown := shownCounts(n)
	c.HistoryPhase = maxPhase(c.HistoryPhase, shown.HistoryPhase)
	c.Chunks = max(c.Chunks, shown.Chunks)
	c.Progress = max(c.Progress, shown.Progress)
	c.Threads = max(c.Threads, shown.Threads)
	c.Messages = max(c.Messages, shown.Messages)
	c.Declined = c.Declined || shown.Declined
	c.HistoryStartedAt = earliest(c.HistoryStartedAt, shown.HistoryStartedAt)
	// A completedAt once shown is the one kept: the state's own, after a loss, is later and
	// describes a second, partial sync of the same history.
	if shown.CompletedAt != nil {
		c.CompletedAt = shown.CompletedAt
	}
	c.ContactsAdded = max(c.ContactsAdded, shown.ContactsAdded)
	c.ContactsRemoved = max(c.ContactsRemoved, shown.ContactsRemoved)
	c.Echoes = max(c.Echoes, shown.Echoes)
	c.EchoLastAt = latest(c.EchoLastAt, shown.EchoLastAt)
	c.Unsupported = max(c.Unsupported, shown.Unsupported)
	c.UnsupportedLastAt = latest(c.UnsupportedLastAt, shown.UnsupportedLastAt)
	// The offboarding record is the latest account event, not a count: a newer event in the
	// state replaces the one shown (a reconnection follows a removal), an older one does not.
	if shown.Offboarding != nil && (c.Offboarding == nil || c.Offboarding.At.Truncate(time.Second).Before(shown.Offboarding.At)) {
		c.Offboarding, c.OffboardedSince = shown.Offboarding, shown.OffboardedSince
	}
	return c
}

// shownCounts reads the receiver's fields of n's status back as counts.
func shownCounts(n *v1.CoexNumber) store.NumberCounts {
	var c store.NumberCounts
	synced := apimeta.FindStatusCondition(n.Status.Conditions, v1.ConditionHistorySynced)
	if h := n.Status.History; h != nil {
		c.HistoryPhase, c.Chunks, c.Progress, c.Threads, c.Messages = h.Phase, h.Chunks, h.Progress, h.Threads, h.Messages
		c.Declined, c.CompletedAt = h.Declined, timeOf(h.CompletedAt)
	}
	if synced != nil {
		since := synced.LastTransitionTime.Time
		switch {
		case synced.Status == metav1.ConditionTrue:
			// True is kept: a history shown synced has its completion, from the condition
			// when the history object lost it.
			c.Declined = c.Declined || synced.Reason == coexstatus.ReasonHistoryDeclined
			if c.CompletedAt == nil {
				c.CompletedAt = &since
			}
		default:
			c.HistoryStartedAt = &since
		}
	}
	// History shown without the condition that dates its start (removed by hand, say) is
	// still history: it is kept, dated by its completion or the object's creation.
	if c.HistoryStartedAt == nil && (c.HistoryPhase != nil || c.Chunks > 0 || c.Progress > 0 || c.CompletedAt != nil) {
		c.HistoryStartedAt = c.CompletedAt
		if c.HistoryStartedAt == nil {
			c.HistoryStartedAt = ptr(n.CreationTimestamp.Time)
		}
	}
	if ct := n.Status.Contacts; ct != nil {
		c.ContactsAdded, c.ContactsRemoved = ct.Added, ct.Removed
	}
	if e := n.Status.Echoes; e != nil {
		c.Echoes, c.EchoLastAt = e.Count, timeOf(e.LastAt)
	}
	if u := n.Status.UnsupportedMessages; u != nil {
		c.Unsupported, c.UnsupportedLastAt = u.Count, timeOf(u.LastAt)
	}
	if off := n.Status.Offboarding; off != nil && off.Event != "" {
		rec := &store.OffboardingRecord{Event: off.Event, Reason: off.Reason, InitiatedBy: off.InitiatedBy}
		if at := timeOf(off.At); at != nil {
			rec.At = *at
		}
		c.Offboarding = rec
		if cond := apimeta.FindStatusCondition(n.Status.Conditions, v1.ConditionOffboarded); cond != nil {
			c.OffboardedSince = ptr(cond.LastTransitionTime.Time)
		} else {
			c.OffboardedSince = ptr(rec.At)
		}
	}
	return c
}

// ptr returns a pointer to v.
func ptr[T any](v T) *T { return &v }

func timeOf(t *metav1.Time) *time.Time {
	if t == nil {
		return nil
	}
	return ptr(t.Time)
}

func maxPhase(a, b *int32) *int32 {
	if a == nil || (b != nil && *b > *a) {
		return b
	}
	return a
}

func earliest(a, b *time.Time) *time.Time {
	if a == nil || (b != nil && b.Before(*a)) {
		return b
	}
	return a
}

func latest(a, b *time.Time) *time.Time {
	if a == nil || (b != nil && b.After(*a)) {
		return b
	}
	return a
}
