// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coex-operator/coex-operator/internal/receiver"
)

// runMainEnv makes the test binary run main() with the arguments after "--", so the tests
// can watch the real process exit.
const runMainEnv = "COEX_RECEIVER_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		for i, a := range os.Args {
			if a == "--" {
				os.Args = append([]string{os.Args[0]}, os.Args[i+1:]...)
				break
			}
		}
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// unreachableKubeconfig points at an API server that is not there: a receiver refused for
// its TLS files must fail before it ever talks to the cluster.
func unreachableKubeconfig(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// badTLS are webhook TLS files the receiver cannot serve with.
func badTLS(t *testing.T) map[string][2]string {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	return map[string][2]string{
		"missing files":          {filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")},
		"not PEM":                {garbage, garbage},
		"a certificate, no key":  {garbage, ""},
		"a key, no certificate":  {"", garbage},
		"missing key of a cert":  {garbage, filepath.Join(dir, "tls.key")},
		"missing cert of a key":  {filepath.Join(dir, "tls.crt"), garbage},
		"a directory as the key": {garbage, dir},
	}
}

func TestRunRefusesTLSFilesItCannotServe(t *testing.T) {
	t.Setenv("KUBECONFIG", unreachableKubeconfig(t))
	for name, files := range badTLS(t) {
		t.Run(name, func(t *testing.T) {
			cfg := receiver.Config{WebhookAddr: "127.0.0.1:0", SpoolDir: t.TempDir(), TLSCertFile: files[0], TLSKeyFile: files[1]}
			done := make(chan error, 1)
			go func() { done <- run(cfg, storeFlags{kind: "bolt", dir: cfg.SpoolDir}, "0", "0") }()
			select {
			case err := <-done:
				// The cluster is unreachable too: the error must be the TLS files', found first.
				if err == nil || !strings.Contains(err.Error(), "webhook TLS") {
					t.Fatalf("run returned %v for TLS files it cannot serve, want an error about them before any other", err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("run kept going with TLS files it cannot serve: the receiver would run without its webhook server")
			}
		})
	}
}

func TestReceiverExitsNonZeroOnTLSFilesItCannotServe(t *testing.T) {
	files := badTLS(t)["missing files"]
	cmd := exec.Command(os.Args[0], "-test.run=^$", "--", "--webhook-bind-address=127.0.0.1:0",
		"--metrics-bind-address=0", "--health-probe-bind-address=0", "--spool-dir="+t.TempDir(),
		"--tls-cert-file="+files[0], "--tls-key-file="+files[1])
	cmd.Env = append(os.Environ(), runMainEnv+"=1", "KUBECONFIG="+unreachableKubeconfig(t))
	out, err := runWithin(cmd, 30*time.Second)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() <= 0 { // -1: killed, it never exited
		t.Fatalf("the receiver given TLS files it cannot serve ended with %v, want an exit with a non-zero code; output:\n%s", err, out)
	}
	if !strings.Contains(string(out), "webhook TLS") || !strings.Contains(string(out), "tls.crt") {
		t.Errorf("the receiver's error does not name the certificate file:\n%s", out)
	}
}

// runWithin runs cmd, killing it after d.
func runWithin(cmd *exec.Cmd, d time.Duration) ([]byte, error) {
	cmd.WaitDelay = time.Second
	timer := time.AfterFunc(d, func() {
		if cmd.Process != nil {
			_ = cmd.Process.Kill()
		}
	})
	defer timer.Stop()
	return cmd.CombinedOutput()
}
