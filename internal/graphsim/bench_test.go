// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graphsim

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkHeavyHistory delivers the heavy preset (5,000 threads, 500,000 messages) over
// loopback HTTP to a receiver that only counts bytes, and reports messages/s and MB.
func BenchmarkHeavyHistory(b *testing.B) {
	var received atomic.Int64
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		received.Add(n)
	}))
	defer rcv.Close()
	var messages, bytes int64
	start := time.Now()
	for b.Loop() {
		sim := New(Options{Clock: NewClock(fixedStart), Delivery: DeliveryOptions{MaxInFlight: 4}})
		must(b, sim.AddApp(AppSpec{ID: tApp, Secret: tSecret, CallbackURL: rcv.URL, Fields: allFields}))
		num, err := sim.AddNumber(NumberSpec{AppID: tApp, WABAID: tWABA, PhoneNumberID: tPhone,
			Scenario: Scenario{Preset: "heavy"}, SubscribeApp: true})
		must(b, err)
		tok, err := sim.IssueToken(TokenSpec{AppID: tApp, WABAIDs: []string{tWABA}})
		must(b, err)
		srv := httptest.NewServer(sim.Handler())
		e := &env{t: b, sim: sim, graph: srv}
		if r := e.requestSync(tPhone, SyncHistory, tok); r.status != http.StatusOK {
			b.Fatalf("request: %s", r.raw)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		must(b, sim.WaitIdle(ctx))
		cancel()
		if st := sim.Stats(); st.Delivered != int64(num.Totals.HistoryWebhooks) {
			b.Fatalf("delivered %d of %d", st.Delivered, num.Totals.HistoryWebhooks)
		}
		messages += int64(num.Totals.Messages)
		bytes += sim.Stats().BytesSent
		srv.Close()
		sim.Close()
	}
	if received.Load() != bytes {
		b.Fatalf("receiver got %d bytes, simulator sent %d", received.Load(), bytes)
	}
	secs := time.Since(start).Seconds()
	b.ReportMetric(float64(messages)/secs, "msgs/s")
	b.ReportMetric(float64(bytes)/float64(b.N)/(1<<20), "MB/op")
	b.SetBytes(bytes / int64(b.N))
}
