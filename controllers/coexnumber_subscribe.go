// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/coex-operator/coex-operator/api/v1alpha1"
	"github.com/coex-operator/coex-operator/internal/coexstatus"
	"github.com/coex-operator/coex-operator/internal/graph"
)

// subscribe owns WebhooksSubscribed: the app must be subscribed to the number's WABA, or no
// webhook (history, echoes, account_update) ever arrives. It is read again every
// SubscriptionRecheck (with jitter) to notice someone removing it; that read is the
// operator's only steady-state Graph call for a number.
func (r *CoexNumberReconciler) subscribe(ctx context.Context, st *numberState) (bool, error) {
	n := st.n
	period := jittered(r.SubscriptionRecheck, n.UID)
	if c := meta.FindStatusCondition(n.Status.Conditions, v1.ConditionWebhooksSubscribed); c != nil &&
		c.Status == metav1.ConditionTrue && !st.forced && n.Status.Subscription != nil && n.Status.Subscription.CheckedAt != nil {
		// checkedAt is kept to the second: one more second keeps a check from coming early.
		if due := n.Status.Subscription.CheckedAt.Add(period + time.Second); st.now.Before(due) {
			st.requeueAfter(due.Sub(st.now))
			return true, nil
		}
	}

	apps, err := st.graph.ListSubscribedApps(ctx, st.token, n.Spec.WABAID)
	if err != nil {
		return r.graphFailed(st, v1.ConditionWebhooksSubscribed, "cannot list the WABA's subscribed apps", err), nil
	}
	rec := n.Status.Subscription
	if rec == nil {
		rec = &v1.SubscriptionStatus{}
	}
	if !subscribed(apps, st.app.Spec.AppID) {
		if err := st.graph.SubscribeApp(ctx, st.token, n.Spec.WABAID, graph.SubscribeOptions{}); err != nil {
			return r.graphFailed(st, v1.ConditionWebhooksSubscribed, "cannot subscribe the app to the WABA", err), nil
		}
		// Found missing after we had it: drift, worth saying.
		if c := meta.FindStatusCondition(n.Status.Conditions, v1.ConditionWebhooksSubscribed); c != nil && c.Status == metav1.ConditionTrue {
			st.emit(corev1.EventTypeWarning, "SubscriptionRestored", v1.ConditionWebhooksSubscribed,
				"the app was no longer subscribed to the WABA (removed outside the operator); subscribed it again")
		}
		rec.CreatedByOperator = true
	}
	checked := metav1.NewTime(st.now)
	rec.CheckedAt = &checked
	n.Status.Subscription = rec
	r.condition(st, v1.ConditionWebhooksSubscribed, metav1.ConditionTrue, coexstatus.ReasonSubscribed,
		"the app is subscribed to WABA "+n.Spec.WABAID)
	st.requeueAfter(period)
	return true, nil
}

func subscribed(apps []graph.SubscribedApp, appID string) bool {
	for _, a := range apps {
		if a.AppID == appID {
			return true
		}
	}
	return false
}
