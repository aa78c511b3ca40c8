// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package project

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/coex-operator/coex-operator/api/v1alpha1"
	"github.com/coex-operator/coex-operator/internal/coexstatus"
	"github.com/coex-operator/coex-operator/internal/receiver/internal/receivertest"
	"github.com/coex-operator/coex-operator/internal/receiver/store"
	"github.com/coex-operator/coex-operator/internal/webhook"
)

func condition(conds []metav1.Condition, typ string) *metav1.Condition {
	for i := range conds {
		if conds[i].Type == typ {
			return &conds[i]
		}
	}
	return nil
}

func tp(sec int64) *time.Time { return ptr(time.Unix(sec, 0)) }

func TestReceiverConditions(t *testing.T) {
	started, done := int64(1_745_000_100), int64(1_745_003_700)
	removedAt, reconnectedAt := int64(1_746_000_000), int64(1_746_100_000)
	tests := []struct {
		name        string
		counts      store.NumberCounts
		wantHistory *metav1.Condition // Type, Status, Reason, and LastTransitionTime checked
		wantOff     *metav1.Condition
		msgContains []string
	}{
		{"nothing yet", store.NumberCounts{}, nil, nil, nil},
		{"contacts and echoes only: no history condition",
			store.NumberCounts{ContactsAdded: 3, Echoes: 2, EchoLastAt: tp(started)}, nil, nil, nil},
		{"history in progress",
			store.NumberCounts{HistoryPhase: ptr(int32(1)), Chunks: 4, Progress: 40, Threads: 3, Messages: 25, HistoryStartedAt: tp(started)},
			&metav1.Condition{Type: v1.ConditionHistorySynced, Status: metav1.ConditionFalse, Reason: coexstatus.ReasonHistoryInProgress,
				LastTransitionTime: metav1.Unix(started, 0)}, nil, []string{"phase 1", "40%", "25 messages", "3 threads"}},
		{"history progress 100 with a gap is still in progress",
			store.NumberCounts{HistoryPhase: ptr(int32(2)), Chunks: 4, Progress: 100, FinalChunkSeen: true, HistoryStartedAt: tp(started)},
			&metav1.Condition{Type: v1.ConditionHistorySynced, Status: metav1.ConditionFalse, Reason: coexstatus.ReasonHistoryInProgress,
				LastTransitionTime: metav1.Unix(started, 0)}, nil, nil},
		{"history completed",
			store.NumberCounts{HistoryPhase: ptr(int32(2)), Chunks: 9, Progress: 100, Threads: 5, Messages: 120, FinalChunkSeen: true,
				HistoryStartedAt: tp(started), CompletedAt: tp(done)},
			&metav1.Condition{Type: v1.ConditionHistorySynced, Status: metav1.ConditionTrue, Reason: coexstatus.ReasonHistoryCompleted,
				LastTransitionTime: metav1.Unix(done, 0)}, nil, []string{"120 messages", "5 threads", "9 chunks"}},
		{"history declined",
			store.NumberCounts{Declined: true, CompletedAt: tp(done)},
			&metav1.Condition{Type: v1.ConditionHistorySynced, Status: metav1.ConditionTrue, Reason: coexstatus.ReasonHistoryDeclined,
				LastTransitionTime: metav1.Unix(done, 0)}, nil, []string{"declined", "2593109"}},
		{"declined after some chunks: declined wins",
			store.NumberCounts{Chunks: 1, Progress: 20, HistoryStartedAt: tp(started), Declined: true, CompletedAt: tp(done)},
			&metav1.Condition{Type: v1.ConditionHistorySynced, Status: metav1.ConditionTrue, Reason: coexstatus.ReasonHistoryDeclined,
				LastTransitionTime: metav1.Unix(done, 0)}, nil, nil},
		{"partner removed",
			store.NumberCounts{Offboarding: &store.OffboardingRecord{Event: webhook.EventPartnerRemoved, Reason: "PRIMARY_INACTIVITY",
				InitiatedBy: "SYSTEM", At: time.Unix(removedAt, 0)}, OffboardedSince: tp(removedAt)},
			nil,
			&metav1.Condition{Type: v1.ConditionOffboarded, Status: metav1.ConditionTrue, Reason: ReasonPartnerRemoved,
				LastTransitionTime: metav1.Unix(removedAt, 0)},
			[]string{"PARTNER_REMOVED", "PRIMARY_INACTIVITY", "initiated by SYSTEM", time.Unix(removedAt, 0).UTC().Format(time.RFC3339)}},
		{"account offboarded",
			store.NumberCounts{Offboarding: &store.OffboardingRecord{Event: webhook.EventAccountOffboarded, At: time.Unix(removedAt, 0)},
				OffboardedSince: tp(removedAt)},
			nil,
			&metav1.Condition{Type: v1.ConditionOffboarded, Status: metav1.ConditionTrue, Reason: ReasonAccountOffboarded,
				LastTransitionTime: metav1.Unix(removedAt, 0)}, []string{"ACCOUNT_OFFBOARDED"}},
		{"reconnected",
			store.NumberCounts{Offboarding: &store.OffboardingRecord{Event: webhook.EventAccountReconnected, At: time.Unix(reconnectedAt, 0)},
				OffboardedSince: tp(reconnectedAt)},
			nil,
			&metav1.Condition{Type: v1.ConditionOffboarded, Status: metav1.ConditionFalse, Reason: ReasonReconnected,
				LastTransitionTime: metav1.Unix(reconnectedAt, 0)}, []string{"ACCOUNT_RECONNECTED"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := receivertest.CoexNumber(receivertest.NS, "shop")
			conds := receiverConditions(n, tc.counts)
			for _, c := range conds {
				if c.Type != v1.ConditionHistorySynced && c.Type != v1.ConditionOffboarded {
					t.Errorf("the receiver wrote condition %s, which it does not own", c.Type)
				}
				if c.ObservedGeneration != n.Generation {
					t.Errorf("%s observedGeneration = %d, want %d", c.Type, c.ObservedGeneration, n.Generation)
				}
				if c.Message == "" || c.LastTransitionTime.IsZero() {
					t.Errorf("%s has no message or no transition time: %+v", c.Type, c)
				}
			}
			check := func(typ string, want *metav1.Condition) {
				got := condition(conds, typ)
				switch {
				case want == nil && got != nil:
					t.Errorf("unexpected %s condition: %+v", typ, got)
				case want != nil && got == nil:
					t.Errorf("no %s condition, want %s/%s", typ, want.Status, want.Reason)
				case want != nil:
					if got.Status != want.Status || got.Reason != want.Reason || !got.LastTransitionTime.Equal(&want.LastTransitionTime) {
						t.Errorf("%s = %s/%s since %v, want %s/%s since %v", typ, got.Status, got.Reason, got.LastTransitionTime,
							want.Status, want.Reason, want.LastTransitionTime)
					}
				}
			}
			check(v1.ConditionHistorySynced, tc.wantHistory)
			check(v1.ConditionOffboarded, tc.wantOff)
			all := ""
			for _, c := range conds {
				all += c.Message + "\n"
			}
			for _, s := range tc.msgContains {
				if !strings.Contains(all, s) {
					t.Errorf("messages %q do not mention %q", all, s)
				}
			}
		})
	}
}

func TestApplyStatusFields(t *testing.T) {
	n := receivertest.CoexNumber(receivertest.NS, "shop")
	c := store.NumberCounts{
		HistoryPhase: ptr(int32(2)), Chunks: 9, Progress: 100, Threads: 5, Messages: 120, MediaFollows: 3,
		FinalChunkSeen: true, HistoryStartedAt: tp(1_745_000_100), CompletedAt: ptr(time.Unix(1_745_003_700, 999_000_000)),
		ContactsAdded: 4, ContactsRemoved: 1,
		Echoes: 6, EchoLastAt: tp(1_745_100_000),
		Unsupported: 2, UnsupportedLastAt: tp(1_745_200_000),
		Offboarding: &store.OffboardingRecord{Event: webhook.EventPartnerRemoved, Reason: "CHANGE_NUMBER", InitiatedBy: "USER",
			At: time.Unix(1_746_000_000, 0)},
		OffboardedSince: tp(1_746_000_000),
	}
	a := applyStatus(n, c)
	if a.APIVersion != "whatsapp.coex.dev/v1alpha1" || a.Kind != "CoexNumber" || a.Metadata.Name != "shop" || a.Metadata.Namespace != receivertest.NS {
		t.Errorf("apply object = %s %s %+v", a.APIVersion, a.Kind, a.Metadata)
	}
	st := a.Status
	h := st.History
	if h == nil || *h.Phase != 2 || h.Chunks != 9 || h.Progress != 100 || h.Threads != 5 || h.Messages != 120 || h.Declined {
		t.Errorf("history = %+v", h)
	}
	// Times are written to the second (metav1.Time's precision), so a rewrite is byte-identical.
	if h.CompletedAt == nil || !h.CompletedAt.Time.Equal(time.Unix(1_745_003_700, 0)) {
		t.Errorf("completedAt = %v, want 1745003700 truncated to the second", h.CompletedAt)
	}
	if st.Contacts == nil || st.Contacts.Added != 4 || st.Contacts.Removed != 1 {
		t.Errorf("contacts = %+v", st.Contacts)
	}
	if st.Echoes == nil || st.Echoes.Count != 6 || st.Echoes.LastAt.Unix() != 1_745_100_000 {
		t.Errorf("echoes = %+v", st.Echoes)
	}
	if st.UnsupportedMessages == nil || st.UnsupportedMessages.Count != 2 || st.UnsupportedMessages.LastAt.Unix() != 1_745_200_000 {
		t.Errorf("unsupportedMessages = %+v", st.UnsupportedMessages)
	}
	if o := st.Offboarding; o == nil || o.Event != webhook.EventPartnerRemoved || o.Reason != "CHANGE_NUMBER" ||
		o.InitiatedBy != "USER" || o.At.Unix() != 1_746_000_000 {
		t.Errorf("offboarding = %+v", o)
	}

	// Declined without chunks: progress reads 100, like a finished sync.
	d := applyStatus(n, store.NumberCounts{Declined: true, CompletedAt: tp(1_745_003_700)}).Status.History
	if d == nil || !d.Declined || d.Progress != 100 || d.CompletedAt == nil || d.Phase != nil {
		t.Errorf("declined history = %+v", d)
	}
	// Nothing of history yet: no history object at all.
	if h := applyStatus(n, store.NumberCounts{Echoes: 1}).Status.History; h != nil {
		t.Errorf("history = %+v before any history", h)
	}
}

// receiverOwned lists, per object of the apply body, the keys the receiver may write.
var receiverOwned = map[string][]string{
	"":                           {"apiVersion", "kind", "metadata", "status"},
	"metadata":                   {"name", "namespace", "resourceVersion"}, // a precondition, not a field one owns
	"status":                     {"history", "contacts", "echoes", "unsupportedMessages", "offboarding", "conditions"},
	"status.history":             {"phase", "chunks", "progress", "threads", "messages", "declined", "completedAt"},
	"status.contacts":            {"added", "removed"},
	"status.echoes":              {"count", "lastAt"},
	"status.unsupportedMessages": {"count", "lastAt"},
	"status.offboarding":         {"event", "reason", "initiatedBy", "at"},
}

func TestApplyBodyHoldsOnlyReceiverFields(t *testing.T) {
	everything := store.NumberCounts{
		HistoryPhase: ptr(int32(1)), Chunks: 3, Progress: 50, Threads: 2, Messages: 10, HistoryStartedAt: tp(1_745_000_100),
		ContactsAdded: 1, ContactsRemoved: 1, Echoes: 1, EchoLastAt: tp(1_745_000_200), Unsupported: 1, UnsupportedLastAt: tp(1_745_000_300),
		Offboarding:     &store.OffboardingRecord{Event: webhook.EventAccountOffboarded, At: time.Unix(1_745_000_400, 0)},
		OffboardedSince: tp(1_745_000_400),
	}
	cases := map[string]store.NumberCounts{
		"everything": everything,
		"completed":  {HistoryStartedAt: tp(1), CompletedAt: tp(2), FinalChunkSeen: true, Progress: 100},
		"declined":   {Declined: true, CompletedAt: tp(2)},
		"nothing":    {},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			body, err := json.Marshal(applyStatus(receivertest.CoexNumber(receivertest.NS, "shop"), c))
			if err != nil {
				t.Fatal(err)
			}
			for _, forbidden := range []string{"requestID", "intentAt", "requestedAt", "Active", "req-history", "Ready",
				v1.ConditionHistorySyncRequested, "syncDeadline", "onboarding\"", "subscription", "credentials", "lastHandledReconcileAt"} {
				if strings.Contains(string(body), forbidden) {
					t.Errorf("apply body contains %q: %s", forbidden, body)
				}
			}
			var obj map[string]any
			if err := json.Unmarshal(body, &obj); err != nil {
				t.Fatal(err)
			}
			checkOwnedKeys(t, "", obj)
			status, _ := obj["status"].(map[string]any)
			if _, ok := status["phase"]; ok {
				t.Errorf("status.phase in the apply body: %s", body)
			}
			if _, ok := status["observedGeneration"]; ok {
				t.Errorf("status.observedGeneration in the apply body: %s", body)
			}
			conds, _ := status["conditions"].([]any)
			for _, c := range conds {
				typ := c.(map[string]any)["type"]
				if typ != v1.ConditionHistorySynced && typ != v1.ConditionOffboarded {
					t.Errorf("condition %v in the apply body", typ)
				}
			}
		})
	}
}

// checkOwnedKeys fails for any key of obj (at path) that receiverOwned does not list.
func checkOwnedKeys(t *testing.T, path string, obj map[string]any) {
	t.Helper()
	allowed, known := receiverOwned[path]
	if !known {
		return
	}
	for k, v := range obj {
		if !slices.Contains(allowed, k) {
			t.Errorf("apply body has %s.%s, which the receiver does not own", path, k)
		}
		if sub, ok := v.(map[string]any); ok {
			p := k
			if path != "" {
				p = path + "." + k
			}
			checkOwnedKeys(t, p, sub)
		}
	}
}

func TestStatusFromDispatchedWebhooks(t *testing.T) {
	h := newHarness(t, newResolver(shopTarget(false)))
	n := receivertest.CoexNumber(receivertest.NS, "shop")
	status := func() v1.CoexNumberStatus { return applyStatus(n, h.counts(receivertest.Stream)).Status }

	h.deliverAndDrain(receivertest.HistoryBody(t, receivertest.PhoneID, 1, receivertest.Chunk(0, 2, 100, receivertest.Thread("u1", "m1"))))
	st := status()
	if c := condition(st.Conditions, v1.ConditionHistorySynced); c == nil || c.Status != metav1.ConditionFalse ||
		c.Reason != coexstatus.ReasonHistoryInProgress {
		t.Errorf("with chunk 1 missing: HistorySynced = %+v, want False/InProgress", c)
	}
	if st.History == nil || st.History.Progress != 100 || st.History.CompletedAt != nil {
		t.Errorf("history = %+v, want progress 100 and no completedAt", st.History)
	}

	h.deliverAndDrain(receivertest.HistoryBody(t, receivertest.PhoneID, 2, receivertest.Chunk(0, 1, 50, receivertest.Thread("u2", "m2"))))
	filledAt := h.clk.Now()
	st = status()
	if c := condition(st.Conditions, v1.ConditionHistorySynced); c == nil || c.Status != metav1.ConditionTrue ||
		c.Reason != coexstatus.ReasonHistoryCompleted || !c.LastTransitionTime.Time.Equal(filledAt) {
		t.Errorf("gap filled: HistorySynced = %+v, want True/Completed since %v", c, filledAt)
	}
	if st.History.CompletedAt == nil || !st.History.CompletedAt.Time.Equal(filledAt) || st.History.Messages != 2 || st.History.Chunks != 2 {
		t.Errorf("history = %+v", st.History)
	}

	h.deliverAndDrain(receivertest.ReadTestdata(t, "account_partner_removed_disconnection.json"))
	st = status()
	c := condition(st.Conditions, v1.ConditionOffboarded)
	if c == nil || c.Status != metav1.ConditionTrue || c.Reason != ReasonPartnerRemoved ||
		!strings.Contains(c.Message, "PRIMARY_INACTIVITY") || !strings.Contains(c.Message, "SYSTEM") {
		t.Errorf("Offboarded = %+v, want True/PartnerRemoved naming the reason and who", c)
	}
	h.deliverAndDrain(receivertest.AccountBody(t, receivertest.WABA, 1739300000, webhook.AccountUpdateValue{Event: webhook.EventAccountReconnected}))
	if c := condition(status().Conditions, v1.ConditionOffboarded); c == nil || c.Status != metav1.ConditionFalse || c.Reason != ReasonReconnected {
		t.Errorf("after ACCOUNT_RECONNECTED Offboarded = %+v, want False/Reconnected", c)
	}
}

// --- StatusWriter ---

// applyRecorder is a client.Client whose status writer records patches instead of sending
// them; fail makes the next patches fail.
type applyRecorder struct {
	client.Client
	mu      sync.Mutex
	patches []recordedPatch
	fail    error
}

type recordedPatch struct {
	key       string
	patchType types.PatchType
	body      []byte
	opts      client.SubResourcePatchOptions
}

func (r *applyRecorder) Status() client.SubResourceWriter { return applyRecorderStatus{r} }

func (r *applyRecorder) recorded() []recordedPatch {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.patches)
}

func (r *applyRecorder) setFail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail = err
}

type applyRecorderStatus struct{ r *applyRecorder }

func (s applyRecorderStatus) Create(context.Context, client.Object, client.Object, ...client.SubResourceCreateOption) error {
	return errors.New("the receiver must not create status")
}

func (s applyRecorderStatus) Update(context.Context, client.Object, ...client.SubResourceUpdateOption) error {
	return errors.New("the receiver must not update status: it applies")
}

func (s applyRecorderStatus) Apply(context.Context, runtime.ApplyConfiguration, ...client.SubResourceApplyOption) error {
	return errors.New("unexpected typed apply")
}

func (s applyRecorderStatus) Patch(_ context.Context, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
	data, err := patch.Data(obj)
	if err != nil {
		return err
	}
	o := client.SubResourcePatchOptions{}
	o.ApplyOptions(opts)
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	if s.r.fail != nil {
		return s.r.fail
	}
	s.r.patches = append(s.r.patches, recordedPatch{key: obj.GetNamespace() + "/" + obj.GetName(), patchType: patch.Type(),
		body: data, opts: o})
	return nil
}

type statusFixture struct {
	h       *harness
	reader  *objectReader
	rec     *applyRecorder
	events  *events.FakeRecorder
	metrics *Metrics
	w       *StatusWriter
}

func newStatusFixture(t *testing.T) *statusFixture {
	h := newHarness(t, newResolver(shopTarget(false), otherTarget(false)))
	f := &statusFixture{h: h, reader: receivertest.NewObjectReader(receivertest.CoexNumber(receivertest.NS, "shop"), receivertest.CoexNumber(receivertest.NS, "shop-two")),
		rec: &applyRecorder{}, events: events.NewFakeRecorder(16), metrics: NewMetrics(nil)}
	f.w = NewStatusWriter(Options{Client: f.rec, Reader: f.reader, Store: h.store, Events: f.events,
		Metrics: f.metrics, Workers: 2})
	h.onApplied = f.w.Mark
	return f
}

func (f *statusFixture) patchesFor(key string) []recordedPatch {
	var out []recordedPatch
	for _, p := range f.rec.recorded() {
		if p.key == key {
			out = append(out, p)
		}
	}
	return out
}

func TestStatusWriterAppliesCoalescedWithItsFieldOwner(t *testing.T) {
	f := newStatusFixture(t)
	// Many webhooks for one number before a flush: one write with the latest counts.
	for i := range 5 {
		f.h.deliverAndDrain(receivertest.EchoesBody(t, receivertest.PhoneID, int64(i), receivertest.Echo("e"+strconv.Itoa(i), "u", 1_750_000_000+int64(i))))
	}
	if f.w.Pending() != 1 {
		t.Fatalf("Pending = %d, want 1", f.w.Pending())
	}
	f.w.Flush(context.Background())
	ps := f.rec.recorded()
	if len(ps) != 1 {
		t.Fatalf("%d patches, want 1", len(ps))
	}
	p := ps[0]
	if p.key != receivertest.Stream || p.patchType != types.ApplyPatchType {
		t.Errorf("patch %s of type %s, want an apply of %s", p.key, p.patchType, receivertest.Stream)
	}
	if p.opts.FieldManager != FieldOwner || p.opts.Force == nil || !*p.opts.Force {
		t.Errorf("field manager %q force %v, want %q forced", p.opts.FieldManager, p.opts.Force, FieldOwner)
	}
	var body statusApply
	if err := json.Unmarshal(p.body, &body); err != nil {
		t.Fatal(err)
	}
	if body.Status.Echoes == nil || body.Status.Echoes.Count != 5 || body.Status.Echoes.LastAt.Unix() != 1_750_000_004 {
		t.Errorf("applied echoes = %+v, want 5, last at 1750000004", body.Status.Echoes)
	}
	if f.w.Pending() != 0 {
		t.Errorf("Pending = %d after the flush", f.w.Pending())
	}
	if got := testutil.ToFloat64(f.metrics.StatusWrites.WithLabelValues("ok")); got != 1 {
		t.Errorf("status_writes_total{ok} = %v, want 1", got)
	}
	// Nothing marked: nothing written.
	f.w.Flush(context.Background())
	if n := len(f.rec.recorded()); n != 1 {
		t.Errorf("%d patches after an idle flush, want still 1", n)
	}
	// The cache catches up with the write; marked again with unchanged counts (a duplicate
	// webhook), the status already holds them and nothing is sent.
	key := receivertest.ObjKey(&v1.CoexNumber{}, types.NamespacedName{Namespace: receivertest.NS, Name: "shop"})
	cur := f.reader.Objs[key].(*v1.CoexNumber).DeepCopy()
	cur.Status = body.Status
	f.reader.Objs[key] = cur
	f.w.Mark([]string{receivertest.Stream}, nil)
	f.w.Flush(context.Background())
	if n := len(f.rec.recorded()); n != 1 {
		t.Errorf("%d patches after a no-op mark, want still 1", n)
	}
}

func TestStatusWriterRetriesAFailedWrite(t *testing.T) {
	f := newStatusFixture(t)
	f.h.deliverAndDrain(receivertest.ReadTestdata(t, "unsupported.json"))
	f.rec.setFail(errors.New("conflict"))
	f.w.Flush(context.Background())
	if f.w.Pending() != 1 {
		t.Fatalf("after a failed write Pending = %d, want 1 (the number stays marked)", f.w.Pending())
	}
	if got := testutil.ToFloat64(f.metrics.StatusWrites.WithLabelValues("error")); got != 1 {
		t.Errorf("status_writes_total{error} = %v, want 1", got)
	}
	select {
	case e := <-f.events.Events:
		t.Errorf("an event was recorded although the write failed: %s", e)
	default:
	}
	f.rec.setFail(nil)
	f.w.Flush(context.Background())
	if ps := f.patchesFor(receivertest.Stream); len(ps) != 1 {
		t.Fatalf("%d patches after the retry, want 1", len(ps))
	}
	// The 131060 warning kept for the retry is raised once, after the write.
	select {
	case e := <-f.events.Events:
		if !strings.Contains(e, ReasonUnsupportedMessage) || !strings.Contains(e, "1 message(s)") || !strings.Contains(e, "Warning") {
			t.Errorf("event = %q", e)
		}
	default:
		t.Error("no UnsupportedMessage event")
	}
	select {
	case e := <-f.events.Events:
		t.Errorf("a second event: %q", e)
	default:
	}
}

func TestStatusWriterSkipsDeletedNumbers(t *testing.T) {
	f := newStatusFixture(t)
	f.h.deliverAndDrain(receivertest.EchoesBody(t, receivertest.PhoneID, 1, receivertest.Echo("e1", "u", 1_750_000_000)))
	delete(f.reader.Objs, receivertest.ObjKey(&v1.CoexNumber{}, types.NamespacedName{Namespace: receivertest.NS, Name: "shop"}))
	f.w.Flush(context.Background())
	if n := len(f.rec.recorded()); n != 0 || f.w.Pending() != 0 {
		t.Errorf("%d patches, %d pending for a deleted number; want none", n, f.w.Pending())
	}
}

func TestStatusWriterWritesEachMarkedNumber(t *testing.T) {
	f := newStatusFixture(t)
	f.h.deliverAndDrain(
		receivertest.EchoesBody(t, receivertest.PhoneID, 1, receivertest.Echo("e1", "u", 1_750_000_000)),
		receivertest.EchoesBody(t, receivertest.OtherPhoneID, 2, receivertest.Echo("e2", "u", 1_750_000_000)),
	)
	f.w.Flush(context.Background())
	for _, s := range []string{receivertest.Stream, receivertest.OtherStream} {
		if n := len(f.patchesFor(s)); n != 1 {
			t.Errorf("%s: %d patches, want 1", s, n)
		}
	}
	// Numbers with no counts (never heard of) are not written.
	f.w.Mark([]string{receivertest.NS + "/silent"}, nil)
	f.reader.Objs[receivertest.ObjKey(&v1.CoexNumber{}, types.NamespacedName{Namespace: receivertest.NS, Name: "silent"})] = receivertest.CoexNumber(receivertest.NS, "silent")
	f.w.Flush(context.Background())
	if n := len(f.patchesFor(receivertest.NS + "/silent")); n != 0 {
		t.Errorf("%d patches for a number without counts", n)
	}
}

// TestStatusWriterNeverWritesAPredecessorsCounts: the counts in the state belong to the UID
// they were recorded for. A CoexNumber deleted and recreated under the same name is a new
// object (a re-onboarding): until its own first webhook it shows none of its predecessor's
// history, echoes or offboarding. The same object whose status another writer clobbered is
// written again.
func TestStatusWriterNeverWritesAPredecessorsCounts(t *testing.T) {
	tests := []struct {
		name      string
		uid       types.UID
		unstamped bool // the counts are stored without the UID they were recorded for
		wantWrite bool
	}{
		{name: "recreated under the same name (new UID)", uid: "uid-shop-recreated"},
		{name: "counts without a UID (a state from before counts were stamped)", uid: "uid-shop", unstamped: true},
		{name: "the same object, its status cleared by another writer", uid: "uid-shop", wantWrite: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newStatusFixture(t)
			f.h.deliverAndDrain(
				receivertest.HistoryBody(t, receivertest.PhoneID, 1, receivertest.Chunk(2, 1, 100, receivertest.Thread("u1", "m1"))),
				receivertest.EchoesBody(t, receivertest.PhoneID, 2, receivertest.Echo("e1", "u", 1_750_000_000)),
				receivertest.ReadTestdata(t, "account_partner_removed_disconnection.json"),
				receivertest.ReadTestdata(t, "unsupported.json"),
			)
			if tc.unstamped {
				c := f.h.counts(receivertest.Stream)
				c.UID = ""
				putCounts(t, f.h.store, receivertest.Stream, c)
			}
			obj := receivertest.CoexNumber(receivertest.NS, "shop")
			obj.UID, obj.Status = tc.uid, v1.CoexNumberStatus{}
			f.reader.Objs[receivertest.ObjKey(obj, types.NamespacedName{Namespace: receivertest.NS, Name: "shop"})] = obj
			f.w.Mark([]string{receivertest.Stream}, map[string]int{receivertest.Stream: 1})
			f.w.Flush(context.Background())

			ps := f.patchesFor(receivertest.Stream)
			if !tc.wantWrite {
				if len(ps) != 0 {
					t.Fatalf("counts recorded for UID %q were applied to the CoexNumber with UID %q: %s",
						f.h.counts(receivertest.Stream).UID, tc.uid, ps[0].body)
				}
				select {
				case e := <-f.events.Events:
					t.Errorf("an event about the predecessor's messages was raised on the new object: %s", e)
				default:
				}
				return
			}
			if len(ps) != 1 {
				t.Fatalf("%d patches, want 1: the receiver's fields cleared from its own object are written again", len(ps))
			}
			for _, s := range []string{`"echoes":{"count":1`, webhook.EventPartnerRemoved, `"chunks":1`} {
				if !strings.Contains(string(ps[0].body), s) {
					t.Errorf("the rewrite does not restore %s: %s", s, ps[0].body)
				}
			}
		})
	}
}

func TestStatusWriterStartFlushesOnStop(t *testing.T) {
	f := newStatusFixture(t)
	f.w.o.Interval = time.Hour // only the final flush can write
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- f.w.Start(ctx) }()
	f.h.deliverAndDrain(receivertest.EchoesBody(t, receivertest.PhoneID, 1, receivertest.Echo("e1", "u", 1_750_000_000)))
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if n := len(f.patchesFor(receivertest.Stream)); n != 1 {
		t.Errorf("%d patches after stop, want 1 (the last flush)", n)
	}
}

// TestStatusWriterCatchesUpAfterACrash: counts committed by a receiver killed before its status
// write are written by the next one, which starts by checking every number it has counts for.
func TestStatusWriterCatchesUpAfterACrash(t *testing.T) {
	f := newStatusFixture(t)
	f.h.deliverAndDrain(receivertest.EchoesBody(t, receivertest.PhoneID, 1, receivertest.Echo("e1", "u", 1_750_000_000)))
	// The receiver dies here: the mark was in memory. A new writer over the same state:
	next := NewStatusWriter(Options{Client: f.rec, Reader: f.reader, Store: f.h.store, Interval: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- next.Start(ctx) }()
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	ps := f.patchesFor(receivertest.Stream)
	if len(ps) != 1 || !strings.Contains(string(ps[0].body), `"echoes":{"count":1`) {
		t.Fatalf("patches after the restart: %d, want one with the echo count", len(ps))
	}
	if n := len(f.patchesFor(receivertest.NS + "/shop-two")); n != 0 {
		t.Errorf("%d patches for a number without counts", n)
	}
}
