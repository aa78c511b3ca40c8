// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package controllers

import (
	ctrl "sigs.k8s.io/controller-runtime"
)

// Annotations users put on a CoexNumber or MetaApp.
const (
	// AnnotationPaused: "true" stops every reconciler (and so every Graph call) for the object
	// until removed. Webhooks are still recorded by the receiver.
	AnnotationPaused = "whatsapp.coex.dev/paused"
	// AnnotationReconcileRequestedAt: any new value reconciles the object now and re-checks
	// what is otherwise checked on a period (the verification, the subscription). The value
	// handled last is kept in status, like Flux's reconcile.fluxcd.io/requestedAt.
	AnnotationReconcileRequestedAt = "whatsapp.coex.dev/reconcile-requested-at"
)

// Setup registers every reconciler with the manager.
func Setup(mgr ctrl.Manager, opts Options) error {
	opts = opts.withDefaults()
	if opts.Client == nil {
		opts.Client = mgr.GetClient()
	}
	if opts.APIReader == nil {
		opts.APIReader = mgr.GetAPIReader()
	}
	numberMetrics.use(opts.Client, opts.Clock) // coex_numbers, coex_sync_deadline_seconds
	if err := (&MetaAppReconciler{Options: opts}).SetupWithManager(mgr); err != nil {
		return err
	}
	if opts.ReceiverCredentials.Namespace != "" {
		if err := (&ReceiverCredentialsReconciler{Options: opts, Namespace: opts.ReceiverCredentials.Namespace,
			Name: opts.ReceiverCredentials.Name, Grace: opts.RotationGrace}).SetupWithManager(mgr); err != nil {
			return err
		}
	}
	return (&CoexNumberReconciler{Options: opts}).SetupWithManager(mgr)
}
