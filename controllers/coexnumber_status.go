// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/coex-operator/coex-operator/api/v1alpha1"
	"github.com/coex-operator/coex-operator/internal/coexstatus"
)

// Two writers share a CoexNumber's status, split by field (CoexNumberStatus): the reconcilers
// and the webhook receiver. The receiver writes with server-side apply, which never conflicts;
// the reconcilers write a merge patch carrying the resourceVersion they read. Only the intent
// mark before a one-shot POST needs that check (fence): it is what stops two reconciles from
// both believing they may POST. Every other write records facts the reconciler has just
// learned from Meta (a request id, a verification, an exchanged token) and must not be lost to
// a receiver write that landed meanwhile: writeStatus rebases the reconciler's own fields onto
// a fresh read and writes again, while the facts are still in memory.

// writeBackoff bounds the rebase-and-write retries: about 12 s in all, enough to ride out a
// stream of receiver writes (one per number per second) or an API server restart.
var writeBackoff = wait.Backoff{Duration: 50 * time.Millisecond, Factor: 2, Jitter: 0.2, Steps: 10, Cap: 4 * time.Second}

// writeStatus summarizes the conditions and, if the status changed, writes it. A write refused
// because the number changed meanwhile is rebased onto the number as the API server has it
// now and written again; so is one that failed for a passing API server error.
func (r *CoexNumberReconciler) writeStatus(ctx context.Context, st *numberState) error {
	coexstatus.Summarize(st.n)
	if equality.Semantic.DeepEqual(st.orig.Status, st.n.Status) {
		return nil
	}
	mine := st.n.DeepCopy()
	events := st.events
	first := true
	return retry.OnError(writeBackoff, retriableWrite, func() error {
		if !first {
			if err := r.rebase(ctx, st, mine); err != nil {
				return err
			}
			st.events = events
		}
		first = false
		return r.fence(ctx, st)
	})
}

// retriableWrite: a conflict (rebase and write again) or an API server that is briefly
// unavailable. Anything else (the number is gone, the write is invalid) is final.
func retriableWrite(err error) bool {
	return apierrors.IsConflict(err) || apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) ||
		apierrors.IsTooManyRequests(err) || apierrors.IsServiceUnavailable(err) || apierrors.IsInternalError(err)
}

// rebase reads the number afresh from the API server (not the cache, which may lag the
// conflict it caused) and puts the reconciler's fields from mine on it, in st.n and st.orig.
// st.n is overwritten in place: the steps hold pointers into it.
func (r *CoexNumberReconciler) rebase(ctx context.Context, st *numberState, mine *v1.CoexNumber) error {
	fresh := &v1.CoexNumber{}
	if err := r.reader().Get(ctx, client.ObjectKeyFromObject(mine), fresh); err != nil {
		return err
	}
	if fresh.UID != mine.UID {
		return apierrors.NewNotFound(v1.GroupVersion.WithResource("coexnumbers").GroupResource(),
			fmt.Sprintf("%s (uid %s, now %s)", mine.Name, mine.UID, fresh.UID))
	}
	st.orig = fresh.DeepCopy()
	putReconcilerFields(fresh, mine)
	coexstatus.Summarize(fresh)
	*st.n = *fresh
	return nil
}

// reader reads past the cache where one is configured.
func (r *CoexNumberReconciler) reader() client.Reader {
	if r.APIReader != nil {
		return r.APIReader
	}
	return r.Client
}

// receiverConditions are the conditions the webhook receiver owns; summaryConditions are
// derived from all others by coexstatus.Summarize.
var (
	receiverConditions = map[string]bool{v1.ConditionHistorySynced: true, v1.ConditionOffboarded: true}
	summaryConditions  = map[string]bool{v1.ConditionReady: true, v1.ConditionReconciling: true, v1.ConditionStalled: true}
)

// putReconcilerFields copies the fields the reconcilers own from mine onto dst, leaving the
// receiver's (progress counts, echoes, offboarding and their conditions) as dst has them.
func putReconcilerFields(dst, mine *v1.CoexNumber) {
	d, m := &dst.Status, &mine.Status
	d.SyncDeadline = m.SyncDeadline
	d.Onboarding = m.Onboarding
	d.Credentials = m.Credentials
	d.Subscription = m.Subscription
	d.LastHandledReconcileAt = m.LastHandledReconcileAt
	// A sync whose outcome the API server's copy has recorded and mine has not: mine was
	// computed from an older view. The record and the condition that describes it are kept
	// together, as the API server has them; mine would say "asking once more" beside a
	// requestedAt, and nothing would ever correct it (a recorded sync is not looked at again).
	keep := map[string]bool{}
	for _, s := range oneShots {
		if !hasRecord(m, s) {
			continue
		}
		theirs, mine := s.record(d), s.record(m)
		if mine.RequestedAt == nil && theirs.RequestedAt != nil {
			keep[s.condition] = true
		}
		*theirs = mergeRecord(*theirs, *mine)
	}
	for _, c := range m.Conditions {
		if !receiverConditions[c.Type] && !summaryConditions[c.Type] && !keep[c.Type] {
			meta.SetStatusCondition(&d.Conditions, c)
		}
	}
}

// hasRecord reports whether st holds a record of s (record creates one).
func hasRecord(st *v1.CoexNumberStatus, s oneShot) bool {
	if s.condition == v1.ConditionContactsSyncRequested {
		return st.Contacts != nil
	}
	return st.History != nil
}

// mergeRecord is mine, except that a recorded outcome is never taken back: the API server's
// copy wins when it has a request id or requestedAt that mine lacks.
func mergeRecord(theirs, mine v1.SyncRequestRecord) v1.SyncRequestRecord {
	if mine.RequestedAt == nil && theirs.RequestedAt != nil {
		return theirs
	}
	return mine
}
