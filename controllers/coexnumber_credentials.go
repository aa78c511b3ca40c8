// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	v1 "github.com/coex-operator/coex-operator/api/v1alpha1"
	"github.com/coex-operator/coex-operator/internal/coexstatus"
	"github.com/coex-operator/coex-operator/internal/graph"
)

// tokenKey is the key of the exchanged token in the Secret the operator writes.
const tokenKey = "token"

// credentials resolves the number's access token: from tokenSecretRef as it is, or by
// exchanging the signup code once for a token kept in a Secret the number owns.
//
// A signup code is single-use. The token Secret is written right after the exchange and the
// exchange is recorded in status before anything else happens, so it is never attempted twice.
// A crash between Meta's answer and the Secret write loses the token; Meta then refuses the
// code (36009) and the number stalls with SignupCodeSpent, which says what to do.
func (r *CoexNumberReconciler) credentials(ctx context.Context, st *numberState) (bool, error) {
	n := st.n
	if ref := n.Spec.TokenSecretRef; ref != nil {
		tok, err := readSecretKey(ctx, r.Client, n.Namespace, *ref)
		return r.gotToken(st, tok, err)
	}
	ref := n.Spec.SignupCodeSecretRef
	if ref == nil { // the schema forbids it; be explicit anyway
		r.condition(st, v1.ConditionVerified, metav1.ConditionFalse, coexstatus.ReasonCredentialsMissing, "no tokenSecretRef or signupCodeSecretRef")
		return false, nil
	}
	if rec := n.Status.Credentials; rec != nil && rec.ExchangedAt != nil {
		tok, err := readSecretKey(ctx, r.Client, n.Namespace, v1.SecretKeySelector{Name: rec.TokenSecretName, Key: tokenKey})
		var se *secretError
		if errors.As(err, &se) {
			r.condition(st, v1.ConditionVerified, metav1.ConditionFalse, coexstatus.ReasonSignupCodeSpent,
				fmt.Sprintf("the signup code was exchanged at %s but the token Secret %q is gone (%s); "+
					"run Embedded Signup again and set a new signupCodeSecretRef, or use tokenSecretRef",
					rec.ExchangedAt.UTC().Format("2006-01-02T15:04:05Z"), rec.TokenSecretName, se.msg))
			return false, nil
		}
		return r.gotToken(st, tok, err)
	}
	return r.exchange(ctx, st, *ref)
}

func (r *CoexNumberReconciler) gotToken(st *numberState, tok graph.Secret, err error) (bool, error) {
	var se *secretError
	if errors.As(err, &se) {
		r.condition(st, v1.ConditionVerified, metav1.ConditionFalse, coexstatus.ReasonCredentialsMissing, se.msg)
		return false, nil
	}
	if err != nil {
		return false, err
	}
	st.token = tok
	return true, nil
}

// exchange trades the signup code for a token, once.
func (r *CoexNumberReconciler) exchange(ctx context.Context, st *numberState, ref v1.SecretKeySelector) (bool, error) {
	n := st.n
	code, err := readSecretKey(ctx, r.Client, n.Namespace, ref)
	if ok, err := r.gotToken(st, "", err); !ok {
		return false, err
	}
	app, err := appCredentials(ctx, r.Client, st.app)
	if ok, err := r.gotToken(st, "", err); !ok {
		return false, err
	}
	tok, err := st.graph.ExchangeCode(ctx, app, code)
	if err != nil {
		return r.graphFailed(st, v1.ConditionVerified, "cannot exchange the signup code", err), nil
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: n.Namespace, Name: n.Name + "-token"},
		Type:       corev1.SecretTypeOpaque,
	}
	if _, err := controllerutil.CreateOrUpdate(ctx, r.Client, secret, func() error {
		secret.Data = map[string][]byte{tokenKey: []byte(tok.Reveal())}
		return controllerutil.SetControllerReference(n, secret, r.Client.Scheme())
	}); err != nil {
		return false, fmt.Errorf("cannot store the exchanged token in Secret %s: %w", secret.Name, err)
	}
	now := metav1.NewTime(st.now)
	n.Status.Credentials = &v1.CredentialsStatus{TokenSecretName: secret.Name, ExchangedAt: &now}
	r.event(n, corev1.EventTypeNormal, "SignupCodeExchanged", "Credentials",
		fmt.Sprintf("exchanged the signup code for a token, stored in Secret %s", secret.Name))
	if err := r.writeStatus(ctx, st); err != nil {
		return false, err
	}
	st.token = tok
	return true, nil
}

// graphFailed turns a Graph error into the condition typ and a retry. It reports whether the
// steps may go on (never, here). Auth errors and a spent code need a human; transient ones
// are retried soon, permanent ones later.
func (r *CoexNumberReconciler) graphFailed(st *numberState, typ, doing string, err error) bool {
	msg := fmt.Sprintf("%s: %v", doing, err)
	var ge *graph.Error
	switch {
	case errors.As(err, &ge) && ge.Subcode == 36009:
		r.condition(st, typ, metav1.ConditionFalse, coexstatus.ReasonSignupCodeSpent,
			msg+"; the code was already used: run Embedded Signup again, or use tokenSecretRef")
	case graph.IsAuth(err):
		r.condition(st, typ, metav1.ConditionFalse, coexstatus.ReasonCredentialsRejected,
			msg+"; fix the token or the app secret (a change to the Secret is picked up at once)")
	case graph.IsTransient(err):
		r.condition(st, typ, metav1.ConditionFalse, coexstatus.ReasonGraphUnavailable, msg)
		st.requeueAfter(retryTransient)
	default:
		r.condition(st, typ, metav1.ConditionFalse, coexstatus.ReasonGraphError, msg)
		st.requeueAfter(retryPermanent)
	}
	return false
}

// Retry periods after a failed Graph call. The client has already retried a transient error
// with backoff for up to a minute.
const (
	retryTransient = 15 * time.Second
	retryPermanent = 5 * time.Minute
)
