// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"math"
	"strings"

	"github.com/coex-operator/coex-operator/internal/graphsim"
)

// row is one figure of the table: what it is, as measured, its goal and whether it is met.
type row struct {
	figure, measured string
	goal             goal
	value            float64 // what the goal is checked against; NaN when not measured
}

func (r row) verdict() string { return r.goal.verdict(r.value) }

// The benchmarks behind the figures (test/receiver and test/scale).
const (
	ack64KB    = "BenchmarkAck/body=64KB/senders=8"
	ack3MB     = "BenchmarkAck/body=3072KB/senders=8"
	ack3MBLone = "BenchmarkAck/body=3072KB/senders=1"
	disk       = "BenchmarkDiskCeiling"
	dispatch   = "BenchmarkDispatchHeavy"
	dispatchPG = "BenchmarkDispatchHeavyPostgres"
	endToEndPG = "BenchmarkHeavySyncEndToEndPostgres"
	endToEnd   = "BenchmarkHeavySyncEndToEnd"
)

// ackPG is BenchmarkAckPostgres with bodies of kb KB and receivers handlers on one database;
// pgCeiling is BenchmarkPostgresCeiling, the database's own INSERT rate for those bodies.
func ackPG(kb, receivers int) string {
	return fmt.Sprintf("BenchmarkAckPostgres/body=%dKB/receivers=%d/senders=8", kb, receivers)
}
func pgCeiling(kb int) string { return fmt.Sprintf("BenchmarkPostgresCeiling/body=%dKB/conns=8", kb) }

// pgCeilingShare is the share of the database's INSERT rate the receiver's ack must reach.
const pgCeilingShare = 0.6

func applyBench(n int) string { return fmt.Sprintf("BenchmarkApply/numbers=%d", n) }

// Container memory limits in config/manager/manager.yaml: the goal for each binary's peak.
const (
	managerLimitMiB  = 512
	receiverLimitMiB = 1024
)

// buildTable lays out the figures of one run, each beside its goal.
func buildTable(r results, cfg config) []row {
	var rows []row
	add := func(figure string, g goal, value float64, format string, args ...any) {
		measured := fmt.Sprintf(format, args...)
		if math.IsNaN(value) {
			measured = "not measured"
		}
		rows = append(rows, row{figure: figure, measured: measured, goal: g, value: value})
	}
	m := func(bench, unit string) float64 {
		if v, ok := r.get(bench, unit); ok {
			return v
		}
		return math.NaN()
	}

	for _, a := range []struct{ bench, what string }{{ack64KB, "64 KB"}, {ack3MB, "3 MB"}} {
		mb := m(a.bench, "MB/s")
		add(fmt.Sprintf("Receiver ack, %s bodies, 8 senders (fsync before 200)", a.what),
			atLeast(200, ">= 200 MB/s"), mb, "%.0f MB/s, %s req/s", mb, thousands(m(a.bench, "req/s")))
		p99, latGoal := m(a.bench, "p99-ms"), noGoal("")
		if a.bench == ack3MB {
			latGoal = atMost(50, "p99 < 50 ms")
		}
		add("  ack latency p50 / p99", latGoal, p99, "%.1f / %.1f ms", m(a.bench, "p50-ms"), p99)
	}
	lone := m(ack3MBLone, "p99-ms")
	add("  a lone 3 MB body (1 sender), p50 / p99", noGoal(""), lone, "%.1f / %.1f ms", m(ack3MBLone, "p50-ms"), lone)
	floor := m(disk, "floor-p50-ms")
	add("  the disk alone: 3 MB appends, one fsync per 8 -> lowest p50 for 8 senders", noGoal(""), floor,
		"%s MB/s -> %.0f ms", thousands(m(disk, "MB/s")), floor)

	msgs := m(dispatch, "history-msgs/s")
	add(fmt.Sprintf("Receiver history messages processed per second (%s)", cfg.preset),
		atLeast(100_000, ">= 100,000"), msgs, "%s", thousands(msgs))

	for _, a := range []struct {
		kb   int
		what string
	}{{64, "64 KB"}, {3072, "3 MB"}} {
		ceiling := m(pgCeiling(a.kb), "MB/s")
		add(fmt.Sprintf("PostgreSQL alone: %s INSERTs from 8 connections (the ceiling)", a.what), noGoal(""), ceiling,
			"%s MB/s", thousands(ceiling))
		// Without the ceiling, the goal cannot be set: the row is then not judged (NaN limit).
		limit := pgCeilingShare * ceiling
		ackGoal := atLeast(limit, fmt.Sprintf(">= 60%% of the INSERT ceiling (%s MB/s)", thousands(limit)))
		if math.IsNaN(ceiling) {
			ackGoal = noGoal(">= 60% of the INSERT ceiling (not measured)")
		}
		for _, n := range []int{1, 3} {
			bench := ackPG(a.kb, n)
			mb := m(bench, "MB/s")
			share := ""
			if !math.IsNaN(ceiling) && ceiling > 0 {
				share = fmt.Sprintf(" (%.0f%% of it)", 100*mb/ceiling)
			}
			add(fmt.Sprintf("  receiver ack over PostgreSQL, %s bodies, %d receiver%s, 8 senders", a.what, n, plural(n)),
				ackGoal, mb, "%.0f MB/s%s, %s req/s", mb, share, thousands(m(bench, "req/s")))
			p99 := m(bench, "p99-ms")
			add("    ack latency p50 / p99", noGoal(""), p99, "%.1f / %.1f ms", m(bench, "p50-ms"), p99)
		}
	}
	pgMsgs := m(dispatchPG, "history-msgs/s")
	add(fmt.Sprintf("Receiver history messages processed per second over PostgreSQL (%s)", cfg.preset),
		atLeast(100_000, ">= 100,000"), pgMsgs, "%s", thousands(pgMsgs))

	secs := m(endToEnd, "s-to-synced")
	add(fmt.Sprintf("A %s CoexNumber applied -> HistorySynced, all relayed", cfg.preset), noGoal("none set"), secs, "%.1f s (%s msgs/s)", secs, thousands(m(endToEnd, "msgs/s")))
	writes := m(endToEnd, "status-writes/number/s")
	add("  status writes per number per second", atMost(1, "<= 1"), writes, "%.2f", writes)
	ra, rr := m(endToEnd, "receiver-peak-anon-MiB"), m(endToEnd, "receiver-peak-rss-MiB")
	add("  receiver peak memory, anonymous / resident",
		atMost(receiverLimitMiB, fmt.Sprintf("<= %d MiB (its container limit)", receiverLimitMiB)), rr, "%.0f / %.0f MiB", ra, rr)
	pgSecs := m(endToEndPG, "s-to-synced")
	add("  the same over PostgreSQL (one receiver)", atMost(30, "<= 30 s"), pgSecs, "%.1f s (%s msgs/s)",
		pgSecs, thousands(m(endToEndPG, "msgs/s")))

	for _, n := range cfg.numbers {
		b := applyBench(n)
		s := m(b, "s_to_requested")
		limit := 60 * float64(n) / 1000
		add(fmt.Sprintf("%s CoexNumbers applied -> all sync requests made", thousands(float64(n))),
			atMost(limit, fmt.Sprintf("< %.0f s (60 s per 1,000)", limit)), s, "%.1f s", s)
		calls := m(b, "graph_calls/number")
		add("  Graph calls per number until then",
			atMost(5, "5: one per one-shot step"), calls, "%.3f", calls)
		if app := m(b, "app_calls"); !math.IsNaN(app) {
			add("  and app-level calls (the MetaApp's webhook fields)", atMost(1, "1 per app"), app, "%.0f", app)
		}
		quiet := m(b, "quiet_calls")
		add("  Graph calls in the 5 s after (nothing changed)", atMost(0, "0"), quiet, "%.0f", quiet)
		if rc := m(b, "recheck_calls/number/period"); !math.IsNaN(rc) || (cfg.steady && n <= steadyMaxNumbers) {
			add("  steady state: drift checks per number per period",
				atMost(1, "<= 1 per 10 min"), rc, "%.2f", rc)
		}
		ma, mr := m(b, "manager_peak_anon_MiB"), m(b, "manager_peak_rss_MiB")
		add("  manager peak memory, anonymous / resident",
			atMost(managerLimitMiB, fmt.Sprintf("<= %d MiB (its container limit)", managerLimitMiB)), mr, "%.0f / %.0f MiB", ma, mr)
	}
	return rows
}

// notes explain the figures of a table, below it.
func notes(cfg config) string {
	p := graphsim.Presets[cfg.preset]
	return fmt.Sprintf(`Receiver figures: bin/receiver's code (handler, bbolt spool) over loopback HTTP; "ack" is the 200, sent once the
body is fsynced. The disk alone: the same 3 MB appends without the receiver, one fsync per 8; with 8 senders that
each wait for their 200, a body waits for the other 7, so 8 x 3 MB / that rate is the lowest median any spool could
give. Messages processed: the dispatcher alone on the %[1]s preset's webhooks (parse, de-duplicate, count,
relay outbox, one fsynced transaction per batch). End to end: the manager and receiver binaries, the %[1]s preset
(%[2]s threads, %[3]s messages, 20%% of webhooks delivered twice), from the CoexNumber's create until HistorySynced with
every event relayed to a sink. Resident memory includes the pages of the bbolt files a process maps.
PostgreSQL figures: the same handler over the postgres store, on a throwaway local server (fsync and
synchronous_commit on) started by the run; "ack" is the 200, sent once the body's INSERT is committed. 3 receivers
are three handlers, each with its own store on the same database, the 8 senders spread over them. The ceiling is
the same bodies INSERTed by 8 connections into a one-bytea-column table on that server, in the same run.
CoexNumbers: the manager binary with --graph-rps %[4]d (the default 20 per Meta app needs >= 250 s per 1,000 numbers
for their 5 calls each); Graph calls per number leave out the MetaApp's app-level webhook-fields check, shown apart; the steady
state runs the drift check every 10 s instead of 10 min (the ratio is the same at any period), in runs of up to
%[5]s numbers: at a 10 s period more would need more checks per second than the manager makes (at 10 min, 5,000
numbers need about 8 per second).`,
		cfg.preset, thousands(float64(p.Threads)), thousands(float64(p.Messages)), benchGraphRPS, thousands(steadyMaxNumbers))
}

// test/scale's --graph-rps for the manager, and the largest run whose steady state it
// measures (steadyMaxNumbers there, with the reason).
const (
	benchGraphRPS    = 1000
	steadyMaxNumbers = 1000
)

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// thousands prints a count with thousands separators: 119034 → "119,034".
func thousands(v float64) string {
	if math.IsNaN(v) {
		return "?"
	}
	s := fmt.Sprintf("%.0f", v)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// renderText aligns the table in columns for a terminal.
func renderText(rows []row) string {
	w := [3]int{len("figure"), len("measured"), len("goal")}
	for _, r := range rows {
		w[0], w[1], w[2] = max(w[0], len(r.figure)), max(w[1], len(r.measured)), max(w[2], len(r.goal.text))
	}
	var b strings.Builder
	line := func(a, m, g, v string) {
		fmt.Fprintf(&b, "%-*s  %-*s  %-*s  %s\n", w[0], a, w[1], m, w[2], g, v)
	}
	line("figure", "measured", "goal", "")
	for _, r := range rows {
		line(r.figure, r.measured, r.goal.text, r.verdict())
	}
	return b.String()
}

// renderMarkdown is the same table for the README.
func renderMarkdown(rows []row) string {
	var b strings.Builder
	b.WriteString("| figure | measured | goal | |\n|---|---|---|---|\n")
	for _, r := range rows {
		fig := r.figure
		if t := strings.TrimLeft(fig, " "); t != fig {
			fig = "&nbsp;&nbsp;" + t
		}
		v := r.verdict()
		if strings.HasPrefix(v, "NOT MET") {
			v = "**" + v + "**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", fig, r.measured, strings.ReplaceAll(r.goal.text, "<", "&lt;"), v)
	}
	return b.String()
}
