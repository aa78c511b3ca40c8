// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/coex-operator/coex-operator/api/v1alpha1"
)

// Reasons of AppEchoesRecent.
const (
	reasonEchoSeen     = "EchoSeen"
	reasonNoEchoYet    = "NoEchoYet"
	reasonNoRecentEcho = "NoRecentEcho"
)

// appActivity owns AppEchoesRecent. Meta disconnects a coexistence number whose business has
// not opened the WhatsApp Business app for about 14 days. Meta does not report app opens; the
// closest signal is an echo, a message sent from the app. So the condition says what it
// measures: no echo seen for AppInactivityWarning (10 days by default).
func (r *CoexNumberReconciler) appActivity(_ context.Context, st *numberState) (bool, error) {
	n := st.n
	limit := r.AppInactivityWarning
	since := n.SyncWindowStart().Time
	if e := n.Status.Echoes; e != nil && e.LastAt != nil && e.LastAt.After(since) {
		since = e.LastAt.Time
	}
	quiet := st.now.Sub(since)
	switch {
	case quiet >= limit:
		r.condition(st, v1.ConditionAppEchoesRecent, metav1.ConditionFalse, reasonNoRecentEcho, fmt.Sprintf(
			"no message sent from the WhatsApp Business app seen for %s; Meta disconnects numbers whose business does "+
				"not open the app for about 14 days: ask the business to open the app", quiet.Round(time.Hour)))
	case n.Status.Echoes == nil || n.Status.Echoes.LastAt == nil:
		r.condition(st, v1.ConditionAppEchoesRecent, metav1.ConditionUnknown, reasonNoEchoYet,
			"no message sent from the WhatsApp Business app seen yet")
		st.requeueAfter(limit - quiet)
	default:
		r.condition(st, v1.ConditionAppEchoesRecent, metav1.ConditionTrue, reasonEchoSeen,
			"last message sent from the app at "+n.Status.Echoes.LastAt.UTC().Format(time.RFC3339))
		st.requeueAfter(limit - quiet)
	}
	return true, nil
}
