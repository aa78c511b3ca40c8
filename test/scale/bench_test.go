// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package scale

import (
	"context"
	"flag"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/coex-operator/coex-operator/api/v1alpha1"
	"github.com/coex-operator/coex-operator/controllers"
	"github.com/coex-operator/coex-operator/internal/graph"
	"github.com/coex-operator/coex-operator/internal/graphsim"
	"github.com/coex-operator/coex-operator/test/harness"
)

// Benchmark settings. The Graph token bucket is set far above what the run needs, so the
// figures are the operator's and not the client-side limit's; the manager's default
// (--graph-rps 20, --graph-burst 40) is accounted for separately in the table.
const (
	benchCreators     = 16
	benchGraphRPS     = 1000
	benchGraphBurst   = 1000
	defaultGraphRPS   = 20 // cmd/manager's --graph-rps default
	defaultGraphBurst = 40 // cmd/manager's --graph-burst default
	pollEvery         = 250 * time.Millisecond
	quietFor          = 5 * time.Second
	// The steady-state phase runs a second manager with a short drift-check period and
	// measures how often each number's subscription is read again, relative to the period.
	steadyRecheck = 10 * time.Second
	steadyWindow  = 45 * time.Second
	// steadyMaxNumbers bounds the runs whose steady state is measured: a 10 s period needs
	// numbers/10 drift checks per second, and beyond about 1,000 numbers that is more than a
	// manager on this machine makes, so the figure would measure the backlog, not the
	// schedule. At the default 10 min period 5,000 numbers need about 8 per second.
	steadyMaxNumbers = 1000
)

// Sizes, smaller for a quick run (test/bench -quick passes them).
var (
	numbers     = flag.String("bench.numbers", "1000", "comma-separated counts of CoexNumbers BenchmarkApply applies at once")
	benchSteady = flag.Bool("bench.steady", true, "also measure the steady state (45 s per size)")
)

// BenchmarkApply applies -bench.numbers CoexNumbers (1,000 by default) at once against the
// simulator, with the manager binary as its own process and the receiver binary beside it
// (the simulator delivers the numbers' webhooks to it, and it writes their history status
// while the manager writes its own, as in the pod), and reports beside their goals: the
// seconds from the first create until every number has both sync requests recorded, the Graph
// calls per number by call, the manager's peak memory, and the steady-state Graph traffic.
// Each iteration is a whole run; run it once (-benchtime 1x, as `make bench` does).
func BenchmarkApply(b *testing.B) {
	for _, field := range strings.Split(*numbers, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(field))
		if err != nil || n <= 0 {
			b.Fatalf("-bench.numbers: %q is not a count", field)
		}
		b.Run(fmt.Sprintf("numbers=%d", n), func(b *testing.B) {
			for range b.N {
				benchApply(b, n)
			}
		})
	}
}

func benchApply(b *testing.B, numbers int) {
	b.StopTimer()
	w := newWorld(b, numbers)
	ctx := context.Background()

	// Phase 1: apply and wait until all are requested, with the receiver writing each
	// number's history status as its webhooks arrive.
	rcv := w.startReceiver()
	mgr := harness.StartManager(b, w.env, "--graph-rps", strconv.Itoa(benchGraphRPS), "--graph-burst", strconv.Itoa(benchGraphBurst))
	stopMem := make(chan struct{})
	mem := mgr.SampleMemory(stopMem)
	b.StartTimer()
	start := time.Now()
	must(b, w.createNumbers(ctx, benchCreators))
	applied := time.Since(start)
	p := w.waitAllRequested(pollEvery, 30*time.Minute)
	toRequested := time.Since(start)
	b.StopTimer()
	w.checkRequested(p)
	for i := range numbers {
		for _, name := range []string{"RequestContactsSync", "RequestHistorySync"} {
			if got := w.sim.CountCalls(graphsim.CallFilter{Name: name, PhoneNumberID: phoneNumberID(i), OnlyOK: true}); got != 1 {
				b.Errorf("%s: %d accepted %s, want exactly 1", numberName(i), got, name)
			}
		}
	}
	untilRequested := w.sim.Calls(graphsim.CallFilter{})
	reconciles := mgr.Metric("controller_runtime_reconcile_total", `controller="coexnumber"`)
	reconcileErrs := mgr.Metric("controller_runtime_reconcile_errors_total", `controller="coexnumber"`)
	api := mgr.MetricBy("rest_client_requests_total", "method")
	eventsTotal, eventsByReason := w.eventsPerNumber(ctx)

	// Phase 2: nothing changes for a while; with the default 10 min drift check, no number is
	// due, so Graph should hear nothing, whatever the receiver writes meanwhile.
	time.Sleep(quietFor)
	quiet := callsAfter(w.sim.Calls(graphsim.CallFilter{}), lastSeq(untilRequested))
	rcvWrites := rcv.Metric("coex_receiver_status_writes_total")
	hooks := w.sim.Stats()
	pQuiet, err := w.progress(ctx)
	must(b, err)
	if rcvWrites <= 0 || hooks.Delivered == 0 || hooks.Failed != 0 {
		b.Errorf("the receiver made %.0f status writes; the simulator delivered %d webhooks to it, %d failed: "+
			"the run is not the one with the receiver writing status", rcvWrites, hooks.Delivered, hooks.Failed)
	}
	close(stopMem)
	peak := <-mem
	mgr.Stop(syscall.SIGTERM)

	// Phase 3: the steady state, measured rather than assumed. A fresh manager checks drift
	// every steadyRecheck instead of every 10 min. The jitter is a share of the period, so
	// the mean interval between a number's subscription reads over the period is the same
	// ratio at any period, and 1 / ratio is the calls per number per period, also at the
	// default. What does not scale with the period (status.subscription.checkedAt is stored to
	// the second, so a check can come up to 1 s early) is reported in seconds.
	var rc rechecks
	var steadyByName map[string]callCount
	var steadySecs float64
	steadyMeasured := *benchSteady && numbers <= steadyMaxNumbers
	if steadyMeasured {
		beforeSteady := lastSeq(w.sim.Calls(graphsim.CallFilter{}))
		steadyStart := time.Now()
		steadyMgr := harness.StartManager(b, w.env, "--graph-rps", strconv.Itoa(benchGraphRPS), "--graph-burst", strconv.Itoa(benchGraphBurst),
			"--subscription-recheck", steadyRecheck.String())
		time.Sleep(steadyWindow)
		steadyMgr.Stop(syscall.SIGTERM)
		steady := callsAfter(w.sim.Calls(graphsim.CallFilter{}), beforeSteady)
		rc = recheckIntervals(steady, steadyRecheck)
		steadyByName = countByName(steady)
		steadySecs = time.Since(steadyStart).Seconds()
	}

	// Report.
	nf := float64(numbers)
	byName := countByName(untilRequested)
	// Calls made for numbers, apart from the MetaApp's app-level webhook-fields check (one per
	// app, not per number): the promise is 5 per number, one per one-shot step.
	var appCalls int
	for _, c := range untilRequested {
		if c.Name == graph.CallGetAppSubscriptions || c.Name == graph.CallSetAppSubscription {
			appCalls++
		}
	}
	perNumber := float64(len(untilRequested)-appCalls) / float64(numbers)
	peakAnon, peakRSS := float64(peak.Anon)/(1<<20), float64(peak.RSS)/(1<<20)
	b.ReportMetric(toRequested.Seconds(), "s_to_requested")
	b.ReportMetric(perNumber, "graph_calls/number")
	b.ReportMetric(float64(appCalls), "app_calls")
	b.ReportMetric(peakAnon, "manager_peak_anon_MiB")
	b.ReportMetric(peakRSS, "manager_peak_rss_MiB")
	b.ReportMetric(float64(len(quiet)), "quiet_calls")
	if rc.n > 0 {
		b.ReportMetric(1/rc.ratio, "recheck_calls/number/period")
	}

	var t table
	t.row("figure", "measured", "goal")
	t.row(fmt.Sprintf("seconds from the first create until all %d have both requestedAt", numbers),
		fmt.Sprintf("%.1f s", toRequested.Seconds()), fmt.Sprintf("< %.0f s (60 s per 1,000)", 60*nf/1000))
	t.row(fmt.Sprintf("  (of which applying the %d objects from %d goroutines)", numbers, benchCreators),
		fmt.Sprintf("%.1f s", applied.Seconds()), "")
	t.row("Graph calls per number until all requested", fmt.Sprintf("%.3f", perNumber),
		fmt.Sprintf("%d: one per one-shot step", len(oneShotCalls)))
	t.row("  and app-level calls (the MetaApp's webhook fields), in all", fmt.Sprint(appCalls), "1 per app")
	names := make([]string, 0, len(byName))
	for name := range byName {
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, c string) int { return callOrder(a) - callOrder(c) })
	for _, name := range names {
		c, goal := byName[name], ""
		if slices.Contains(oneShotCalls, name) {
			goal = "1"
		}
		measured := fmt.Sprintf("%.3f", float64(c.ok+c.failed)/nf)
		if name == "GetAppSubscriptions" {
			measured, goal = fmt.Sprintf("%d (per app)", c.ok+c.failed), "app-level"
		}
		if c.failed > 0 {
			measured += fmt.Sprintf(" (%d failed)", c.failed)
		}
		t.row("  "+name, measured, goal)
	}
	minSecs := math.Max(0, float64(len(untilRequested)-defaultGraphBurst)) / defaultGraphRPS
	t.row(fmt.Sprintf("  those calls at the manager's default --graph-rps %d --graph-burst %d", defaultGraphRPS, defaultGraphBurst),
		fmt.Sprintf(">= %.0f s", minSecs), "")
	t.row("reconciles per number (failed: conflicts from a stale cache)",
		fmt.Sprintf("%.2f (%.0f failed)", reconciles/nf, reconcileErrs), "")
	apiTotal, apiByMethod := perEach(api, nf)
	t.row("API server requests per number until all requested (the manager's)", fmt.Sprintf("%.2f", apiTotal), "")
	t.notes("    by method: " + apiByMethod)
	t.row("Kubernetes Events per number when all are requested", eventsTotal, "")
	t.notes("    by reason: " + eventsByReason)
	t.row(fmt.Sprintf("Graph calls in the %s after, nothing changed (drift check every %s)", quietFor, controllers.DefaultSubscriptionRecheck),
		fmt.Sprintf("%d", len(quiet)), "0")
	t.row(fmt.Sprintf("receiver: webhooks delivered to it, and its status writes per number, until %s after", quietFor),
		fmt.Sprintf("%d, %.2f", hooks.Delivered, rcvWrites/nf), "")
	t.row(fmt.Sprintf("  numbers Active (history recorded) when all were requested / %s after", quietFor),
		fmt.Sprintf("%d / %d", p.phases[v1.PhaseActive], pQuiet.phases[v1.PhaseActive]), "")
	if rc.n > 0 {
		t.row(fmt.Sprintf("steady state: mean interval between a number's rechecks / period (%s, %d intervals)", steadyRecheck, rc.n),
			fmt.Sprintf("%.3f", rc.ratio), "1.00-1.10 (10% jitter)")
		t.row(fmt.Sprintf("  so Graph calls per number per period, at %s (at %s fewer: checkedAt's rounding to 1 s weighs less)", steadyRecheck, controllers.DefaultSubscriptionRecheck),
			fmt.Sprintf("%.2f", 1/rc.ratio), "<= 1 per 10 min")
		t.row("  shortest interval, as period minus seconds (checkedAt has 1 s resolution)",
			fmt.Sprintf("period - %.2f s", max(0, rc.early.Seconds())), "period")
	} else {
		t.row("steady state: rechecks per number", fmt.Sprintf("not measured (-bench.steady=false, or over %d numbers)", steadyMaxNumbers), "<= 1 per 10 min")
	}
	if steadyMeasured {
		t.notes(fmt.Sprintf("    all Graph calls in the %.0f s steady-state run, per number: %s", steadySecs, steadyCalls(steadyByName, nf)))
	}
	t.row("manager peak memory: anonymous (heap, stacks) / resident (VmHWM)", fmt.Sprintf("%.0f / %.0f MiB", peakAnon, peakRSS),
		"<= 512 MiB (its container limit)")
	// Printed, not logged: the testing package cuts a benchmark's log to 10 lines.
	fmt.Printf("\nBenchmarkApply: %d CoexNumbers applied at once against the Meta simulator; the manager binary\n"+
		"(MaxConcurrentReconciles %d, --graph-rps %d), the receiver binary (the simulator's webhooks, status writes),\n"+
		"kube-apiserver, etcd and this test each in their own process, %d CPUs shared by all of them.\n%s\n",
		numbers, controllers.DefaultMaxConcurrentReconciles, benchGraphRPS, runtime.NumCPU(), &t)
}

// rechecks summarizes the intervals between a number's subscription reads.
type rechecks struct {
	n     int           // intervals measured
	ratio float64       // their mean over the period
	early time.Duration // how much the shortest one fell short of the period
}

// recheckIntervals measures, over every number, the intervals between consecutive
// subscription reads (ListSubscribedApps). Each number's first interval is left out: it
// starts in the new manager's catch-up burst, where a read comes late after the reconcile
// that anchors the schedule, which shortens the next interval by as much.
func recheckIntervals(calls []graphsim.Call, period time.Duration) rechecks {
	last := map[string]time.Time{}
	seen := map[string]int{}
	var sum time.Duration
	shortest := time.Duration(math.MaxInt64)
	var r rechecks
	for _, c := range calls {
		if c.Name != "ListSubscribedApps" {
			continue
		}
		if prev, ok := last[c.WABAID]; ok && seen[c.WABAID] >= 2 {
			d := c.Wall.Sub(prev)
			sum += d
			shortest = min(shortest, d)
			r.n++
		}
		last[c.WABAID] = c.Wall
		seen[c.WABAID]++
	}
	if r.n > 0 {
		r.ratio = float64(sum) / float64(r.n) / float64(period)
		r.early = period - shortest
	}
	return r
}

// perEach divides counts by the number of numbers, and lists them by key.
func perEach(counts map[string]float64, n float64) (float64, string) {
	var parts []string
	var total float64
	for key, c := range counts {
		if c > 0 {
			parts = append(parts, fmt.Sprintf("%s %.2f", key, c/n))
			total += c / n
		}
	}
	slices.Sort(parts)
	return total, strings.Join(parts, ", ")
}

// eventsPerNumber counts the Events recorded about the numbers, in all and by reason.
func (w *world) eventsPerNumber(ctx context.Context) (string, string) {
	var list eventsv1.EventList
	if err := w.k8s.List(ctx, &list, client.InNamespace(w.ns)); err != nil {
		return "?", err.Error()
	}
	byReason := map[string]int{}
	total := 0
	for _, e := range list.Items {
		if e.Regarding.Kind != "CoexNumber" {
			continue
		}
		n := 1
		if e.Series != nil {
			n = int(e.Series.Count)
		}
		byReason[e.Reason] += n
		total += n
	}
	var parts []string
	for reason, n := range byReason {
		parts = append(parts, fmt.Sprintf("%s %.2f", reason, float64(n)/float64(w.n)))
	}
	slices.Sort(parts)
	return fmt.Sprintf("%.2f", float64(total)/float64(w.n)), strings.Join(parts, ", ")
}

func steadyCalls(byName map[string]callCount, n float64) string {
	var parts []string
	for name, c := range byName {
		parts = append(parts, fmt.Sprintf("%s %.2f", name, float64(c.ok+c.failed)/n))
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

func callOrder(name string) int {
	if i := slices.Index(oneShotCalls, name); i >= 0 {
		return i
	}
	return len(oneShotCalls)
}

// table lays out rows of three columns, and notes across them.
type table struct {
	rows [][3]string
	note []bool
}

func (t *table) row(a, b, c string) {
	t.rows = append(t.rows, [3]string{a, b, c})
	t.note = append(t.note, false)
}

func (t *table) notes(text string) {
	t.rows = append(t.rows, [3]string{text})
	t.note = append(t.note, true)
}

func (t *table) String() string {
	var w [3]int
	for k, r := range t.rows {
		for i := range r {
			if !t.note[k] {
				w[i] = max(w[i], len(r[i]))
			}
		}
	}
	var sb strings.Builder
	for k, r := range t.rows {
		if t.note[k] {
			fmt.Fprintf(&sb, "  %s\n", r[0])
			continue
		}
		fmt.Fprintf(&sb, "  %-*s  %-*s  %s\n", w[0], r[0], w[1], r[1], r[2])
	}
	return sb.String()
}
