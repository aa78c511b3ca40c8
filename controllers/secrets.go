// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	whatsappv1alpha1 "github.com/coex-operator/coex-operator/api/v1alpha1"
	"github.com/coex-operator/coex-operator/internal/graph"
)

// secretError says which Secret or key is missing, in words for a condition message. It
// never holds a Secret's value.
type secretError struct{ msg string }

func (e *secretError) Error() string { return e.msg }

// readSecretKey returns the value of one key of a Secret in namespace. A missing Secret,
// key or empty value is a *secretError: the user must fix it, retrying will not.
func readSecretKey(ctx context.Context, c client.Reader, namespace string, sel whatsappv1alpha1.SecretKeySelector) (graph.Secret, error) {
	var s corev1.Secret
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: sel.Name}, &s); err != nil {
		if apierrors.IsNotFound(err) {
			return "", &secretError{fmt.Sprintf("Secret %q not found", sel.Name)}
		}
		return "", fmt.Errorf("cannot read Secret %q: %w", sel.Name, err)
	}
	v, ok := s.Data[sel.Key]
	if !ok {
		return "", &secretError{fmt.Sprintf("Secret %q has no key %q", sel.Name, sel.Key)}
	}
	if len(v) == 0 {
		return "", &secretError{fmt.Sprintf("Secret %q key %q is empty", sel.Name, sel.Key)}
	}
	return graph.Secret(v), nil
}

// appCredentials reads a MetaApp's app secret.
func appCredentials(ctx context.Context, c client.Reader, app *whatsappv1alpha1.MetaApp) (graph.App, error) {
	secret, err := readSecretKey(ctx, c, app.Namespace, app.Spec.AppSecretRef)
	if err != nil {
		return graph.App{}, err
	}
	return graph.App{ID: app.Spec.AppID, Secret: secret}, nil
}
