// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package harness

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// Get returns a GET's status code and body; a failed request is code 0 with the error.
func Get(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

// Metric sums the samples of one metric in the process's /metrics whose labels include every
// `key="value"` given; -1 if it cannot be scraped.
func (p *Process) Metric(name string, labels ...string) float64 {
	samples, err := p.scrape(name)
	if err != nil {
		return -1
	}
	sum := 0.0
	for _, s := range samples {
		if hasAll(s.labels, labels) {
			sum += s.value
		}
	}
	return sum
}

// MetricBy sums the samples of one metric by the value of one label (e.g. method).
func (p *Process) MetricBy(name, label string) map[string]float64 {
	out := map[string]float64{}
	samples, err := p.scrape(name)
	if err != nil {
		return out
	}
	prefix := label + `="`
	for _, s := range samples {
		for _, l := range strings.Split(s.labels, ",") {
			if v, ok := strings.CutPrefix(l, prefix); ok {
				out[strings.TrimSuffix(v, `"`)] += s.value
			}
		}
	}
	return out
}

type sample struct {
	labels string // between the braces
	value  float64
}

// scrape reads the samples of one metric, in Prometheus' text format.
func (p *Process) scrape(name string) ([]sample, error) {
	resp, err := http.Get("http://" + p.MetricsAddr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var out []sample
	for _, line := range strings.Split(string(data), "\n") {
		rest, ok := strings.CutPrefix(line, name)
		if !ok || (rest == "" || (rest[0] != ' ' && rest[0] != '{')) {
			continue
		}
		var s sample
		if rest[0] == '{' {
			end := strings.LastIndexByte(rest, '}')
			if end < 0 {
				continue
			}
			s.labels, rest = rest[1:end], rest[end+1:]
		}
		if _, err := fmt.Sscan(strings.TrimSpace(rest), &s.value); err == nil {
			out = append(out, s)
		}
	}
	return out, nil
}

func hasAll(labels string, want []string) bool {
	for _, w := range want {
		if !strings.Contains(","+labels+",", ","+w+",") {
			return false
		}
	}
	return true
}

// ProcStatus reads one "<field>: N kB" line of the process's /proc status, in bytes; 0 if
// unknown (or the process is not running).
func (p *Process) ProcStatus(field string) int64 {
	p.mu.Lock()
	cmd := p.cmd
	p.mu.Unlock()
	if cmd == nil {
		return 0
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			var kb int64
			if _, err := fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), &kb); err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

// Memory is the peak memory of a process seen by a MemorySampler, in bytes.
type Memory struct {
	// Anon is the peak anonymous resident memory: heap, stacks, the Go runtime; not the
	// files the process maps (bbolt's), which the kernel can drop.
	Anon int64
	// RSS is the peak resident set as the kernel reports it (VmHWM), files included.
	RSS int64
}

// SampleMemory polls the process's memory every 50 ms until stop is closed, and sends the
// peaks. VmHWM is the kernel's own high-water mark, so RSS misses nothing between samples;
// Anon is sampled.
func (p *Process) SampleMemory(stop <-chan struct{}) <-chan Memory {
	out := make(chan Memory, 1)
	go func() {
		var m Memory
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			m.Anon = max(m.Anon, p.ProcStatus("RssAnon"))
			m.RSS = max(m.RSS, p.ProcStatus("VmHWM"))
			select {
			case <-stop:
				out <- m
				return
			case <-t.C:
			}
		}
	}()
	return out
}
