// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

// Package controlplane starts the real kube-apiserver and etcd that hack/controlplane.sh builds
// from source into bin/k8s, through controller-runtime's envtest. Tests, the demo and the local
// cluster command share it so there is one place that knows where the binaries and CRDs are.
package controlplane

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Options say what to start.
type Options struct {
	// InstallCRDs installs config/crd/bases before Start returns, waiting until they are served.
	InstallCRDs bool
}

// Env is a running control plane.
type Env struct {
	env *envtest.Environment
	// Config reaches the API server as an administrator (system:masters).
	Config *rest.Config
	// Root is the repository's top folder.
	Root string
	// Assets is the folder holding kube-apiserver, etcd and kubectl.
	Assets string
}

// Start starts etcd and kube-apiserver. The binaries come from $KUBEBUILDER_ASSETS when set,
// else from bin/k8s at the repository's top.
func Start(opts Options) (*Env, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	assets, err := Assets(root)
	if err != nil {
		return nil, err
	}
	env := &envtest.Environment{BinaryAssetsDirectory: assets}
	if opts.InstallCRDs {
		env.CRDDirectoryPaths = []string{filepath.Join(root, "config", "crd", "bases")}
		env.ErrorIfCRDPathMissing = true
	}
	cfg, err := env.Start()
	if err != nil {
		// Start can fail after etcd and kube-apiserver are up (a CRD the API server refuses):
		// stop them, or every failed run leaves two processes behind.
		_ = env.Stop()
		return nil, fmt.Errorf("cannot start the control plane from %s: %w", assets, err)
	}
	return &Env{env: env, Config: cfg, Root: root, Assets: assets}, nil
}

// Stop stops kube-apiserver and etcd and removes their data.
func (e *Env) Stop() error { return e.env.Stop() }

// AdminKubeconfig returns a kubeconfig for a system:masters user, for kubectl.
func (e *Env) AdminKubeconfig() ([]byte, error) {
	user, err := e.env.AddUser(envtest.User{Name: "coex-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return nil, fmt.Errorf("cannot add an admin user: %w", err)
	}
	return user.KubeConfig()
}

// Kubectl is the path of the kubectl built alongside the API server (same minor version).
func (e *Env) Kubectl() string { return filepath.Join(e.Assets, "kubectl") }

// Assets finds the control plane binaries and says how to build them when they are missing.
func Assets(root string) (string, error) {
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		dir = filepath.Join(root, "bin", "k8s")
	}
	for _, name := range []string{"kube-apiserver", "etcd", "kubectl"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return "", fmt.Errorf("cannot find %s in %s: run `make envtest-bins` to build the control plane from source", name, dir)
		}
	}
	return dir, nil
}

// RepoRoot walks up from the working directory to the folder holding this module's go.mod, so
// that tests in any package and commands run from any folder find config/ and bin/.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && isOurModule(data) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cannot find the coex-operator repository above the working directory")
		}
		dir = parent
	}
}

func isOurModule(gomod []byte) bool {
	const first = "module github.com/coex-operator/coex-operator\n"
	return len(gomod) >= len(first) && string(gomod[:len(first)]) == first
}
