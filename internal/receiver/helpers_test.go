// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package receiver

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/coex-operator/coex-operator/internal/webhook"

	"github.com/coex-operator/coex-operator/internal/receiver/store"
	"github.com/coex-operator/coex-operator/internal/receiver/store/bolt"
)

// The MetaApp and numbers the dispatcher tests receive webhooks for. The phone number id,
// WABA id and display number are those of Meta's examples in internal/webhook/testdata.
const (
	testNS          = "tenant"
	testApp         = "shop-app"
	testWABA        = "102290129340398"
	testPhoneID     = "106540352242922"
	testDisplay     = "15550783881"
	otherPhoneID    = "106540352242999"
	otherDisplay    = "+1 555-078-3882"
	unknownPhoneID  = "999999999999999"
	testStream      = testNS + "/shop"
	otherStream     = testNS + "/shop-two"
	testdataDir     = "../webhook/testdata"
	baseReceivedSec = 1_739_300_000 // a fixed "now" for records; no test reads the wall clock
)

// testOnboardedAt is when the test numbers were onboarded: after Meta's history examples
// (Feb 2025), before its messages examples (Jun 2025).
var testOnboardedAt = time.Unix(1_745_000_000, 0).UTC()

// shopTarget and otherTarget carry the UIDs of coexNumber(testNS, name): the status writer
// applies counts only to the object they were recorded for.
func shopTarget(relay bool) Target {
	return Target{Namespace: testNS, Name: "shop", UID: "uid-shop", PhoneNumberID: testPhoneID, WABAID: testWABA,
		DisplayPhoneNumber: testDisplay, OnboardedAt: testOnboardedAt, Relay: relay}
}

func otherTarget(relay bool) Target {
	return Target{Namespace: testNS, Name: "shop-two", UID: "uid-shop-two", PhoneNumberID: otherPhoneID, WABAID: testWABA,
		DisplayPhoneNumber: otherDisplay, OnboardedAt: testOnboardedAt, Relay: relay}
}

// fakeResolver is a map-based Resolver for the MetaApp testNS/testApp. With matchAll, every
// phone number id and every WABA resolves to a relayed number (the fuzz target's resolver).
type fakeResolver struct {
	targets  []Target
	matchAll bool
}

func newResolver(targets ...Target) *fakeResolver { return &fakeResolver{targets: targets} }

func (r *fakeResolver) ByPhoneNumberID(ns, app, phoneNumberID string) (Target, bool, error) {
	if ns != testNS || app != testApp {
		return Target{}, false, nil
	}
	if r.matchAll {
		t := shopTarget(true)
		t.PhoneNumberID = phoneNumberID
		return t, true, nil
	}
	for _, t := range r.targets {
		if t.PhoneNumberID == phoneNumberID {
			return t, true, nil
		}
	}
	return Target{}, false, nil
}

func (r *fakeResolver) ByWABA(ns, app, wabaID string) ([]Target, error) {
	if ns != testNS || app != testApp {
		return nil, nil
	}
	if r.matchAll {
		t := shopTarget(true)
		t.WABAID = wabaID
		return []Target{t}, nil
	}
	var out []Target
	for _, t := range r.targets {
		if t.WABAID == wabaID {
			out = append(out, t)
		}
	}
	return out, nil
}

// appliedCall is one call of the dispatcher's Applied hook.
type appliedCall struct {
	streams     []string
	unsupported map[string]int
}

// harness is a dispatcher over a real bolt store in a temporary directory. Records are
// appended with the clock's time, which the test moves; the dispatcher runs by step().
type harness struct {
	t        *testing.T
	dir      string
	store    *bolt.Store
	resolver *fakeResolver
	metrics  *Metrics
	d        *Dispatcher
	clk      *testClock

	mu      sync.Mutex
	applied []appliedCall
}

func newHarness(t *testing.T, resolver *fakeResolver) *harness {
	t.Helper()
	h := &harness{t: t, dir: t.TempDir(), resolver: resolver, clk: &testClock{t: time.Unix(baseReceivedSec, 0)}}
	h.open()
	t.Cleanup(h.close)
	return h
}

// open opens the stores in h.dir (again) and makes a fresh dispatcher over them.
func (h *harness) open() {
	h.t.Helper()
	var err error
	if h.store, err = bolt.Open(h.dir); err != nil {
		h.t.Fatal(err)
	}
	h.metrics = NewMetrics(nil)
	h.d = NewDispatcher(DispatcherOptions{Store: h.store, Resolver: h.resolver, Metrics: h.metrics,
		Now: h.clk.Now, Applied: h.recordApplied})
}

func (h *harness) close() {
	if h.d != nil {
		h.d.releaseNext()
	}
	if h.store != nil {
		_ = h.store.Close()
		h.store = nil
	}
}

// reopen simulates a restart: both stores are closed and opened again from disk.
func (h *harness) reopen() {
	h.t.Helper()
	h.close()
	h.open()
}

func (h *harness) recordApplied(streams []string, unsupported map[string]int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.applied = append(h.applied, appliedCall{streams: slices.Clone(streams), unsupported: unsupported})
}

func (h *harness) appliedCalls() []appliedCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.applied)
}

// deliver spools bodies as webhooks of testNS/testApp, one second apart.
func (h *harness) deliver(bodies ...[]byte) {
	h.t.Helper()
	for _, b := range bodies {
		h.deliverTo(testNS, testApp, b)
	}
}

func (h *harness) deliverTo(ns, app string, body []byte) uint64 {
	h.t.Helper()
	h.clk.Advance(time.Second)
	rec := &Record{Namespace: ns, App: app, ReceivedAt: h.clk.Now(), Body: body}
	if err := h.store.Append(context.Background(), rec); err != nil {
		h.t.Fatalf("spool append: %v", err)
	}
	return rec.Seq
}

// drain runs the dispatcher until the spool holds nothing after the applied sequence.
func (h *harness) drain() {
	h.t.Helper()
	for range 1000 {
		n, err := h.d.step(context.Background())
		if err != nil {
			h.t.Fatalf("dispatcher step: %v", err)
		}
		if n == 0 {
			return
		}
	}
	h.t.Fatal("dispatcher never ran dry")
}

// deliverAndDrain spools bodies and applies them, each in its own batch.
func (h *harness) deliverAndDrain(bodies ...[]byte) {
	h.t.Helper()
	for _, b := range bodies {
		h.deliver(b)
		h.drain()
	}
}

func (h *harness) counts(stream string) NumberCounts {
	h.t.Helper()
	c, _, err := h.store.Counts(context.Background(), stream)
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

func (h *harness) hasCounts(stream string) bool {
	h.t.Helper()
	_, ok, err := h.store.Counts(context.Background(), stream)
	if err != nil {
		h.t.Fatal(err)
	}
	return ok
}

// events decodes every event waiting in stream's outbox, oldest first.
func (h *harness) events(stream string) []Event {
	h.t.Helper()
	items, err := peekAll(h.store, stream)
	if err != nil {
		h.t.Fatal(err)
	}
	out := make([]Event, 0, len(items))
	for _, it := range items {
		var ev Event
		if err := json.Unmarshal(it.Event, &ev); err != nil {
			h.t.Fatalf("outbox item %d of %s is not an Event: %v", it.Seq, stream, err)
		}
		out = append(out, ev)
	}
	return out
}

func (h *harness) eventsOfType(stream, typ string) []Event {
	var out []Event
	for _, ev := range h.events(stream) {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

func (h *harness) deadLetters() []DeadLetter {
	h.t.Helper()
	dl, err := h.store.DeadLetters(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	return dl
}

func eventIDs(evs []Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.ID
	}
	return out
}

// --- webhook bodies ---

// readTestdata returns one of Meta's example bodies.
func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testdataDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// envelope encodes one webhook of waba holding the given changes; sentAt is the entry's
// time (0: none). Changing sentAt changes the bytes but not the data, as a redelivery in
// another envelope does.
func envelope(t testing.TB, waba string, sentAt int64, changes ...webhook.Change) []byte {
	t.Helper()
	b, err := json.Marshal(webhook.Envelope{Object: webhook.ObjectWABA,
		Entry: []webhook.Entry{{ID: waba, Time: webhook.FlexInt(sentAt), Changes: changes}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func change(t testing.TB, field string, value any) webhook.Change {
	t.Helper()
	c, err := webhook.NewChange(field, value)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func meta(phoneID string) webhook.Metadata {
	return webhook.Metadata{DisplayPhoneNumber: testDisplay, PhoneNumberID: phoneID}
}

// historyBody is a history webhook for phoneID with the given chunks.
func historyBody(t testing.TB, phoneID string, sentAt int64, chunks ...webhook.HistoryChunk) []byte {
	t.Helper()
	return envelope(t, testWABA, sentAt, change(t, webhook.FieldHistory,
		webhook.HistoryValue{MessagingProduct: "whatsapp", Metadata: meta(phoneID), History: chunks}))
}

// mediaBody is the later history webhook that carries recent media as messages[].
func mediaBody(t testing.TB, phoneID string, sentAt int64, msgs ...webhook.Message) []byte {
	t.Helper()
	return envelope(t, testWABA, sentAt, change(t, webhook.FieldHistory,
		webhook.HistoryValue{MessagingProduct: "whatsapp", Metadata: meta(phoneID), Messages: msgs}))
}

func chunk(phase, order, progress int64, threads ...webhook.Thread) webhook.HistoryChunk {
	return webhook.HistoryChunk{
		Metadata: &webhook.ChunkMetadata{Phase: webhook.FlexInt(phase), ChunkOrder: webhook.FlexInt(order),
			Progress: webhook.FlexInt(progress)},
		Threads: threads,
	}
}

// thread is a chat with user with one text message per id.
func thread(user string, msgIDs ...string) webhook.Thread {
	th := webhook.Thread{ID: user}
	for i, id := range msgIDs {
		th.Messages = append(th.Messages, textMessage(id, user, int64(1_739_000_000+i)))
	}
	return th
}

func textMessage(id, from string, ts int64) webhook.Message {
	return webhook.Message{From: from, ID: id, Timestamp: webhook.FlexInt(ts), Type: webhook.TypeText,
		Text: &webhook.Text{Body: "hello " + id}}
}

func imageMessage(id, from string, ts int64) webhook.Message {
	return webhook.Message{From: from, ID: id, Timestamp: webhook.FlexInt(ts), Type: webhook.TypeImage,
		Image: &webhook.Media{ID: "media-" + id, MimeType: "image/jpeg"}}
}

func messagesBody(t testing.TB, phoneID string, sentAt int64, v webhook.MessagesValue) []byte {
	t.Helper()
	v.MessagingProduct, v.Metadata = "whatsapp", meta(phoneID)
	return envelope(t, testWABA, sentAt, change(t, webhook.FieldMessages, v))
}

func echoesBody(t testing.TB, phoneID string, sentAt int64, echoes ...webhook.Message) []byte {
	t.Helper()
	return envelope(t, testWABA, sentAt, change(t, webhook.FieldEchoes,
		webhook.EchoesValue{MessagingProduct: "whatsapp", Metadata: meta(phoneID), MessageEchoes: echoes}))
}

func echo(id, to string, ts int64) webhook.Message {
	m := textMessage(id, testDisplay, ts)
	m.To = to
	return m
}

func contactsBody(t testing.TB, phoneID string, sentAt int64, items ...webhook.StateSyncItem) []byte {
	t.Helper()
	return envelope(t, testWABA, sentAt, change(t, webhook.FieldStateSync,
		webhook.StateSyncValue{MessagingProduct: "whatsapp", Metadata: meta(phoneID), StateSync: items}))
}

func contact(action, phone, name string, ts int64) webhook.StateSyncItem {
	return webhook.StateSyncItem{Type: "contact", Action: action,
		Contact:  webhook.Contact{FullName: name, PhoneNumber: phone},
		Metadata: webhook.StateSyncMetadata{Timestamp: webhook.FlexInt(ts)}}
}

// accountBody is an account_update webhook for waba sent at sentAt.
func accountBody(t testing.TB, waba string, sentAt int64, v webhook.AccountUpdateValue) []byte {
	t.Helper()
	return envelope(t, waba, sentAt, change(t, webhook.FieldAccountUpdate, v))
}

func itoa(n int) string { return strconv.Itoa(n) }

// testClock is a settable clock for the Now fields.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock { return &testClock{t: time.Unix(1_800_000_000, 0)} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// waitUntil polls cond; the deadline only bounds a broken test, nothing is timed.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// peekAll reads every event waiting in stream's outbox under a lease, without acknowledging.
func peekAll(o store.Outbox, stream string) ([]OutboxItem, error) {
	l, ok, err := o.Lease(context.Background(), stream)
	if err != nil || !ok {
		return nil, cmp.Or(err, fmt.Errorf("the outbox of %s is leased", stream))
	}
	defer l.Release()
	return l.Peek(context.Background(), 1<<20)
}

// newTestStore is a bolt store in a temporary directory, closed when the test ends.
func newTestStore(t *testing.T) *bolt.Store {
	t.Helper()
	s, err := bolt.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func recordBodies(recs []Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = string(r.Body)
	}
	return out
}
