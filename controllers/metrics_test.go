// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	v1 "github.com/coex-operator/coex-operator/api/v1alpha1"
	"github.com/coex-operator/coex-operator/internal/graph"
)

var metricsNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// metricsNumber is a number onboarded ago before metricsNow, in phase, with the given syncs
// requested.
func metricsNumber(ns, name string, phase v1.CoexNumberPhase, ago time.Duration, contactsRequested, historyRequested bool) *v1.CoexNumber {
	at := metav1.NewTime(metricsNow.Add(-ago))
	n := &v1.CoexNumber{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       v1.CoexNumberSpec{PhoneNumberID: "1" + name, OnboardedAt: &at},
		Status:     v1.CoexNumberStatus{Phase: phase},
	}
	requested := metav1.NewTime(at.Add(time.Minute))
	if contactsRequested {
		n.Status.Contacts = &v1.ContactsSyncStatus{SyncRequestRecord: v1.SyncRequestRecord{RequestedAt: &requested}}
	}
	if historyRequested {
		n.Status.History = &v1.HistorySyncStatus{SyncRequestRecord: v1.SyncRequestRecord{RequestedAt: &requested}}
	}
	return n
}

func metricsCollector(t *testing.T, objs ...client.Object) *numberCollector {
	t.Helper()
	c := fake.NewClientBuilder().WithScheme(maScheme(t)).WithObjects(objs...).Build()
	nc := &numberCollector{}
	nc.use(c, clocktesting.NewFakeClock(metricsNow))
	return nc
}

func TestMetricsNumbersByPhaseAndDeadline(t *testing.T) {
	noHistory := metricsNumber("a", "contacts-only", v1.PhaseSyncing, time.Hour, true, false)
	noHistory.Spec.Sync.History = ptr.To(false)
	noSyncs := metricsNumber("a", "no-syncs", v1.PhaseFailed, time.Hour, false, false)
	noSyncs.Spec.Sync = v1.SyncSpec{Contacts: ptr.To(false), History: ptr.To(false)}

	nc := metricsCollector(t,
		metricsNumber("a", "done", v1.PhaseActive, 2*time.Hour, true, true),
		metricsNumber("b", "done", v1.PhaseActive, 30*time.Hour, true, true),
		// Contacts requested, history not yet: 23 h left.
		metricsNumber("a", "half", v1.PhaseSyncing, time.Hour, true, false),
		noHistory,
		noSyncs,
		// No phase yet and nothing requested: 23.5 h left.
		metricsNumber("a", "new", "", 30*time.Minute, false, false),
		// Past the window: an hour late.
		metricsNumber("b", "late", v1.PhaseReonboardRequired, 25*time.Hour, false, false),
		// A phase this version does not know (a newer operator's) is counted as Unknown.
		metricsNumber("b", "weird", "NotAPhase", time.Hour, true, true),
	)
	reg := prometheus.NewRegistry()
	reg.MustRegister(nc)

	want := `
# HELP coex_numbers CoexNumbers by status.phase (Unknown when not yet set).
# TYPE coex_numbers gauge
coex_numbers{phase="Active"} 2
coex_numbers{phase="Failed"} 1
coex_numbers{phase="Offboarded"} 0
coex_numbers{phase="Pending"} 0
coex_numbers{phase="ReonboardRequired"} 1
coex_numbers{phase="Syncing"} 2
coex_numbers{phase="Unknown"} 2
coex_numbers{phase="Verifying"} 0
# HELP coex_sync_deadline_seconds Seconds until the 24 h sync window of a number closes (negative once closed); only for numbers with a wanted sync not yet requested.
# TYPE coex_sync_deadline_seconds gauge
coex_sync_deadline_seconds{name="half",namespace="a"} 82800
coex_sync_deadline_seconds{name="new",namespace="a"} 84600
coex_sync_deadline_seconds{name="late",namespace="b"} -3600
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.CollectAndLint(nc); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", err, problems)
	}
}

// An empty cluster still reports every phase, at 0, so alerts on a phase have a series.
func TestMetricsNumbersEmpty(t *testing.T) {
	nc := metricsCollector(t)
	if got := testutil.CollectAndCount(nc, "coex_numbers"); got != 8 {
		t.Errorf("coex_numbers series = %d, want 8", got)
	}
	if got := testutil.CollectAndCount(nc, "coex_sync_deadline_seconds"); got != 0 {
		t.Errorf("coex_sync_deadline_seconds series = %d, want 0", got)
	}
}

// Before Setup, and when the cache cannot be listed, the collector reports nothing rather
// than an invalid metric, which would fail the whole scrape.
func TestMetricsNumbersWithoutClient(t *testing.T) {
	if got := testutil.CollectAndCount(&numberCollector{}); got != 0 {
		t.Errorf("before Setup: %d series, want 0", got)
	}

	failing := fake.NewClientBuilder().WithScheme(maScheme(t)).WithInterceptorFuncs(interceptor.Funcs{
		List: func(context.Context, client.WithWatch, client.ObjectList, ...client.ListOption) error {
			return errors.New("cache not synced")
		},
	}).Build()
	nc := &numberCollector{}
	nc.use(failing, clocktesting.NewFakeClock(metricsNow))
	reg := prometheus.NewRegistry()
	reg.MustRegister(nc)
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 0 {
		t.Errorf("list error: gathered %v, %v; want nothing and no error", mfs, err)
	}
}

// Setup points the one registered collector at the latest manager's client.
func TestMetricsNumbersUseLatestClient(t *testing.T) {
	nc := metricsCollector(t, metricsNumber("a", "x", v1.PhaseActive, time.Hour, true, true))
	second := fake.NewClientBuilder().WithScheme(maScheme(t)).WithObjects(
		metricsNumber("a", "y", v1.PhasePending, time.Hour, false, false),
		metricsNumber("a", "z", v1.PhasePending, time.Hour, false, false),
	).Build()
	nc.use(second, clocktesting.NewFakeClock(metricsNow))
	want := `
# HELP coex_numbers CoexNumbers by status.phase (Unknown when not yet set).
# TYPE coex_numbers gauge
coex_numbers{phase="Active"} 0
coex_numbers{phase="Failed"} 0
coex_numbers{phase="Offboarded"} 0
coex_numbers{phase="Pending"} 2
coex_numbers{phase="ReonboardRequired"} 0
coex_numbers{phase="Syncing"} 0
coex_numbers{phase="Unknown"} 0
coex_numbers{phase="Verifying"} 0
`
	if err := testutil.CollectAndCompare(nc, strings.NewReader(want), "coex_numbers"); err != nil {
		t.Error(err)
	}
}

func TestMetricsGraphObserver(t *testing.T) {
	h := newGraphRequestDurationHistogram()
	observe := observeGraphInto(h)
	observe(graph.CallRequestHistorySync, graph.OutcomeOK, 200*time.Millisecond)
	observe(graph.CallRequestHistorySync, graph.OutcomeOK, 3*time.Second)
	observe(graph.CallGetPhoneNumber, graph.ClassTransient.String(), 40*time.Second)

	want := `
# HELP coex_graph_request_duration_seconds Duration of each Graph API HTTP attempt (retries included), by call and outcome (ok or the error class).
# TYPE coex_graph_request_duration_seconds histogram
coex_graph_request_duration_seconds_bucket{call="GetPhoneNumber",outcome="Transient",le="0.05"} 0
coex_graph_request_duration_seconds_bucket{call="GetPhoneNumber",outcome="Transient",le="0.1"} 0
coex_graph_request_duration_seconds_bucket{call="GetPhoneNumber",outcome="Transient",le="0.25"} 0
coex_graph_request_duration_seconds_bucket{call="GetPhoneNumber",outcome="Transient",le="0.5"} 0
coex_graph_request_duration_seconds_bucket{call="GetPhoneNumber",outcome="Transient",le="1"} 0
coex_graph_request_duration_seconds_bucket{call="GetPhoneNumber",outcome="Transient",le="2.5"} 0
coex_graph_request_duration_seconds_bucket{call="GetPhoneNumber",outcome="Transient",le="5"} 0
coex_graph_request_duration_seconds_bucket{call="GetPhoneNumber",outcome="Transient",le="10"} 0
coex_graph_request_duration_seconds_bucket{call="GetPhoneNumber",outcome="Transient",le="30"} 0
coex_graph_request_duration_seconds_bucket{call="GetPhoneNumber",outcome="Transient",le="+Inf"} 1
coex_graph_request_duration_seconds_sum{call="GetPhoneNumber",outcome="Transient"} 40
coex_graph_request_duration_seconds_count{call="GetPhoneNumber",outcome="Transient"} 1
coex_graph_request_duration_seconds_bucket{call="RequestHistorySync",outcome="ok",le="0.05"} 0
coex_graph_request_duration_seconds_bucket{call="RequestHistorySync",outcome="ok",le="0.1"} 0
coex_graph_request_duration_seconds_bucket{call="RequestHistorySync",outcome="ok",le="0.25"} 1
coex_graph_request_duration_seconds_bucket{call="RequestHistorySync",outcome="ok",le="0.5"} 1
coex_graph_request_duration_seconds_bucket{call="RequestHistorySync",outcome="ok",le="1"} 1
coex_graph_request_duration_seconds_bucket{call="RequestHistorySync",outcome="ok",le="2.5"} 1
coex_graph_request_duration_seconds_bucket{call="RequestHistorySync",outcome="ok",le="5"} 2
coex_graph_request_duration_seconds_bucket{call="RequestHistorySync",outcome="ok",le="10"} 2
coex_graph_request_duration_seconds_bucket{call="RequestHistorySync",outcome="ok",le="30"} 2
coex_graph_request_duration_seconds_bucket{call="RequestHistorySync",outcome="ok",le="+Inf"} 2
coex_graph_request_duration_seconds_sum{call="RequestHistorySync",outcome="ok"} 3.2
coex_graph_request_duration_seconds_count{call="RequestHistorySync",outcome="ok"} 2
`
	if err := testutil.CollectAndCompare(h, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.CollectAndLint(h); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", err, problems)
	}
}

// The exported observer feeds the histogram registered with controller-runtime.
func TestMetricsGraphObserverGlobal(t *testing.T) {
	const call = "MetricsTestCall" // a call no other test makes
	GraphObserver()(call, graph.OutcomeOK, time.Second)
	if got := testutil.CollectAndCount(graphRequestDuration, "coex_graph_request_duration_seconds"); got < 1 {
		t.Fatalf("no series after an observation")
	}
	mfs, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "coex_graph_request_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if labels := fmt.Sprint(m.GetLabel()); strings.Contains(labels, call) {
				if c := m.GetHistogram().GetSampleCount(); c != 1 {
					t.Errorf("sample count = %d, want 1", c)
				}
				return
			}
		}
	}
	t.Errorf("controller-runtime's registry has no coex_graph_request_duration_seconds{call=%q}", call)
}

func TestMetricsSyncResult(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, "requested"},
		{&graph.Error{Class: graph.ClassAlreadyRequested}, "already_requested"},
		{fmt.Errorf("wrapped: %w", &graph.Error{Class: graph.ClassWindowExpired}), "window_expired"},
		{&graph.Error{Class: graph.ClassTransient}, "transient"},
		{context.DeadlineExceeded, "transient"},
		{&graph.Error{Class: graph.ClassAuth}, "auth"},
		{&graph.Error{Class: graph.ClassPermanent}, "error"},
		{errors.New("boom"), "error"},
	} {
		if got := syncResult(tc.err); got != tc.want {
			t.Errorf("syncResult(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestMetricsCountSyncRequest(t *testing.T) {
	// The counter is process-wide and the envtest suite may count requests too: compare deltas.
	auth := syncRequests.WithLabelValues("history", "auth")
	requested := syncRequests.WithLabelValues("contacts", "requested")
	authBefore, requestedBefore := testutil.ToFloat64(auth), testutil.ToFloat64(requested)

	countSyncRequest("history", &graph.Error{Class: graph.ClassAuth})
	countSyncRequest("history", &graph.Error{Class: graph.ClassAuth})
	countSyncRequest("contacts", nil)

	if d := testutil.ToFloat64(auth) - authBefore; d != 2 {
		t.Errorf("history/auth went up by %v, want 2", d)
	}
	if d := testutil.ToFloat64(requested) - requestedBefore; d != 1 {
		t.Errorf("contacts/requested went up by %v, want 1", d)
	}
}

// Every type and result series exists from the start, so increase() sees the first request.
func TestMetricsSyncRequestsPreinitialized(t *testing.T) {
	c := newSyncRequestsCounter()
	if got := testutil.CollectAndCount(c, "coex_sync_requests_total"); got != 12 {
		t.Errorf("series = %d, want 12 (2 types x 6 results)", got)
	}
	if got := testutil.ToFloat64(c.WithLabelValues("contacts", "window_expired")); got != 0 {
		t.Errorf("fresh counter = %v, want 0", got)
	}
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", err, problems)
	}
}

// The metrics are on controller-runtime's registry, which the manager serves.
func TestMetricsRegisteredWithControllerRuntime(t *testing.T) {
	for name, c := range map[string]prometheus.Collector{
		"coex_sync_requests_total":            newSyncRequestsCounter(),
		"coex_graph_request_duration_seconds": newGraphRequestDurationHistogram(),
		"coex_numbers":                        &numberCollector{},
	} {
		err := metrics.Registry.Register(c)
		var already prometheus.AlreadyRegisteredError
		if !errors.As(err, &already) {
			t.Errorf("%s: registering again returned %v, want AlreadyRegisteredError", name, err)
			if err == nil {
				metrics.Registry.Unregister(c)
			}
		}
	}
}
