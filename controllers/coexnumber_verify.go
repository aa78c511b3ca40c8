// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/coex-operator/coex-operator/api/v1alpha1"
	"github.com/coex-operator/coex-operator/internal/coexstatus"
	"github.com/coex-operator/coex-operator/internal/graph"
	"github.com/coex-operator/coex-operator/internal/webhook"
)

// verify owns the Verified condition: the country rule, then Meta's onboarding check
// (is_on_biz_app and platform_type). A verified number is not asked again unless its spec
// changes, a reconcile is forced, or Meta reconnected it after an offboarding.
func (r *CoexNumberReconciler) verify(ctx context.Context, st *numberState) (bool, error) {
	n := st.n
	if code, ok := r.unsupportedCountry(n.Spec.DisplayPhoneNumber); ok {
		r.condition(st, v1.ConditionVerified, metav1.ConditionFalse, coexstatus.ReasonUnsupportedCountry,
			fmt.Sprintf("coexistence is not available for +%s numbers (%s); this number cannot be onboarded "+
				"(the list is the manager's --unsupported-calling-codes)", code, n.Spec.DisplayPhoneNumber))
		return false, nil
	}
	if c := meta.FindStatusCondition(n.Status.Conditions, v1.ConditionVerified); c != nil &&
		c.Status == metav1.ConditionTrue && c.ObservedGeneration == n.Generation && !st.forced && !reconnectedSince(n) {
		return true, nil
	}

	pn, err := st.graph.GetPhoneNumber(ctx, st.token, n.Spec.PhoneNumberID)
	if err != nil {
		return r.graphFailed(st, v1.ConditionVerified, "cannot check the number's onboarding", err), nil
	}
	checked := metav1.NewTime(st.now)
	onBiz := pn.IsOnBizApp
	n.Status.Onboarding = &v1.OnboardingStatus{OnBizApp: &onBiz, PlatformType: pn.PlatformType, CheckedAt: &checked}
	switch {
	case !pn.IsOnBizApp:
		r.condition(st, v1.ConditionVerified, metav1.ConditionFalse, coexstatus.ReasonNotOnBusinessApp,
			"Meta reports is_on_biz_app=false: the number is not in use on the WhatsApp Business app, so it is not a "+
				"coexistence number; onboard it through Embedded Signup's coexistence flow")
		return false, nil
	case pn.PlatformType != graph.PlatformCloudAPI:
		r.condition(st, v1.ConditionVerified, metav1.ConditionFalse, coexstatus.ReasonNotCloudAPI,
			fmt.Sprintf("Meta reports platform_type=%q, not CLOUD_API: the number is not onboarded to the Cloud API", pn.PlatformType))
		return false, nil
	}
	r.condition(st, v1.ConditionVerified, metav1.ConditionTrue, coexstatus.ReasonCoexistenceConfirmed,
		"on the WhatsApp Business app and the Cloud API")
	return true, nil
}

// unsupportedCountry returns the calling code of the number when coexistence is unavailable
// there. Calling codes are prefix-free, so a prefix match is exact.
func (r *CoexNumberReconciler) unsupportedCountry(e164 string) (string, bool) {
	digits := strings.TrimPrefix(e164, "+")
	for _, code := range r.UnsupportedCallingCodes {
		if code != "" && strings.HasPrefix(digits, code) {
			return code, true
		}
	}
	return "", false
}

// reconnectedSince reports whether Meta reconnected the number after it was last checked.
func reconnectedSince(n *v1.CoexNumber) bool {
	off := n.Status.Offboarding
	if off == nil || off.Event != webhook.EventAccountReconnected || off.At == nil {
		return false
	}
	ob := n.Status.Onboarding
	return ob == nil || ob.CheckedAt == nil || ob.CheckedAt.Before(off.At)
}
