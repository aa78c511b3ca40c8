// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

// Command localcluster runs a local Kubernetes control plane (kube-apiserver and etcd built
// from source by `make envtest-bins`) until interrupted, and writes an admin kubeconfig for
// kubectl. `make demo` uses it; so can you:
//
//	bin/localcluster --write-kubeconfig /tmp/coex.kubeconfig &
//	KUBECONFIG=/tmp/coex.kubeconfig kubectl get ns
//
// There are no nodes: pods never run. That is enough for CRDs, the operator and kubectl.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/coex-operator/coex-operator/internal/controlplane"
)

func main() {
	kubeconfig := flag.String("write-kubeconfig", "", "where to write the admin kubeconfig (required)")
	installCRDs := flag.Bool("install-crds", false, "install config/crd/bases before reporting ready")
	flag.Parse()
	if *kubeconfig == "" {
		fmt.Fprintln(os.Stderr, "localcluster: --write-kubeconfig is required")
		os.Exit(2)
	}
	if err := run(*kubeconfig, *installCRDs); err != nil {
		fmt.Fprintln(os.Stderr, "localcluster:", err)
		os.Exit(1)
	}
}

func run(kubeconfigPath string, installCRDs bool) error {
	// Catch signals before starting so an early Ctrl-C still stops etcd and the API server.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)

	env, err := controlplane.Start(controlplane.Options{InstallCRDs: installCRDs})
	if err != nil {
		return err
	}
	defer func() { _ = env.Stop() }()

	kubeconfig, err := env.AdminKubeconfig()
	if err != nil {
		return err
	}
	// Written whole and renamed, so a script polling for the file never reads half of it.
	tmp := filepath.Join(filepath.Dir(kubeconfigPath), "."+filepath.Base(kubeconfigPath)+".tmp")
	if err := os.WriteFile(tmp, kubeconfig, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, kubeconfigPath); err != nil {
		return err
	}
	fmt.Printf("control plane ready at %s; kubeconfig %s\n", env.Config.Host, kubeconfigPath)

	<-stop
	fmt.Println("stopping the control plane")
	return nil
}
