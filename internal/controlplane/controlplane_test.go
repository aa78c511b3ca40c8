// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package controlplane

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAssetsSaysHowToBuildMissingBinaries(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("KUBEBUILDER_ASSETS", dir)
	// etcd and kubectl are missing.
	if err := os.WriteFile(filepath.Join(dir, "kube-apiserver"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := Assets("/nowhere")
	if err == nil || !strings.Contains(err.Error(), "cannot find etcd") || !strings.Contains(err.Error(), "make envtest-bins") {
		t.Fatalf("Assets() error = %v, want one naming etcd and make envtest-bins", err)
	}
	for _, name := range []string{"etcd", "kubectl"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := Assets("/nowhere"); err != nil || got != dir {
		t.Fatalf("Assets() = %q, %v; want %q", got, err, dir)
	}
}

func TestAssetsDefaultsToBinK8s(t *testing.T) {
	t.Setenv("KUBEBUILDER_ASSETS", "")
	root := t.TempDir()
	_, err := Assets(root)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(root, "bin", "k8s")) {
		t.Fatalf("Assets() error = %v, want one naming %s/bin/k8s", err, root)
	}
}

func TestRepoRootFromASubfolder(t *testing.T) {
	root, err := RepoRoot() // the test runs in internal/controlplane
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "config", "crd", "bases")); err != nil {
		t.Fatalf("RepoRoot() = %s, which has no config/crd/bases: %v", root, err)
	}
}
