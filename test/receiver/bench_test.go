// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package receiver_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/coex-operator/coex-operator/internal/graphsim"
	"github.com/coex-operator/coex-operator/internal/receiver/ingest"
	"github.com/coex-operator/coex-operator/internal/receiver/process"
	"github.com/coex-operator/coex-operator/internal/receiver/store"
	"github.com/coex-operator/coex-operator/internal/receiver/store/bolt"
	"github.com/coex-operator/coex-operator/internal/webhook"
)

// Sizes, smaller for a quick run (test/bench -quick passes them).
var (
	benchAckMB  = flag.Int("bench.ack-mb", 1536, "MB of webhook bodies each BenchmarkAck run acknowledges")
	benchPreset = flag.String("bench.preset", "heavy", "the simulator preset of the dispatch and end-to-end benchmarks")
)

// staticCredentials is one MetaApp's credentials, for benchmarks without a cluster.
type staticCredentials struct{}

func (staticCredentials) Credentials(context.Context, string, string) (ingest.Credentials, error) {
	return ingest.Credentials{AppSecrets: [][]byte{[]byte(appSecret)}, VerifyToken: []byte(verifyToken)}, nil
}

// BenchmarkAck measures what Meta sees: signed webhooks POSTed over loopback HTTP by 8
// concurrent senders to the receiver's handler, each answered 200 only once its body is in the
// bbolt spool with fsync. It reports acknowledged MB/s and requests/s and the p50/p99 latency
// of the acknowledgement. Goals: 200 MB/s, p99 under 50 ms for 3 MB bodies.
func BenchmarkAck(b *testing.B) {
	for _, size := range []int{64 << 10, 3 << 20} {
		b.Run(fmt.Sprintf("body=%dKB/senders=8", size>>10), func(b *testing.B) { benchAck(b, size, 8) })
	}
	// One sender: the latency of a lone 3 MB body, without queueing behind seven others.
	b.Run("body=3072KB/senders=1", func(b *testing.B) { benchAck(b, 3<<20, 1) })
}

func benchAck(b *testing.B, size, senders int) {
	st, err := bolt.Open(b.TempDir())
	must(b, err)
	defer st.Close()
	ackRounds(b, size, senders, []store.Store{st})
}

// ackRounds has senders POST size-byte signed bodies to one ingest.Server per store, sender s
// to server s mod len(stores), and reports acknowledged MB/s, requests/s and the p50/p99
// latency. Each round sends -bench.ack-mb of bodies; between rounds every inbox is discarded.
func ackRounds(b *testing.B, size, senders int, stores []store.Store) {
	urls := make([]string, len(stores))
	for i, st := range stores {
		srv := httptest.NewServer(ingest.NewServer(ingest.Options{Inbox: st, Credentials: staticCredentials{},
			Logger: logr.Discard()}))
		defer srv.Close()
		urls[i] = srv.URL + "/webhooks/bench/acme"
	}
	body := historyBody(size)
	sig := webhook.Sign([]byte(appSecret), body)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: senders}}

	// Enough requests for a stable figure: -bench.ack-mb of bodies per run (1.5 GB by default).
	perSender := max(4, (*benchAckMB<<20)/size/senders)
	lat := make([][]time.Duration, senders)
	var spent time.Duration
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		var wg sync.WaitGroup
		for s := range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				url := urls[s%len(urls)]
				for range perSender {
					t0 := time.Now()
					req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
					req.Header.Set(webhook.SignatureHeader, sig)
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
					lat[s] = append(lat[s], time.Since(t0))
				}
			}()
		}
		wg.Wait()
		spent += time.Since(t0)
		// Trim between rounds, as the dispatcher would, so the spool does not grow unbounded;
		// not timed.
		for _, st := range stores {
			discardInbox(b, st)
		}
	}
	all := slices.Concat(lat...)
	if len(all) == 0 {
		b.Fatal("no request was acknowledged")
	}
	slices.Sort(all)
	reqs := float64(len(all))
	b.ReportMetric(reqs*float64(size)/spent.Seconds()/1e6, "MB/s")
	b.ReportMetric(reqs/spent.Seconds(), "req/s")
	b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkDiskCeiling measures what the disk under the spool allows, without the receiver:
// 3 MB appends to a file, one fsync per group of 8 (the best a group commit of 8 concurrent
// 3 MB bodies can do). With 8 senders each waiting for its 200 before sending again, a body
// waits on average for the other 7 to be written too, so 8 × 3 MB divided by this throughput
// is the lowest median acknowledgement latency any spool could give them on this disk.
func BenchmarkDiskCeiling(b *testing.B) {
	const size, group = 3 << 20, 8
	body := historyBody(size)
	groups := max(1, (*benchAckMB<<20)/(size*group))
	var spent time.Duration
	for b.Loop() {
		f, err := os.Create(filepath.Join(b.TempDir(), "appends"))
		must(b, err)
		t0 := time.Now()
		for range groups {
			for range group {
				_, err := f.Write(body)
				must(b, err)
			}
			must(b, f.Sync())
		}
		spent += time.Since(t0)
		must(b, f.Close())
	}
	mbps := float64(b.N*groups*group*size) / spent.Seconds() / 1e6
	b.ReportMetric(mbps, "MB/s")
	b.ReportMetric(group*size/1e6/mbps*1000, "floor-p50-ms")
}

// historyBody is a history webhook of about size bytes: threads of text messages.
func historyBody(size int) []byte {
	msg := `{"from":"16505550123","id":"wamid.%012d","timestamp":"1739230955","type":"text","text":{"body":"Hello, is my order on its way? It was due yesterday."},"history_context":{"status":"READ"}}`
	var buf bytes.Buffer
	buf.WriteString(`{"object":"whatsapp_business_account","entry":[{"id":"2001","time":1739321024,"changes":[{"field":"history","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"16505551234","phone_number_id":"3001"},"history":[{"metadata":{"phase":0,"chunk_order":1,"progress":10},"threads":[{"id":"16505550123","messages":[`)
	for i := 0; buf.Len() < size-200; i++ {
		if i > 0 {
			buf.WriteByte(',')
		}
		fmt.Fprintf(&buf, msg, i)
	}
	buf.WriteString(`]}]}]}}]}]}`)
	return buf.Bytes()
}

// anyNumber resolves every phone number id to one CoexNumber with a relay.
type anyNumber struct{}

func (anyNumber) ByPhoneNumberID(ns, _, phone string) (process.Target, bool, error) {
	return process.Target{Namespace: ns, Name: "n" + phone, PhoneNumberID: phone, Relay: true}, true, nil
}

func (anyNumber) ByWABA(ns, _, waba string) ([]process.Target, error) {
	return []process.Target{{Namespace: ns, Name: "waba" + waba, WABAID: waba, Relay: true}}, nil
}

// BenchmarkDispatchHeavy measures the dispatcher alone: the -bench.preset history's webhooks
// (heavy: 500,000 messages; 20% delivered twice) are spooled first through the real handler, then drained
// into the state: parsed, de-duplicated, counted and written to the relay outbox, each batch
// one fsynced transaction. Goal: 100,000 history messages per second.
func BenchmarkDispatchHeavy(b *testing.B) {
	benchDispatch(b, func(b *testing.B) store.Store {
		st, err := bolt.Open(b.TempDir())
		must(b, err)
		return st
	})
}

// benchDispatch spools the -bench.preset history into a store from open through the real
// handler, then times the dispatcher draining it, and reports history messages per second.
func benchDispatch(b *testing.B, open func(*testing.B) store.Store) {
	var msgs int
	var spent time.Duration
	for range b.N {
		b.StopTimer()
		st := open(b)
		srv := httptest.NewServer(ingest.NewServer(ingest.Options{Inbox: st, Credentials: staticCredentials{},
			Logger: logr.Discard()}))
		info := spoolScenario(b, srv.URL+"/webhooks/bench/acme", *benchPreset)
		srv.Close()

		d := process.NewDispatcher(process.Options{Store: st, Resolver: anyNumber{},
			Logger: logr.Discard()})
		ctx, cancel := context.WithCancel(context.Background())
		b.StartTimer()
		t0 := time.Now()
		done := make(chan error, 1)
		go func() { done <- d.Start(ctx) }()
		for depth, err := st.Depth(ctx); depth > 0 && err == nil; depth, err = st.Depth(ctx) {
			time.Sleep(5 * time.Millisecond)
		}
		spent += time.Since(t0)
		b.StopTimer()
		cancel()
		must(b, <-done)
		counts, _, err := st.Counts(context.Background(), "bench/n"+info.PhoneNumberID)
		must(b, err)
		if counts.Messages != int64(info.Totals.Messages) {
			b.Fatalf("applied %d messages, want %d", counts.Messages, info.Totals.Messages)
		}
		msgs += info.Totals.Messages
		_ = st.Close()
	}
	b.ReportMetric(float64(msgs)/spent.Seconds(), "history-msgs/s")
}

// spoolScenario has the simulator deliver a preset's contacts and history, with 20%
// duplicates, to url and waits until every webhook was acknowledged.
func spoolScenario(b *testing.B, url, preset string) graphsim.NumberInfo {
	sim := graphsim.New(graphsim.Options{Seed: 7, Delivery: graphsim.DeliveryOptions{DuplicateShare: 0.2, MaxInFlight: 8}})
	defer sim.Close()
	graphSrv := httptest.NewServer(sim.Handler())
	defer graphSrv.Close()
	must(b, sim.AddApp(graphsim.AppSpec{ID: appID, Secret: appSecret, CallbackURL: url,
		Fields: []string{webhook.FieldHistory, webhook.FieldStateSync}}))
	info, err := sim.AddNumber(graphsim.NumberSpec{AppID: appID, WABAID: "2001", PhoneNumberID: "3001",
		Scenario: graphsim.Scenario{Preset: preset}, SubscribeApp: true})
	must(b, err)
	_, err = sim.IssueToken(graphsim.TokenSpec{AppID: appID, WABAIDs: []string{"2001"}, Value: numberToken(info.PhoneNumberID)})
	must(b, err)
	w := &world{tb: b, graph: graphSrv}
	w.requestSyncs(info.PhoneNumberID)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	must(b, sim.WaitIdle(ctx))
	if st := sim.Stats(); st.Failed != 0 {
		b.Fatalf("%d webhooks failed", st.Failed)
	}
	return info
}

// BenchmarkHeavySyncEndToEnd is the whole path with both binaries, as in the pod: a
// CoexNumber with the -bench.preset history (heavy: 5,000 threads, 500,000 messages) is
// applied; the manager verifies it and requests both syncs from the simulator, which delivers
// the history and contacts over HTTP (20% duplicates); the receiver spools, applies, writes
// status and relays every event to a sink. It reports the seconds from the apply to
// HistorySynced with every event relayed, messages/s over that time, the receiver's status
// writes per number per second (goal: at most 1), and the peak memory of each process:
// anonymous (heap) and resident in all, which for the receiver includes the pages of the
// bbolt files it maps.
func BenchmarkHeavySyncEndToEnd(b *testing.B) { benchEndToEnd(b, boltBackend) }

// BenchmarkHeavySyncEndToEndPostgres is BenchmarkHeavySyncEndToEnd with the receiver on a
// PostgreSQL database (one receiver). Goal: 30 s for the heavy preset.
func BenchmarkHeavySyncEndToEndPostgres(b *testing.B) { benchEndToEnd(b, postgresBackend) }

func benchEndToEnd(b *testing.B, store backend) {
	for range b.N {
		w := newWorldOn(b, store, graphsim.DeliveryOptions{DuplicateShare: 0.2, MaxInFlight: 8})
		mgr := startManager(b, w)
		waitFor(b, time.Minute, "the receiver to answer", w.handshakeOK)
		writes0 := w.rcv.Metric("coex_receiver_status_writes_total")
		stop := make(chan struct{})
		rcvMem, mgrMem := w.rcv.SampleMemory(stop), mgr.SampleMemory(stop)
		start := time.Now()
		info := w.addNumber("heavy", "2001", "3001", graphsim.Scenario{Preset: *benchPreset})
		tot := info.Totals
		want := tot.Messages + tot.MediaFollowUps + tot.ContactsAdded + tot.ContactsRemoved
		waitFor(b, 10*time.Minute, "history synced and relayed", func() (bool, string) {
			h := historyOf(w.number("heavy"))
			c := w.sink.counts()
			return h.synced && h.messages == int64(tot.Messages) && c.distinct == want,
				fmt.Sprintf("%+v, relayed %d of %d", h, c.distinct, want)
		})
		secs := time.Since(start).Seconds()
		writes := w.rcv.Metric("coex_receiver_status_writes_total") - writes0
		close(stop)
		b.ReportMetric(secs, "s-to-synced")
		b.ReportMetric(float64(tot.Messages)/secs, "msgs/s")
		b.ReportMetric(writes/secs, "status-writes/number/s")
		rm, mm := <-rcvMem, <-mgrMem
		b.ReportMetric(float64(rm.Anon)/(1<<20), "receiver-peak-anon-MiB")
		b.ReportMetric(float64(rm.RSS)/(1<<20), "receiver-peak-rss-MiB")
		b.ReportMetric(float64(mm.Anon)/(1<<20), "manager-peak-anon-MiB")
		b.ReportMetric(float64(mm.RSS)/(1<<20), "manager-peak-rss-MiB")
	}
}

// discardInbox removes every record waiting in st's inbox, unapplied.
func discardInbox(b *testing.B, st store.Store) {
	for {
		// At most 256 MB a batch: a postgres claim holds its bodies in memory.
		batch, err := st.Claim(context.Background(), 1<<20, 256<<20)
		must(b, err)
		if batch == nil {
			return
		}
		must(b, batch.Apply(context.Background(), func(store.Tx) error { return nil }))
	}
}
