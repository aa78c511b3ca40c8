// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

// Package harness runs the operator's binaries (bin/manager, bin/receiver) as processes
// against a local control plane for black-box tests and benchmarks: built once per test
// binary, restartable with the same flags, killable with SIGKILL, with their logs kept, their
// Prometheus metrics scraped and their memory read from /proc.
package harness

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coex-operator/coex-operator/internal/controlplane"
)

// Process is one of the operator's binaries running against the control plane, restartable
// with the same flags.
type Process struct {
	Name string
	Bin  string
	// Args are the flags after --kubeconfig; set them before Start.
	Args []string
	// Dir is the process's own temporary folder (its kubeconfig and log are there).
	Dir string
	// MetricsAddr is where Metric scrapes /metrics; set it with the matching flag.
	MetricsAddr string

	tb         testing.TB
	kubeconfig string
	logs       *os.File
	mu         sync.Mutex
	cmd        *exec.Cmd
	exited     chan struct{}
	restartMu  sync.Mutex // one Restart at a time, whoever calls it
}

// New prepares ./cmd/<name> to run against env, with its log in a file that is shown when
// the test fails and stopped with SIGTERM when the test ends.
func New(tb testing.TB, env *controlplane.Env, name string) *Process {
	tb.Helper()
	bin, err := Build(name)
	must(tb, err)
	kc, err := env.AdminKubeconfig()
	must(tb, err)
	p := &Process{tb: tb, Name: name, Bin: bin, Dir: tb.TempDir()}
	p.kubeconfig = filepath.Join(p.Dir, "kubeconfig")
	must(tb, os.WriteFile(p.kubeconfig, kc, 0o600))
	p.logs, err = os.Create(filepath.Join(p.Dir, name+".log"))
	must(tb, err)
	tb.Cleanup(func() {
		p.Stop(syscall.SIGTERM)
		if tb.Failed() {
			lines := strings.Split(p.Log(), "\n")
			tb.Logf("%s log tail:\n%s", name, strings.Join(lines[max(0, len(lines)-40):], "\n"))
		}
		_ = p.logs.Close()
	})
	return p
}

// Log is everything the process wrote so far, across restarts.
func (p *Process) Log() string {
	data, _ := os.ReadFile(p.logs.Name())
	return string(data)
}

// Start runs the binary with --kubeconfig and Args.
func (p *Process) Start() {
	p.tb.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	cmd := exec.Command(p.Bin, append([]string{"--kubeconfig", p.kubeconfig}, p.Args...)...)
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	must(p.tb, cmd.Start())
	p.cmd, p.exited = cmd, make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(p.exited)
}

// Stop signals the process and waits for it to exit (SIGKILL after 30 s).
func (p *Process) Stop(sig syscall.Signal) {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// Restart kills the process with SIGKILL, as a crash would, and starts it again with the same
// flags. Concurrent restarts (a test's kill loop and a hook) run one after the other.
func (p *Process) Restart() {
	p.tb.Helper()
	p.restartMu.Lock()
	defer p.restartMu.Unlock()
	p.Stop(syscall.SIGKILL)
	p.Start()
}

// StartManager runs the manager binary against env with its metrics and probes on free
// ports and the extra flags, and waits until it is ready.
func StartManager(tb testing.TB, env *controlplane.Env, flags ...string) *Process {
	tb.Helper()
	p := New(tb, env, "manager")
	probes := FreeAddr(tb)
	p.MetricsAddr = FreeAddr(tb)
	p.Args = append([]string{"--metrics-bind-address", p.MetricsAddr, "--health-probe-bind-address", probes}, flags...)
	p.Start()
	deadline := time.Now().Add(time.Minute)
	for {
		code, body := Get("http://" + probes + "/readyz")
		if code == http.StatusOK {
			return p
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the manager was not ready within a minute: %d %s", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var (
	buildMu  sync.Mutex
	builtDir string
	built    = map[string]string{}
)

// Build builds ./cmd/<name> once per test binary and returns the binary's path.
func Build(name string) (string, error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	if bin, ok := built[name]; ok {
		return bin, nil
	}
	if builtDir == "" {
		dir, err := os.MkdirTemp("", "coex-harness-bin-")
		if err != nil {
			return "", err
		}
		builtDir = dir
	}
	root, err := controlplane.RepoRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(builtDir, name)
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/"+name)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/%s: %v\n%s", name, err, out)
	}
	built[name] = bin
	return bin, nil
}

// FreeAddr is a loopback address with a port free at the time of the call.
func FreeAddr(tb testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(tb, err)
	defer l.Close()
	return l.Addr().String()
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}
