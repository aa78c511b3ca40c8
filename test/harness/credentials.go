// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package harness

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	v1 "github.com/coex-operator/coex-operator/api/v1alpha1"
	"github.com/coex-operator/coex-operator/controllers"
	"github.com/coex-operator/coex-operator/internal/controlplane"
	"github.com/coex-operator/coex-operator/internal/receivercreds"
)

// CredentialsNamespace is where a manager and a receiver run outside a pod keep and read the
// receiver's credentials Secret (receivercreds.OperatorNamespace without $POD_NAMESPACE).
const CredentialsNamespace = "default"

// StartCredentialsProjector runs the manager's ReceiverCredentialsReconciler (the real one,
// alone) in this process until the test ends, for tests that run receivers without a
// manager: it keeps the Secret the receivers read their app secrets, verify tokens and relay
// keys from, as the leading manager does in the pod.
func StartCredentialsProjector(tb testing.TB, env *controlplane.Env) {
	tb.Helper()
	scheme := kruntime.NewScheme()
	must(tb, clientgoscheme.AddToScheme(scheme))
	must(tb, v1.AddToScheme(scheme))
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Client:                 client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}},
		// One projector per world; a test binary may build many worlds.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	must(tb, err)
	r := &controllers.ReceiverCredentialsReconciler{
		Options:   controllers.Options{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader()},
		Namespace: CredentialsNamespace, Name: receivercreds.DefaultSecretName,
	}
	must(tb, r.SetupWithManager(mgr))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("credentials projector: %v", err)
		}
	})
}
