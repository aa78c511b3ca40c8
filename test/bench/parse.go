// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bufio"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// results are the metrics of each benchmark: name (without the -GOMAXPROCS suffix) → unit →
// value, as `go test -bench` prints them.
type results map[string]map[string]float64

// procsSuffix is the "-2" that go test appends to a benchmark's name for GOMAXPROCS.
var procsSuffix = regexp.MustCompile(`-[0-9]+$`)

// parseBench reads go test's benchmark lines ("BenchmarkX/sub-2  1  123 ns/op  4.5 MB/s ...")
// and ignores every other line.
func parseBench(r io.Reader, into results) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") || len(fields)%2 != 0 {
			continue
		}
		if _, err := strconv.Atoi(fields[1]); err != nil {
			continue
		}
		name := procsSuffix.ReplaceAllString(fields[0], "")
		m := into[name]
		if m == nil {
			m = map[string]float64{}
			into[name] = m
		}
		for i := 2; i+1 < len(fields); i += 2 {
			if v, err := strconv.ParseFloat(fields[i], 64); err == nil {
				m[fields[i+1]] = v
			}
		}
	}
	return sc.Err()
}

// get is one metric of one benchmark, and whether it was reported.
func (r results) get(bench, unit string) (float64, bool) {
	v, ok := r[bench][unit]
	return v, ok
}
