// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"context"
	"errors"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	v1 "github.com/coex-operator/coex-operator/api/v1alpha1"
)

// finalize removes what the operator created for a number being deleted, and nothing else:
// the WABA subscription only when the operator made it and no other CoexNumber of the same
// app uses that WABA. It never calls deregister, which Meta forbids for coexistence numbers
// (the business disconnects in the app). The exchanged token Secret is owned by the number
// and garbage-collected with it.
func (r *CoexNumberReconciler) finalize(ctx context.Context, n *v1.CoexNumber) error {
	if !controllerutil.ContainsFinalizer(n, finalizer) {
		return nil
	}
	if err := r.unsubscribeIfLast(ctx, n); err != nil {
		var kept keptError
		if !errors.As(err, &kept) {
			return err // a Kubernetes error: keep the finalizer and try again
		}
		// Meta's side is best effort: a number whose app or token is gone, or whose
		// unsubscribe Meta refuses, must still be deletable.
		log.FromContext(ctx).Info("left the WABA subscription in place", "reason", err.Error())
		r.event(n, corev1.EventTypeWarning, "SubscriptionKept", "Delete",
			"could not remove the app's WABA subscription the operator made: "+err.Error())
	}
	controllerutil.RemoveFinalizer(n, finalizer)
	return r.Client.Update(ctx, n)
}

func (r *CoexNumberReconciler) unsubscribeIfLast(ctx context.Context, n *v1.CoexNumber) error {
	if n.Status.Subscription == nil || !n.Status.Subscription.CreatedByOperator {
		return nil
	}
	if c := meta.FindStatusCondition(n.Status.Conditions, v1.ConditionOffboarded); c != nil && c.Status == metav1.ConditionTrue {
		return nil // disconnected: no Graph calls
	}
	if n.Spec.Suspend {
		return keptError{"the number is suspended, and a suspended number makes no Graph call"}
	}
	st := &numberState{n: n, orig: n.DeepCopy(), now: r.Clock.Now()}
	if ok, err := r.metaApp(ctx, st); !ok || err != nil {
		return keptOr(err, "the MetaApp is gone")
	}
	if heir, err := r.subscriptionHeir(ctx, n, st.app.Spec.AppID); err != nil || heir != nil {
		if err != nil {
			return err
		}
		// Still needed. The subscription belongs to the app and the WABA, not to this
		// number: hand the record to a number that stays, so the last one removes it.
		return r.handOverSubscription(ctx, heir)
	}
	if ok, err := r.credentials(ctx, st); !ok || err != nil {
		return keptOr(err, "the credentials are gone")
	}
	if err := st.graph.UnsubscribeApp(ctx, st.token, n.Spec.WABAID); err != nil {
		return keptError{err.Error()}
	}
	return nil
}

// subscriptionHeir returns a number that stays and still uses the subscription of Meta app
// appID to n's WABA, in any namespace, or nil when n is the last. A subscription is Meta's
// (app, WABA) pair: a MetaApp in another namespace with the same app ID shares it.
func (r *CoexNumberReconciler) subscriptionHeir(ctx context.Context, n *v1.CoexNumber, appID string) (*v1.CoexNumber, error) {
	var users v1.CoexNumberList
	if err := r.Client.List(ctx, &users, client.MatchingFields{wabaIndex: n.Spec.WABAID}); err != nil {
		return nil, err
	}
	apps := map[client.ObjectKey]string{{Namespace: n.Namespace, Name: n.Spec.AppRef.Name}: appID}
	for i := range users.Items {
		o := &users.Items[i]
		if o.UID == n.UID || !o.DeletionTimestamp.IsZero() {
			continue
		}
		key := client.ObjectKey{Namespace: o.Namespace, Name: o.Spec.AppRef.Name}
		id, seen := apps[key]
		if !seen {
			app := &v1.MetaApp{}
			if err := r.Client.Get(ctx, key, app); client.IgnoreNotFound(err) != nil {
				return nil, err
			}
			id, apps[key] = app.Spec.AppID, app.Spec.AppID
		}
		if id == appID {
			return o, nil
		}
	}
	return nil, nil
}

// keptError says why the operator's WABA subscription is left in place.
type keptError struct{ why string }

func (e keptError) Error() string { return e.why }

func keptOr(err error, why string) error {
	if err != nil {
		return err
	}
	return keptError{why}
}

// handOverSubscription marks heir as holding the subscription the operator created.
func (r *CoexNumberReconciler) handOverSubscription(ctx context.Context, heir *v1.CoexNumber) error {
	if heir.Status.Subscription != nil && heir.Status.Subscription.CreatedByOperator {
		return nil
	}
	orig := heir.DeepCopy()
	if heir.Status.Subscription == nil {
		heir.Status.Subscription = &v1.SubscriptionStatus{}
	}
	heir.Status.Subscription.CreatedByOperator = true
	return patchStatus(ctx, r.Client, heir, orig)
}
