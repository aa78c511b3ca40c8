// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package receiver_test

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/coex-operator/coex-operator/api/v1alpha1"
	"github.com/coex-operator/coex-operator/internal/graphsim"
	"github.com/coex-operator/coex-operator/internal/webhook"
)

// TestStatusNeverGoesBackwards runs the manager and the receiver binaries and takes from the
// receiver what a real pod can lose:
//   - a CoexNumber deleted and recreated under the same name (a new UID) never shows its
//     predecessor's echoes or Offboarded, even after a receiver restart that revisits every
//     number it has counts for; its own first webhook is counted from zero;
//   - a synced number (Active, Ready, HistorySynced=True, counts in status) keeps all of it
//     after the receiver's spool and state are deleted and it restarts, while further
//     webhooks for the number arrive and are counted from nothing.
func TestStatusNeverGoesBackwards(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		w := newWorldOn(t, b, graphsim.DeliveryOptions{RetryBase: 100 * time.Millisecond, RetryMax: time.Second, MaxAttempts: 1000})
		startManager(t, w)
		keep := w.addNumber("keep", "2101", "3101", graphsim.Scenario{Preset: "small"})

		// The predecessor: an echo and an offboarding, then deleted and created again.
		gone := w.addSuspendedNumber(t, "gone", "2102", "3102")
		w.trigger(t, graphsim.Event{Kind: graphsim.EventEcho, PhoneNumberID: gone.PhoneNumberID})
		w.trigger(t, graphsim.Event{Kind: graphsim.EventAccountUpdate, PhoneNumberID: gone.PhoneNumberID,
			AccountEvent: webhook.EventPartnerRemoved, Reason: "PRIMARY_INACTIVITY", InitiatedBy: "SYSTEM"})
		waitFor(t, time.Minute, "the first gone to show its echo and Offboarded", func() (bool, string) {
			n := w.number("gone")
			return n.Status.Echoes != nil && meta.IsStatusConditionTrue(n.Status.Conditions, v1.ConditionOffboarded),
				fmt.Sprintf("echoes %+v, conditions %+v", n.Status.Echoes, n.Status.Conditions)
		})
		old := w.number("gone")
		must(t, w.k8s.Delete(context.Background(), old))
		waitFor(t, 30*time.Second, "the first gone to be deleted", func() (bool, string) {
			err := w.k8s.Get(context.Background(), client.ObjectKeyFromObject(old), &v1.CoexNumber{})
			return client.IgnoreNotFound(err) == nil && err != nil, fmt.Sprint(err)
		})
		w.createSuspended(t, "gone", gone)
		w.rcv.Restart() // a restart writes every number the state holds counts for
		noPredecessor := func(n *v1.CoexNumber) string {
			if n.UID == old.UID {
				return ""
			}
			if n.Status.Offboarding != nil || meta.FindStatusCondition(n.Status.Conditions, v1.ConditionOffboarded) != nil {
				return fmt.Sprintf("the recreated gone shows its predecessor's offboarding: %+v", n.Status.Conditions)
			}
			if n.Status.Echoes != nil && n.Status.Echoes.Count > 1 {
				return fmt.Sprintf("the recreated gone counts its predecessor's echo: %+v", n.Status.Echoes)
			}
			return ""
		}
		watch := w.watchStatus(t, "gone", noPredecessor)
		time.Sleep(3 * time.Second) // three status intervals after the restart
		if n := w.number("gone"); n.Status.Echoes != nil {
			t.Errorf("before any webhook of its own, the recreated gone shows echoes %+v", n.Status.Echoes)
		}
		w.trigger(t, graphsim.Event{Kind: graphsim.EventEcho, PhoneNumberID: gone.PhoneNumberID})
		waitFor(t, time.Minute, "the recreated gone to count its own echo", func() (bool, string) {
			n := w.number("gone")
			return n.Status.Echoes != nil && n.Status.Echoes.Count == 1, fmt.Sprintf("echoes %+v", n.Status.Echoes)
		})
		watch.check(t)

		// The synced number loses the receiver's state.
		w.waitPhase(t, "keep", v1.PhaseActive)
		w.trigger(t, graphsim.Event{Kind: graphsim.EventEcho, PhoneNumberID: keep.PhoneNumberID})
		w.trigger(t, graphsim.Event{Kind: graphsim.EventEcho, PhoneNumberID: keep.PhoneNumberID})
		waitFor(t, time.Minute, "keep to show its echoes", func() (bool, string) {
			n := w.number("keep")
			e := n.Status.Echoes
			return e != nil && e.Count >= 2 && e.LastAt != nil, fmt.Sprintf("echoes %+v", e)
		})
		before := w.number("keep")
		watch = w.watchStatus(t, "keep", func(n *v1.CoexNumber) string { return regressed(before, n) })
		w.rcv.Stop(syscall.SIGKILL)
		w.forgetStore()
		w.rcv.Start()
		w.sim.Clock().Advance(time.Minute) // the next echo is newer than any shown
		w.trigger(t, graphsim.Event{Kind: graphsim.EventEcho, PhoneNumberID: keep.PhoneNumberID})
		w.trigger(t, graphsim.Event{Kind: graphsim.EventInbound, PhoneNumberID: keep.PhoneNumberID, Text: "still there?"})
		waitFor(t, time.Minute, "the echo after the loss to reach keep's status", func() (bool, string) {
			n := w.number("keep")
			e := n.Status.Echoes
			return e != nil && e.LastAt != nil && e.LastAt.After(before.Status.Echoes.LastAt.Time), fmt.Sprintf("echoes %+v", e)
		})
		time.Sleep(2 * time.Second) // the manager's next look at the number
		watch.check(t)
	})
}

// regressed describes how now went backwards from before, or is empty.
func regressed(before, now *v1.CoexNumber) string {
	if now.Status.Phase != before.Status.Phase {
		return fmt.Sprintf("phase went from %s to %s", before.Status.Phase, now.Status.Phase)
	}
	for _, typ := range []string{v1.ConditionReady, v1.ConditionHistorySynced} {
		b, n := meta.FindStatusCondition(before.Status.Conditions, typ), meta.FindStatusCondition(now.Status.Conditions, typ)
		if b != nil && (n == nil || n.Status != b.Status || n.Reason != b.Reason) {
			return fmt.Sprintf("%s went from %+v to %+v", typ, b, n)
		}
	}
	bh, nh := before.Status.History, now.Status.History
	switch {
	case nh == nil:
		return "status.history is gone"
	case nh.Chunks < bh.Chunks || nh.Threads < bh.Threads || nh.Messages < bh.Messages || nh.Progress < bh.Progress:
		return fmt.Sprintf("history counts went down: %+v -> %+v", bh, nh)
	case bh.CompletedAt != nil && (nh.CompletedAt == nil || !nh.CompletedAt.Equal(bh.CompletedAt)):
		return fmt.Sprintf("history.completedAt moved: %v -> %v", bh.CompletedAt, nh.CompletedAt)
	case nh.RequestID != bh.RequestID:
		return fmt.Sprintf("the manager's history request id changed: %q -> %q", bh.RequestID, nh.RequestID)
	}
	if bc, nc := before.Status.Contacts, now.Status.Contacts; bc != nil && (nc == nil || nc.Added < bc.Added || nc.Removed < bc.Removed) {
		return fmt.Sprintf("contacts went down: %+v -> %+v", bc, nc)
	}
	if now.Status.Echoes == nil || now.Status.Echoes.Count < before.Status.Echoes.Count {
		return fmt.Sprintf("echoes went down: %+v -> %+v", before.Status.Echoes, now.Status.Echoes)
	}
	return ""
}

// statusWatch samples a CoexNumber until the test ends and keeps the first violation.
type statusWatch struct {
	stop func()
	mu   sync.Mutex
	bad  string
}

// watchStatus checks violated(n) every 100 ms; check stops it and fails with the first
// violation seen.
func (w *world) watchStatus(t *testing.T, name string, violated func(*v1.CoexNumber) string) *statusWatch {
	ctx, cancel := context.WithCancel(context.Background())
	s := &statusWatch{}
	done := make(chan struct{})
	s.stop = func() { cancel(); <-done }
	t.Cleanup(s.stop)
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			n := &v1.CoexNumber{}
			if err := w.k8s.Get(ctx, client.ObjectKey{Namespace: w.ns, Name: name}, n); err == nil {
				if msg := violated(n); msg != "" {
					s.mu.Lock()
					if s.bad == "" {
						s.bad = msg
					}
					s.mu.Unlock()
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return s
}

func (s *statusWatch) check(t *testing.T) {
	t.Helper()
	s.stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bad != "" {
		t.Error(s.bad)
	}
}

func (w *world) trigger(t *testing.T, e graphsim.Event) {
	t.Helper()
	_, err := w.sim.Trigger(e)
	must(t, err)
}

// addSuspendedNumber adds a number to the simulator with no history and its CoexNumber,
// suspended: the manager makes no Graph call for it, so every status it gets is the receiver's.
func (w *world) addSuspendedNumber(t *testing.T, name, waba, phone string) graphsim.NumberInfo {
	t.Helper()
	info, err := w.sim.AddNumber(graphsim.NumberSpec{AppID: appID, WABAID: waba, PhoneNumberID: phone, SubscribeApp: true})
	must(t, err)
	w.createSuspended(t, name, info)
	return info
}

func (w *world) createSuspended(t *testing.T, name string, info graphsim.NumberInfo) {
	t.Helper()
	onboarded := metav1.NewTime(info.OnboardedAt)
	must(t, w.k8s.Create(context.Background(), &v1.CoexNumber{
		ObjectMeta: metav1.ObjectMeta{Namespace: w.ns, Name: name},
		Spec: v1.CoexNumberSpec{AppRef: v1.MetaAppReference{Name: appName}, WABAID: info.WABAID, PhoneNumberID: info.PhoneNumberID,
			DisplayPhoneNumber: info.DisplayPhoneNumber, OnboardedAt: &onboarded, Suspend: true,
			TokenSecretRef: &v1.SecretKeySelector{Name: name + "-token", Key: "token"}},
	}))
}
