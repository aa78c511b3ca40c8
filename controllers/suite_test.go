// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"context"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	v1 "github.com/coex-operator/coex-operator/api/v1alpha1"
	"github.com/coex-operator/coex-operator/internal/controlplane"
	"github.com/coex-operator/coex-operator/internal/graph"
)

// The suite runs the reconcilers in a manager against a real kube-apiserver and etcd. Meta is a
// graph.Fake per MetaApp (fakes), and time is a fake clock (clk) the specs move.

var (
	env   *controlplane.Env
	k8s   client.Client
	clk   *clocktesting.FakeClock
	fakes = &fakeGraphs{m: map[types.NamespacedName]*graph.Fake{}}
	ctx   = context.Background()
)

// fakeGraphs hands each MetaApp the fake its spec registered.
type fakeGraphs struct {
	mu sync.Mutex
	m  map[types.NamespacedName]*graph.Fake
}

func (f *fakeGraphs) For(app *v1.MetaApp) graph.Client {
	f.mu.Lock()
	defer f.mu.Unlock()
	if g, ok := f.m[client.ObjectKeyFromObject(app)]; ok {
		return g
	}
	return &graph.Fake{} // every call fails: no spec expects it
}

func (f *fakeGraphs) set(app types.NamespacedName, g *graph.Fake) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.m[app] = g
}

func TestControllers(t *testing.T) {
	RegisterFailHandler(Fail)
	SetDefaultEventuallyTimeout(60 * time.Second)
	SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	RunSpecs(t, "Reconcilers against a real kube-apiserver")
}

var _ = BeforeSuite(func() {
	ctrl.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	var err error
	env, err = controlplane.Start(controlplane.Options{InstallCRDs: true})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(env.Stop)

	scheme := runtime.NewScheme()
	Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	Expect(v1.AddToScheme(scheme)).To(Succeed())
	k8s, err = client.New(env.Config, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())

	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// As cmd/manager: Secret values are read past the cache, never listed.
		Client: client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}},
	})
	Expect(err).NotTo(HaveOccurred())
	clk = clocktesting.NewFakeClock(time.Now().Truncate(time.Second))
	Expect(Setup(mgr, Options{
		Graph:               fakes,
		Clock:               clk,
		Events:              mgr.GetEventRecorder("coex-operator"),
		ReceiverCredentials: projectionKey,
	})).To(Succeed())

	mctx, cancel := context.WithCancel(ctx)
	DeferCleanup(cancel)
	go func() {
		defer GinkgoRecover()
		Expect(mgr.Start(mctx)).To(Succeed())
	}()
})
