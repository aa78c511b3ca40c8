// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package receivertoken

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/coex-operator/coex-operator/internal/controlplane"
)

// TestWriter runs the writer against a real API server: the receiver's kubeconfig appears only
// with a token, authenticates as the receiver's ServiceAccount, is renewed at half-life, and a
// client built from it follows the renewed token without a restart.
func TestWriter(t *testing.T) {
	env, err := controlplane.Start(controlplane.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	c, err := client.New(env.Config, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := filepath.Join(t.TempDir(), "receiver-kube")
	w := &Writer{Client: c, Namespace: "default", ServiceAccount: "coex-receiver", Dir: dir, Server: env.Config,
		Lifetime: 20 * time.Minute, Log: logr.Discard()}

	// The ServiceAccount does not exist yet: no kubeconfig, and an error that says what failed.
	if _, err := w.Renew(ctx); err == nil || !strings.Contains(err.Error(), "TokenRequest for ServiceAccount default/coex-receiver") {
		t.Fatalf("Renew without the ServiceAccount = %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- w.Start(ctx) }()
	time.Sleep(300 * time.Millisecond)
	if _, err := os.Stat(filepath.Join(dir, KubeconfigFile)); err == nil {
		t.Fatal("a kubeconfig was written before any token")
	}
	if err := c.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "coex-receiver"}}); err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(dir, KubeconfigFile)
	deadline := time.Now().Add(time.Minute) // the writer retries with backoff from 1 s
	for {
		if _, err := os.Stat(kubeconfig); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no kubeconfig a minute after the ServiceAccount was created")
		}
		time.Sleep(100 * time.Millisecond)
	}

	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BearerTokenFile != filepath.Join(dir, TokenFile) {
		t.Errorf("the kubeconfig names %q; it must name the token file, which client-go re-reads on renewal", cfg.BearerTokenFile)
	}
	if data, _ := os.ReadFile(kubeconfig); strings.Contains(string(data), "token:") {
		t.Error("the kubeconfig holds a token; it must only name the file")
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	whoami := func() string {
		t.Helper()
		r, err := cs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return r.Status.UserInfo.Username
	}
	if got := whoami(); got != "system:serviceaccount:default:coex-receiver" {
		t.Fatalf("the receiver's kubeconfig authenticates as %q", got)
	}

	first, _ := os.ReadFile(filepath.Join(dir, TokenFile))
	next, err := w.Renew(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if next < 9*time.Minute || next > 10*time.Minute {
		t.Errorf("next renewal in %s, want half of the 20 min lifetime", next)
	}
	second, _ := os.ReadFile(filepath.Join(dir, TokenFile))
	if len(first) == 0 || string(first) == string(second) {
		t.Error("Renew did not replace the token")
	}
	if got := whoami(); got != "system:serviceaccount:default:coex-receiver" {
		t.Errorf("after a renewal the client authenticates as %q", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Start = %v", err)
	}
}
