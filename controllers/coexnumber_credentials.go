// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
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
// A signup code is single-use and lives 30 s (see exchange). A crash between Meta's answer
// and the Secret write loses the token; Meta then refuses the code (36009, or 36007 once it
// expired) and the number stalls with a reason that says what to do.
func (r *CoexNumberReconciler) credentials(ctx context.Context, st *numberState) (bool, error) {
	n := st.n
	if ref := n.Spec.TokenSecretRef; ref != nil {
		tok, err := readSecretKey(ctx, r.reader(), n.Namespace, *ref)
		return r.gotToken(st, tok, err)
	}
	ref := n.Spec.SignupCodeSecretRef
	if ref == nil { // the schema forbids it; be explicit anyway
		r.condition(st, v1.ConditionVerified, metav1.ConditionFalse, coexstatus.ReasonCredentialsMissing, "no tokenSecretRef or signupCodeSecretRef")
		return false, nil
	}
	if rec := n.Status.Credentials; rec != nil && rec.ExchangedAt != nil {
		tok, err := readSecretKey(ctx, r.reader(), n.Namespace, v1.SecretKeySelector{Name: rec.TokenSecretName, Key: tokenKey})
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

// exchange trades the signup code for a token, at most once, and never loses the token:
//
//   - a token Secret this number already controls (an exchange whose status write was lost)
//     is adopted, not exchanged again; one it does not control is never overwritten;
//   - the fence (a resourceVersion-checked write) before the exchange stops a reconcile
//     working from a stale cache, which might not see a recorded exchange, from spending the
//     code a second time;
//   - the Secret and the status are written with retries while the token is in memory.
func (r *CoexNumberReconciler) exchange(ctx context.Context, st *numberState, ref v1.SecretKeySelector) (bool, error) {
	n := st.n
	name := tokenSecretName(n)
	if adopted, err := r.adoptTokenSecret(ctx, st, name); adopted || err != nil {
		return adopted, err
	}
	code, err := readSecretKey(ctx, r.reader(), n.Namespace, ref)
	if ok, err := r.gotToken(st, "", err); !ok {
		return false, err
	}
	app, err := appCredentials(ctx, r.reader(), st.app)
	if ok, err := r.gotToken(st, "", err); !ok {
		return false, err
	}
	if err := r.fence(ctx, st); err != nil {
		return false, err
	}
	tok, err := st.graph.ExchangeCode(ctx, app, code)
	if err != nil {
		return r.graphFailed(st, v1.ConditionVerified, "cannot exchange the signup code", err), nil
	}
	if err := r.storeToken(ctx, n, name, tok); err != nil {
		var clash *secretClash
		if errors.As(err, &clash) {
			// Created by someone else between our look and our write: the token cannot be
			// kept without overwriting theirs.
			r.condition(st, v1.ConditionVerified, metav1.ConditionFalse, coexstatus.ReasonTokenSecretConflict,
				clash.Error()+"; the exchanged token was not stored and the signup code is spent: run Embedded "+
					"Signup again once the Secret is renamed or removed")
			return false, nil
		}
		return false, err
	}
	now := metav1.NewTime(st.now)
	n.Status.Credentials = &v1.CredentialsStatus{TokenSecretName: name, ExchangedAt: &now}
	st.emit(corev1.EventTypeNormal, "SignupCodeExchanged", "Credentials",
		fmt.Sprintf("exchanged the signup code for a token, stored in Secret %s", name))
	if err := r.writeStatus(ctx, st); err != nil {
		// The token is safe in its Secret, which the next reconcile adopts.
		return false, err
	}
	st.token = tok
	return true, nil
}

// tokenSecretName is the Secret an exchanged token is kept in.
func tokenSecretName(n *v1.CoexNumber) string { return n.Name + "-token" }

// adoptTokenSecret takes over the token Secret a lost status write left behind: one this
// number controls that holds a token. It reports whether it did. A Secret of that name that
// this number does not control stalls the number before the code is spent.
func (r *CoexNumberReconciler) adoptTokenSecret(ctx context.Context, st *numberState, name string) (bool, error) {
	n := st.n
	secret := &corev1.Secret{}
	if err := r.reader().Get(ctx, client.ObjectKey{Namespace: n.Namespace, Name: name}, secret); err != nil {
		return false, client.IgnoreNotFound(err)
	}
	if !metav1.IsControlledBy(secret, n) {
		r.condition(st, v1.ConditionVerified, metav1.ConditionFalse, coexstatus.ReasonTokenSecretConflict,
			(&secretClash{name}).Error()+"; the signup code was not exchanged: rename or remove that Secret, or set "+
				"tokenSecretRef instead (the code lives 30 s: it has likely expired, so run Embedded Signup again)")
		return false, nil
	}
	if len(secret.Data[tokenKey]) == 0 {
		// The operator creates it with the token and never changes it: emptied by hand.
		r.condition(st, v1.ConditionVerified, metav1.ConditionFalse, coexstatus.ReasonTokenSecretConflict,
			fmt.Sprintf("Secret %q is controlled by this CoexNumber but holds no token; delete it and run Embedded "+
				"Signup again, or set tokenSecretRef", name))
		return false, nil
	}
	now := metav1.NewTime(st.now)
	n.Status.Credentials = &v1.CredentialsStatus{TokenSecretName: name, ExchangedAt: &now}
	st.emit(corev1.EventTypeNormal, "TokenSecretAdopted", "Credentials",
		fmt.Sprintf("Secret %s already holds the token of an earlier exchange for this number; using it", name))
	if err := r.writeStatus(ctx, st); err != nil {
		return false, err
	}
	st.token = graph.Secret(secret.Data[tokenKey])
	return true, nil
}

// secretClash: a Secret of the token's name exists and this number does not control it.
type secretClash struct{ name string }

func (e *secretClash) Error() string {
	return fmt.Sprintf("Secret %q exists and is not controlled by this CoexNumber; it is never overwritten", e.name)
}

// storeToken creates the token Secret, retrying passing API errors while the token is in
// memory. The manager may create Secrets but not change one (least privilege): a Secret of
// that name is ours only if it already holds this very token (an earlier try whose answer was
// lost); any other is a clash.
func (r *CoexNumberReconciler) storeToken(ctx context.Context, n *v1.CoexNumber, name string, tok graph.Secret) error {
	return retry.OnError(writeBackoff, retriableWrite, func() error {
		secret := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: n.Namespace, Name: name},
			Type:       corev1.SecretTypeOpaque,
			Data:       map[string][]byte{tokenKey: []byte(tok.Reveal())},
		}
		if err := controllerutil.SetControllerReference(n, secret, r.Client.Scheme()); err != nil {
			return err
		}
		err := r.Client.Create(ctx, secret)
		if !apierrors.IsAlreadyExists(err) {
			return err
		}
		existing := &corev1.Secret{}
		if err := r.reader().Get(ctx, client.ObjectKey{Namespace: n.Namespace, Name: name}, existing); err != nil {
			return err
		}
		if !metav1.IsControlledBy(existing, n) || string(existing.Data[tokenKey]) != tok.Reveal() {
			return &secretClash{name}
		}
		return nil
	})
}

// graphFailed turns a Graph error into the condition typ and a retry. It reports whether the
// steps may go on (never, here). Auth errors and a spent code need a human; transient ones
// are retried soon, permanent ones later.
func (r *CoexNumberReconciler) graphFailed(st *numberState, typ, doing string, err error) bool {
	msg := fmt.Sprintf("%s: %v", doing, err)
	var ge *graph.Error
	switch {
	case errors.As(err, &ge) && ge.Subcode == subcodeCodeUsed:
		r.condition(st, typ, metav1.ConditionFalse, coexstatus.ReasonSignupCodeSpent,
			msg+"; the code was already used (Graph subcode 36009): run Embedded Signup again and set the new "+
				"code at once (it lives 30 s), or use tokenSecretRef")
	case errors.As(err, &ge) && ge.Subcode == subcodeCodeExpired:
		r.condition(st, typ, metav1.ConditionFalse, coexstatus.ReasonSignupCodeExpired,
			msg+"; the code expired (Graph subcode 36007): a signup code lives 30 s, so it must reach the operator "+
				"straight from Embedded Signup; run it again, or use tokenSecretRef")
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

// Graph subcodes of a refused signup code exchange (META_API.md).
const (
	subcodeCodeExpired = 36007
	subcodeCodeUsed    = 36009
)

// Retry periods after a failed Graph call. The client has already retried a transient error
// with backoff for up to a minute.
const (
	retryTransient = 15 * time.Second
	retryPermanent = 5 * time.Minute
)
