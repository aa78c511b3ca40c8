// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package scale

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coex-operator/coex-operator/controllers"
	"github.com/coex-operator/coex-operator/internal/graph"
	"github.com/coex-operator/coex-operator/internal/graphsim"
)

// The operator's core promise at scale: 200 CoexNumbers applied at once all reach their sync
// requests, and Meta's record shows exactly one accepted contacts and one accepted history
// request per number, although the first manager is stopped in the middle and a fresh one
// takes over.
//
// The stop is made to land in the middle deterministically, not by timing: manager #1's Graph
// transport cuts itself after 100 accepted sync requests (about 50 numbers). From then on each
// of its calls still reaches the simulator, but the answer is lost, as if the process had died
// right after sending: those numbers have an intent recorded and Meta has accepted the
// request, yet the operator never learned it. Then manager #1's context is cancelled, and
// manager #2, with a fresh cache and a fresh Graph client, must finish every number without a
// second accepted request.
func TestApply200WithRestart(t *testing.T) {
	const (
		numbers  = 200
		cutAfter = 100 // accepted sync requests before manager #1 loses its answers
	)
	w := newWorld(t, numbers)
	ctx := context.Background()

	cut := newCutTransport(cutAfter)
	first := w.startManager(controllers.Options{
		Graph: controllers.NewHTTPGraphFactory(graph.Options{
			HTTPClient: &http.Client{Transport: cut, Timeout: graph.DefaultTimeout},
		}, 1000, 1000),
	})

	start := time.Now()
	must(t, w.createNumbers(ctx, 8))
	t.Logf("applied %d CoexNumbers from 8 goroutines in %s", numbers, time.Since(start).Round(time.Millisecond))

	select {
	case <-cut.cut:
	case <-time.After(3 * time.Minute): // a generous bound
		p, _ := w.progress(ctx)
		t.Fatalf("manager #1 made fewer than %d accepted sync requests: %s\n%s", cutAfter, p, logTail(40))
	}
	if err := first.stop(); err != nil {
		t.Fatalf("manager #1 stopped with %v", err)
	}
	atStop := w.sim.Calls(graphsim.CallFilter{OnlyOK: true, Name: "RequestHistorySync"})
	pStop, err := w.progress(ctx)
	must(t, err)
	t.Logf("manager #1 stopped %s after the first create: Meta accepted %d history requests; the API server shows %s",
		time.Since(start).Round(time.Millisecond), len(atStop), pStop)
	if len(atStop) >= numbers {
		t.Fatalf("the stop did not land in the middle: all %d history requests made before it", numbers)
	}

	w.startManager(controllers.Options{
		Graph: controllers.NewHTTPGraphFactory(graph.Options{}, 1000, 1000),
	})
	p := w.waitAllRequested(200*time.Millisecond, 5*time.Minute)
	t.Logf("all %d numbers requested %s after the first create: %s", numbers, time.Since(start).Round(time.Millisecond), p)
	w.checkRequested(p)

	for i := range numbers {
		id := phoneNumberID(i)
		for _, name := range []string{"RequestContactsSync", "RequestHistorySync"} {
			if got := w.sim.CountCalls(graphsim.CallFilter{Name: name, PhoneNumberID: id, OnlyOK: true}); got != 1 {
				t.Errorf("%s (%s): %d accepted %s, want exactly 1", numberName(i), id, got, name)
			}
		}
	}

	calls := w.sim.Calls(graphsim.CallFilter{})
	byName := countByName(calls)
	again := byName["RequestContactsSync"].failed + byName["RequestHistorySync"].failed
	if again == 0 {
		t.Errorf("no sync was asked again after the restart: the lost answers were not exercised")
	}
	reconciles, reconcileErrs := reconcileCounts("coexnumber")
	t.Logf("%d Graph calls, %.2f per number; %d syncs asked again after the restart and answered "+
		"\"already requested\"; %.0f reconciles (%.2f per number), %.0f of them failed (conflicts, the stop)",
		len(calls), float64(len(calls))/numbers, again, reconciles, reconciles/numbers, reconcileErrs)
	names := make([]string, 0, len(byName))
	for name := range byName {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		c := byName[name]
		t.Logf("  %-22s %4d ok %4d failed  %.2f per number", name, c.ok, c.failed, float64(c.ok+c.failed)/numbers)
	}
}

// cutTransport passes Graph calls to the simulator. After `after` accepted sync requests
// (POST …/smb_app_data answered 200) it is cut: every call, the one that crossed the line
// included, still reaches the simulator, but its answer is dropped and the caller waits until
// its context ends, as if the process had died right after sending.
type cutTransport struct {
	base  http.RoundTripper
	after int64
	syncs atomic.Int64
	once  sync.Once
	cut   chan struct{}
}

func newCutTransport(after int64) *cutTransport {
	return &cutTransport{base: http.DefaultTransport.(*http.Transport).Clone(), after: after, cut: make(chan struct{})}
}

func (t *cutTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err == nil && req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/smb_app_data") &&
		resp.StatusCode == http.StatusOK && t.syncs.Add(1) >= t.after {
		t.once.Do(func() { close(t.cut) })
	}
	select {
	case <-t.cut:
	default:
		return resp, err
	}
	if resp != nil {
		_ = resp.Body.Close()
	}
	<-req.Context().Done()
	return nil, req.Context().Err()
}
