// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

// Package e2e drives coex-operator from the outside, as a user does: the built binaries and
// kubectl (v1.36, built from source like the API server) against a local control plane.
package e2e

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/coex-operator/coex-operator/internal/controlplane"
)

var (
	env         *controlplane.Env
	kubeconfig  string
	managerBin  string
	receiverBin string
	graphsimBin string
)

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	// Bounds for things that happen within seconds; generous because CI machines are shared.
	SetDefaultEventuallyTimeout(60 * time.Second)
	SetDefaultEventuallyPollingInterval(200 * time.Millisecond)
	RunSpecs(t, "coex-operator end to end")
}

var _ = BeforeSuite(func() {
	var err error
	// No CRDs: installing them is one of the steps under test.
	env, err = controlplane.Start(controlplane.Options{})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(env.Stop)

	dir, err := os.MkdirTemp("", "coex-e2e-")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(os.RemoveAll, dir)
	data, err := env.AdminKubeconfig()
	Expect(err).NotTo(HaveOccurred())
	kubeconfig = filepath.Join(dir, "kubeconfig")
	Expect(os.WriteFile(kubeconfig, data, 0o600)).To(Succeed())

	managerBin, err = gexec.Build("github.com/coex-operator/coex-operator/cmd/manager")
	Expect(err).NotTo(HaveOccurred())
	receiverBin, err = gexec.Build("github.com/coex-operator/coex-operator/cmd/receiver")
	Expect(err).NotTo(HaveOccurred())
	graphsimBin, err = gexec.Build("github.com/coex-operator/coex-operator/cmd/graphsim")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(gexec.CleanupBuildArtifacts)
})

// kubectl runs kubectl against the local control plane from the repository's top folder and
// returns its standard output and standard error.
func kubectl(stdin string, args ...string) (string, string, error) {
	cmd := exec.Command(env.Kubectl(), args...)
	cmd.Dir = env.Root
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// mustKubectl runs kubectl and fails the spec, showing what kubectl said, if it fails.
func mustKubectl(args ...string) string {
	GinkgoHelper()
	stdout, stderr, err := kubectl("", args...)
	Expect(err).NotTo(HaveOccurred(), "kubectl %s: %s", strings.Join(args, " "), stderr)
	return stdout
}

// freeAddr returns a loopback address with a port nothing listens on right now.
func freeAddr() string {
	GinkgoHelper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	defer l.Close()
	return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}
