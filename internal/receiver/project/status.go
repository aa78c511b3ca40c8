// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

// Package project projects the receiver's durable counts onto Kubernetes: the StatusWriter
// writes each CoexNumber's part of status that the receiver owns (history and contacts
// progress, echoes, unsupported messages, the offboarding record, the HistorySynced and
// Offboarded conditions) by server-side apply, and records the Kubernetes events that go
// with it (UnsupportedMessage warnings). It reads the counts from the store, never from
// webhooks: the dispatcher (package process) only tells it which numbers changed (Mark), so
// a write is always of absolute values and a lost or repeated one does no harm.
package project

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/coex-operator/coex-operator/api/v1alpha1"
	"github.com/coex-operator/coex-operator/internal/coexstatus"
	"github.com/coex-operator/coex-operator/internal/receiver/store"
	"github.com/coex-operator/coex-operator/internal/webhook"
)

// FieldOwner is the receiver's field manager for server-side apply. The reconcilers write the
// rest of the status; each owns its own fields and condition types.
const FieldOwner = "coex-receiver"

// Reasons of the receiver's conditions and events.
const (
	ReasonPartnerRemoved     = "PartnerRemoved"
	ReasonAccountOffboarded  = "AccountOffboarded"
	ReasonReconnected        = "Reconnected"
	ReasonUnsupportedMessage = "UnsupportedMessage"
)

// Options configure a StatusWriter.
type Options struct {
	// Client applies status; Reader (a cache) finds the CoexNumber for its generation.
	Client client.Client
	Reader client.Reader
	// APIReader reads the API server itself, past the cache, when an apply's precondition
	// fails (default: Client).
	APIReader client.Reader
	Store     store.Store
	// Interval coalesces writes: a number's status is written at most once per interval
	// (default 1 s), however many webhooks arrived for it.
	Interval time.Duration
	Workers  int // parallel writes (default 8)
	Events   events.EventRecorder
	Metrics  *Metrics
	Logger   logr.Logger
}

// StatusWriter writes the receiver's part of CoexNumber status from the durable counts: the
// history and contacts progress, echoes, unsupported messages, the offboarding record, and
// the HistorySynced and Offboarded conditions. It writes absolute values with server-side
// apply, so a repeated or retried write is harmless and no delta is lost: a failed write
// leaves the number marked and the next tick writes the then-current counts.
type StatusWriter struct {
	o Options

	mu          sync.Mutex
	dirty       map[string]bool
	unsupported map[string]int // 131060 warnings not yet reported
}

// NewStatusWriter returns a writer; Start runs it.
func NewStatusWriter(o Options) *StatusWriter {
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.Workers <= 0 {
		o.Workers = 8
	}
	if o.APIReader == nil {
		o.APIReader = o.Client
	}
	return &StatusWriter{o: o, dirty: map[string]bool{}, unsupported: map[string]int{}}
}

// Mark notes streams whose counts changed; it is the dispatcher's Applied hook
// (process.Options.Applied).
func (w *StatusWriter) Mark(streams []string, unsupported map[string]int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range streams {
		w.dirty[s] = true
	}
	for s, n := range unsupported {
		w.unsupported[s] += n
	}
}

// Pending reports how many numbers wait for a write.
func (w *StatusWriter) Pending() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.dirty)
}

// Start writes marked numbers every interval until ctx ends, then once more. It begins by
// marking every number the state knows: marks live in memory, so a receiver killed between a
// commit and the write after it would otherwise leave that number's status behind its counts
// for good. Numbers whose status already matches are not written.
func (w *StatusWriter) Start(ctx context.Context) error {
	streams, err := w.o.Store.Numbers(ctx)
	if err != nil {
		return err
	}
	w.Mark(streams, nil)
	t := time.NewTicker(w.o.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			// A last flush with a short deadline, so a clean stop leaves status current.
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			w.Flush(fctx)
			cancel()
			return nil
		case <-t.C:
			w.Flush(ctx)
		}
	}
}

// Flush writes every marked number now.
func (w *StatusWriter) Flush(ctx context.Context) {
	w.mu.Lock()
	streams := make([]string, 0, len(w.dirty))
	for s := range w.dirty {
		streams = append(streams, s)
	}
	clear(w.dirty)
	warn := w.unsupported
	w.unsupported = map[string]int{}
	w.mu.Unlock()

	work := make(chan string)
	var wg sync.WaitGroup
	for range min(w.o.Workers, len(streams)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := range work {
				if err := w.write(ctx, s, warn[s]); err != nil {
					w.o.Logger.Error(err, "writing CoexNumber status failed; will retry", "coexnumber", s)
					w.Mark([]string{s}, map[string]int{s: warn[s]})
				}
			}
		}()
	}
	for _, s := range streams {
		work <- s
	}
	close(work)
	wg.Wait()
}

func (w *StatusWriter) write(ctx context.Context, stream string, unsupported int) error {
	ns, name, ok := strings.Cut(stream, "/")
	if !ok {
		return nil
	}
	key := types.NamespacedName{Namespace: ns, Name: name}
	n := &v1.CoexNumber{}
	if err := w.o.Reader.Get(ctx, key, n); err != nil {
		if apierrors.IsNotFound(err) {
			return nil // deleted: nothing to write to
		}
		return err
	}
	written, err := w.apply(ctx, stream, n)
	if apierrors.IsConflict(err) {
		// The cache was behind the object: read the object itself. A number deleted and
		// created again under the same name has another UID, and its predecessor's counts
		// are not written to it.
		n = &v1.CoexNumber{}
		if err = w.o.APIReader.Get(ctx, key, n); err == nil {
			written, err = w.apply(ctx, stream, n)
		}
	}
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if written && unsupported > 0 && w.o.Events != nil {
		w.o.Events.Eventf(n, nil, corev1.EventTypeWarning, ReasonUnsupportedMessage, "Receive",
			"%d message(s) could not be shown through the Cloud API (error %d: sent from an ad or an unsupported "+
				"companion device); ask the business to check the WhatsApp Business app", unsupported, webhook.CodeUnsupportedMessage)
	}
	return nil
}

// apply writes the receiver's status of n from the counts, when they are n's and differ from
// what n shows. The apply carries n's resourceVersion as a precondition: the API server
// refuses it (Conflict) unless n is the object as stored, so counts are never written to an
// object the writer did not see (the status subresource ignores a UID in the body). It
// reports whether n's counts are in its status afterwards.
func (w *StatusWriter) apply(ctx context.Context, stream string, n *v1.CoexNumber) (bool, error) {
	counts, ok, err := w.o.Store.Counts(ctx, stream)
	// Nothing in the state (it was lost, say) is no reason to write: an apply of nothing
	// would remove every field the receiver wrote before. Counts of another UID belong to a
	// predecessor of the same name and are not this object's; the new object's first
	// webhook marks it again.
	if err != nil || !ok || !belongsTo(counts, n) {
		return false, err
	}
	desired := applyStatus(n, carryForward(counts, n))
	// Compared with the object as it is (not with the last write), so a recreated number or
	// a status another writer clobbered is written again.
	want, _ := json.Marshal(desired.Status)
	have, _ := json.Marshal(ownedStatus(n))
	if bytes.Equal(want, have) {
		return true, nil
	}
	desired.Metadata.ResourceVersion = n.ResourceVersion
	body, err := json.Marshal(desired)
	if err != nil {
		return false, err
	}
	patch := &v1.CoexNumber{ObjectMeta: metav1.ObjectMeta{Namespace: n.Namespace, Name: n.Name}}
	err = w.o.Client.Status().Patch(ctx, patch, client.RawPatch(types.ApplyPatchType, body),
		client.FieldOwner(FieldOwner), client.ForceOwnership)
	if w.o.Metrics != nil {
		w.o.Metrics.StatusWrites.WithLabelValues(resultLabel(err)).Inc()
	}
	if err != nil {
		return false, fmt.Errorf("apply status: %w", err)
	}
	return true, nil
}

func resultLabel(err error) string {
	if err != nil {
		return "error"
	}
	return "ok"
}

// statusApply is the body of a server-side apply of the receiver's fields. Only what is set
// is sent, so the receiver owns nothing it does not write.
type statusApply struct {
	APIVersion string              `json:"apiVersion"`
	Kind       string              `json:"kind"`
	Metadata   statusApplyMeta     `json:"metadata"`
	Status     v1.CoexNumberStatus `json:"status"`
}

type statusApplyMeta struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	// ResourceVersion is the version of the object the counts were checked against: a
	// precondition the API server enforces on an apply (see StatusWriter.apply).
	ResourceVersion string `json:"resourceVersion,omitempty"`
}

// applyStatus builds the receiver's status of n from its counts.
func applyStatus(n *v1.CoexNumber, c store.NumberCounts) statusApply {
	st := v1.CoexNumberStatus{}
	if c.HistoryStartedAt != nil || c.Declined {
		st.History = &v1.HistorySyncStatus{
			Phase: c.HistoryPhase, Chunks: c.Chunks, Progress: c.Progress, Threads: c.Threads,
			Messages: c.Messages, Declined: c.Declined, CompletedAt: metaTime(c.CompletedAt),
		}
		if c.Declined && st.History.Progress == 0 {
			st.History.Progress = 100
		}
	}
	if c.ContactsAdded > 0 || c.ContactsRemoved > 0 {
		st.Contacts = &v1.ContactsSyncStatus{Added: c.ContactsAdded, Removed: c.ContactsRemoved}
	}
	if c.Echoes > 0 {
		st.Echoes = &v1.EchoStatus{Count: c.Echoes, LastAt: metaTime(c.EchoLastAt)}
	}
	if c.Unsupported > 0 {
		st.UnsupportedMessages = &v1.UnsupportedMessagesStatus{Count: c.Unsupported, LastAt: metaTime(c.UnsupportedLastAt)}
	}
	if off := c.Offboarding; off != nil {
		st.Offboarding = &v1.OffboardingStatus{Event: off.Event, Reason: off.Reason, InitiatedBy: off.InitiatedBy,
			At: metaTime(&off.At)}
	}
	st.Conditions = receiverConditions(n, c)
	return statusApply{APIVersion: v1.GroupVersion.String(), Kind: "CoexNumber",
		Metadata: statusApplyMeta{Name: n.Name, Namespace: n.Namespace}, Status: st}
}

// ownedStatus is the part of n's status the receiver owns, as applyStatus lays it out.
func ownedStatus(n *v1.CoexNumber) v1.CoexNumberStatus {
	st := v1.CoexNumberStatus{Echoes: n.Status.Echoes, UnsupportedMessages: n.Status.UnsupportedMessages,
		Offboarding: n.Status.Offboarding}
	if h := n.Status.History; h != nil && (h.Phase != nil || h.Chunks > 0 || h.Progress > 0 || h.Declined) {
		st.History = &v1.HistorySyncStatus{Phase: h.Phase, Chunks: h.Chunks, Progress: h.Progress, Threads: h.Threads,
			Messages: h.Messages, Declined: h.Declined, CompletedAt: h.CompletedAt}
	}
	if c := n.Status.Contacts; c != nil && (c.Added > 0 || c.Removed > 0) {
		st.Contacts = &v1.ContactsSyncStatus{Added: c.Added, Removed: c.Removed}
	}
	for _, typ := range []string{v1.ConditionHistorySynced, v1.ConditionOffboarded} {
		if c := apimeta.FindStatusCondition(n.Status.Conditions, typ); c != nil {
			st.Conditions = append(st.Conditions, *c)
		}
	}
	return st
}

// receiverConditions are HistorySynced, once history has started or was declined, and
// Offboarded, once Meta sent an account event.
func receiverConditions(n *v1.CoexNumber, c store.NumberCounts) []metav1.Condition {
	var out []metav1.Condition
	cond := func(typ string, status metav1.ConditionStatus, reason, msg string, since *time.Time) {
		at := metav1.Now()
		if since != nil {
			at = metav1.NewTime(since.UTC().Truncate(time.Second))
		}
		out = append(out, metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg,
			ObservedGeneration: n.Generation, LastTransitionTime: at})
	}
	switch {
	case c.Declined:
		cond(v1.ConditionHistorySynced, metav1.ConditionTrue, coexstatus.ReasonHistoryDeclined,
			fmt.Sprintf("the business declined to share its chat history (error %d)", webhook.CodeHistoryDeclined), c.CompletedAt)
	case c.CompletedAt != nil:
		cond(v1.ConditionHistorySynced, metav1.ConditionTrue, coexstatus.ReasonHistoryCompleted,
			fmt.Sprintf("%d messages in %d threads, %d chunks", c.Messages, c.Threads, c.Chunks), c.CompletedAt)
	case c.HistoryStartedAt != nil:
		phase := int32(0)
		if c.HistoryPhase != nil {
			phase = *c.HistoryPhase
		}
		cond(v1.ConditionHistorySynced, metav1.ConditionFalse, coexstatus.ReasonHistoryInProgress,
			fmt.Sprintf("phase %d, %d%%: %d messages in %d threads so far", phase, c.Progress, c.Messages, c.Threads),
			c.HistoryStartedAt)
	}
	if off := c.Offboarding; off != nil {
		switch off.Event {
		case webhook.EventPartnerRemoved, webhook.EventAccountOffboarded:
			reason := ReasonPartnerRemoved
			if off.Event == webhook.EventAccountOffboarded {
				reason = ReasonAccountOffboarded
			}
			msg := "Meta reported " + off.Event
			if off.Reason != "" {
				msg += " (" + off.Reason
				if off.InitiatedBy != "" {
					msg += ", initiated by " + off.InitiatedBy
				}
				msg += ")"
			}
			msg += " at " + off.At.UTC().Format(time.RFC3339) + "; the business must reconnect the number in the WhatsApp Business app"
			cond(v1.ConditionOffboarded, metav1.ConditionTrue, reason, msg, c.OffboardedSince)
		case webhook.EventAccountReconnected:
			cond(v1.ConditionOffboarded, metav1.ConditionFalse, ReasonReconnected,
				"Meta reported ACCOUNT_RECONNECTED at "+off.At.UTC().Format(time.RFC3339), c.OffboardedSince)
		}
	}
	return out
}

func metaTime(t *time.Time) *metav1.Time {
	if t == nil {
		return nil
	}
	m := metav1.NewTime(t.UTC().Truncate(time.Second))
	return &m
}
