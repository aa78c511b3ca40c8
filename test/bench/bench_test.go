// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"math"
	"strings"
	"testing"
)

const sample = `goos: linux
BenchmarkAck/body=64KB/senders=8-2         	       1	8123456789 ns/op	       190.5 MB/s	      2.600 p50-ms	      5.100 p99-ms	      2907 req/s
BenchmarkAck/body=3072KB/senders=8-2       	       1	7000000000 ns/op	       210.0 MB/s	    125.0 p50-ms	    160.0 p99-ms	        68.0 req/s
BenchmarkDiskCeiling-2   	       1	2630393518 ns/op	 612.45 MB/s	        41.09 floor-p50-ms
BenchmarkDispatchHeavy-2   	       1	1 ns/op	    115000 history-msgs/s
BenchmarkPostgresCeiling/body=64KB/conns=8-2         	       1	 589714508 ns/op	 228.65 MB/s
BenchmarkPostgresCeiling/body=3072KB/conns=8-2       	       1	 423414340 ns/op	 300.00 MB/s
BenchmarkAckPostgres/body=64KB/receivers=1/senders=8-2         	       1	 974020279 ns/op	 158.14 MB/s	         2.778 p50-ms	        12.09 p99-ms	      2413 req/s
BenchmarkAckPostgres/body=64KB/receivers=3/senders=8-2         	       1	 988047976 ns/op	 156.21 MB/s	         2.866 p50-ms	         9.922 p99-ms	      2384 req/s
BenchmarkAckPostgres/body=3072KB/receivers=1/senders=8-2       	       1	 559269503 ns/op	 150.00 MB/s	        86.41 p50-ms	       184.2 p99-ms	        82.63 req/s
BenchmarkAckPostgres/body=3072KB/receivers=3/senders=8-2       	       1	 557350524 ns/op	 262.11 MB/s	        84.11 p50-ms	       192.2 p99-ms	        83.32 req/s
BenchmarkDispatchHeavyPostgres-2                               	       1	1797832020 ns/op	     11125 history-msgs/s
BenchmarkApply/numbers=1000-2         	       1	5813282722 ns/op	         5.001 graph_calls/number	        40 manager_peak_anon_MiB	        90 manager_peak_rss_MiB	         0 quiet_calls	        26.0 s_to_requested
--- FAIL: BenchmarkSomething
PASS
`

func TestParseBenchReadsEveryMetric(t *testing.T) {
	res := results{}
	if err := parseBench(strings.NewReader(sample), res); err != nil {
		t.Fatal(err)
	}
	if v, ok := res.get(ack64KB, "MB/s"); !ok || v != 190.5 {
		t.Errorf("64 KB MB/s = %v, %v", v, ok)
	}
	if v, ok := res.get(ack3MB, "p99-ms"); !ok || v != 160 {
		t.Errorf("3 MB p99 = %v, %v", v, ok)
	}
	if v, ok := res.get(applyBench(1000), "s_to_requested"); !ok || v != 26 {
		t.Errorf("s_to_requested = %v, %v", v, ok)
	}
	if v, ok := res.get(pgCeiling(3072), "MB/s"); !ok || v != 300 {
		t.Errorf("postgres 3 MB ceiling = %v, %v", v, ok)
	}
	if v, ok := res.get(ackPG(64, 3), "p99-ms"); !ok || v != 9.922 {
		t.Errorf("postgres 64 KB, 3 receivers p99 = %v, %v", v, ok)
	}
	if v, ok := res.get(ackPG(3072, 1), "req/s"); !ok || v != 82.63 {
		t.Errorf("postgres 3 MB, 1 receiver req/s = %v, %v", v, ok)
	}
	if v, ok := res.get(dispatchPG, "history-msgs/s"); !ok || v != 11125 {
		t.Errorf("postgres history-msgs/s = %v, %v", v, ok)
	}
	if len(res) != 12 {
		t.Errorf("parsed %d benchmarks, want 12: %v", len(res), res)
	}
}

func TestGoalVerdicts(t *testing.T) {
	for _, c := range []struct {
		g    goal
		v    float64
		want string
	}{
		{atLeast(200, ""), 210, "met"},
		{atLeast(200, ""), 180, "NOT MET: 10% short"},
		{atMost(50, ""), 160, "NOT MET: 220% over"},
		{atMost(1, ""), 0.59, "met"},
		{atMost(0, ""), 0, "met"},
		{atMost(1, ""), math.NaN(), "not measured"},
		{noGoal("none set"), 12, ""},
	} {
		if got := c.g.verdict(c.v); got != c.want {
			t.Errorf("%+v with %v: %q, want %q", c.g, c.v, got, c.want)
		}
	}
}

// The table has a row per figure the issue asks for, each goal judged, and a missing
// benchmark shows as not measured rather than as zero.
func TestTableJudgesEachFigure(t *testing.T) {
	res := results{}
	if err := parseBench(strings.NewReader(sample), res); err != nil {
		t.Fatal(err)
	}
	rows := buildTable(res, config{numbers: []int{1000}, preset: "heavy", steady: true})
	text := renderText(rows)
	for _, want := range []string{
		"190 MB/s, 2,907 req/s", "NOT MET: 5% short", // 64 KB below 200 MB/s
		"125.0 / 160.0 ms", "NOT MET: 220% over", // 3 MB p99 against 50 ms
		"612 MB/s -> 41 ms", "115,000", "26.0 s",
		// PostgreSQL: the ack judged against 60% of the ceiling of the same run.
		"229 MB/s", ">= 60% of the INSERT ceiling (137 MB/s)", "158 MB/s (69% of it), 2,413 req/s", "2.8 / 12.1 ms",
		"300 MB/s", ">= 60% of the INSERT ceiling (180 MB/s)", "150 MB/s (50% of it), 83 req/s", "NOT MET: 17% short",
		"262 MB/s (87% of it)", "86.4 / 184.2 ms", "11,125", "NOT MET: 89% short", "< 60 s (60 s per 1,000)", "5.001", "40 / 90 MiB",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("table lacks %q:\n%s", want, text)
		}
	}
	for _, r := range rows {
		if strings.Contains(r.figure, "status writes") && r.verdict() != "not measured" {
			t.Errorf("end to end was not run, yet %q is %q (%s)", r.figure, r.verdict(), r.measured)
		}
	}
	// Without PostgreSQL the benchmarks skip: every postgres row is not measured, none judged met.
	res2 := results{}
	if err := parseBench(strings.NewReader(strings.Split(sample, "BenchmarkPostgresCeiling")[0]), res2); err != nil {
		t.Fatal(err)
	}
	for _, r := range buildTable(res2, config{numbers: []int{1000}, preset: "heavy"}) {
		if strings.Contains(r.figure, "PostgreSQL") && (r.measured != "not measured" || strings.HasPrefix(r.verdict(), "met")) {
			t.Errorf("postgres skipped, yet %q is %q (%s)", r.figure, r.verdict(), r.measured)
		}
	}
	if md := renderMarkdown(rows); !strings.Contains(md, "**NOT MET: 220% over**") || !strings.Contains(md, "&lt; 60 s") {
		t.Errorf("markdown:\n%s", md)
	}
}
