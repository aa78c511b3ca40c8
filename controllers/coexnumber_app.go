// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/coex-operator/coex-operator/api/v1alpha1"
	"github.com/coex-operator/coex-operator/internal/coexstatus"
)

// suspended stops every step that calls Meta while spec.suspend is true: not one Graph call
// of any kind, as the API promises. coexstatus.Summarize shows the phase Suspended.
func (r *CoexNumberReconciler) suspended(_ context.Context, st *numberState) (bool, error) {
	return !st.n.Spec.Suspend, nil
}

// offboarded stops every step that calls Meta while the receiver records the number as
// disconnected (PARTNER_REMOVED, ACCOUNT_OFFBOARDED). ACCOUNT_RECONNECTED sets Offboarded
// False, and verification runs again (see verify).
func (r *CoexNumberReconciler) offboarded(_ context.Context, st *numberState) (bool, error) {
	c := meta.FindStatusCondition(st.n.Status.Conditions, v1.ConditionOffboarded)
	return c == nil || c.Status != metav1.ConditionTrue, nil
}

// metaApp finds the number's MetaApp and its Graph client. A missing MetaApp is waited for:
// creating it reconciles the number (the MetaApp watch).
func (r *CoexNumberReconciler) metaApp(ctx context.Context, st *numberState) (bool, error) {
	app := &v1.MetaApp{}
	key := client.ObjectKey{Namespace: st.n.Namespace, Name: st.n.Spec.AppRef.Name}
	if err := r.Client.Get(ctx, key, app); err != nil {
		if apierrors.IsNotFound(err) {
			r.condition(st, v1.ConditionVerified, metav1.ConditionFalse, coexstatus.ReasonMetaAppNotFound,
				fmt.Sprintf("MetaApp %q not found in namespace %s", key.Name, key.Namespace))
			return false, nil
		}
		return false, err
	}
	st.app = app
	st.graph = r.Graph.For(app)
	return true, nil
}
