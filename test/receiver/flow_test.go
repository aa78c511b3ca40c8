// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package receiver_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/coex-operator/coex-operator/api/v1alpha1"
	"github.com/coex-operator/coex-operator/internal/graphsim"
	"github.com/coex-operator/coex-operator/internal/receiver/event"
	"github.com/coex-operator/coex-operator/internal/receiver/project"
	"github.com/coex-operator/coex-operator/internal/webhook"
	"github.com/coex-operator/coex-operator/test/harness"
)

// TestOperatorAndReceiverTogether runs the manager and the receiver binaries side by side, as
// in the pod, against the simulator: the manager requests the syncs and the receiver's
// HistorySynced turns the number Active; echoes, a user's message, an edit, a revoke and a
// 131060 reach status, a Warning and the relay (through an endpoint outage and a SIGKILL of
// the receiver while they wait in its outbox); the app secret is rotated mid-way; and
// PARTNER_REMOVED then ACCOUNT_RECONNECTED move the number to Offboarded and back.
func TestOperatorAndReceiverTogether(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		w := newWorldOn(t, b, graphsim.DeliveryOptions{RetryBase: 100 * time.Millisecond, RetryMax: time.Second, MaxAttempts: 1000})
		startManager(t, w)
		info := w.addNumber("desk", "2002", "3002", graphsim.Scenario{Preset: "small"})
		phone := info.PhoneNumberID

		w.waitPhase(t, "desk", v1.PhaseActive)
		n := w.number("desk")
		if got, want := n.Status.History.Messages, int64(info.Totals.Messages); got != want {
			t.Errorf("history.messages = %d, want %d", got, want)
		}
		// Both writers kept their fields: the manager's request records and the receiver's counts.
		if n.Status.History.RequestID == "" || n.Status.Contacts.RequestID == "" {
			t.Errorf("the manager's request ids are gone: history %+v, contacts %+v", n.Status.History, n.Status.Contacts)
		}

		trigger := func(e graphsim.Event) string {
			t.Helper()
			e.PhoneNumberID = phone
			id, err := w.sim.Trigger(e)
			must(t, err)
			return id
		}
		// The tenant's endpoint goes down before the next events, and the receiver is killed
		// while they wait in its outbox: they are delivered once the endpoint is back.
		w.sink.down.Store(true)
		trigger(graphsim.Event{Kind: graphsim.EventEcho})
		inbound := trigger(graphsim.Event{Kind: graphsim.EventInbound, Text: "is my order on its way?"})
		trigger(graphsim.Event{Kind: graphsim.EventEdit, OriginalMessageID: inbound, Text: "is my parcel on its way?"})
		trigger(graphsim.Event{Kind: graphsim.EventRevoke, OriginalMessageID: inbound})
		trigger(graphsim.Event{Kind: graphsim.EventUnsupported})

		// The app secret is rotated at Meta and in the cluster; the next webhooks are signed with
		// the new one and still accepted.
		const rotated = "app-secret-rotated"
		must(t, w.sim.SetAppSecret(appID, rotated))
		w.setAppSecret(t, rotated)
		trigger(graphsim.Event{Kind: graphsim.EventEcho})

		waitFor(t, time.Minute, "echoes and the unsupported message in status", func() (bool, string) {
			n := w.number("desk")
			e, u := n.Status.Echoes, n.Status.UnsupportedMessages
			return e != nil && e.Count == 2 && e.LastAt != nil && u != nil && u.Count == 1,
				fmt.Sprintf("echoes %+v, unsupported %+v", e, u)
		})
		w.rcv.Restart()
		if c := w.sink.counts(); c.byType[event.TypeEcho] != 0 {
			t.Fatalf("events delivered while the endpoint was down: %v", c.byType)
		}
		w.sink.down.Store(false)
		waitFor(t, 2*time.Minute, "the relayed events", func() (bool, string) {
			c := w.sink.counts()
			return c.byType[event.TypeEcho] == 2 && c.byType[event.TypeMessage] == 1 && c.byType[event.TypeEdit] == 1 &&
				c.byType[event.TypeRevoke] == 1 && c.byType[event.TypeUnsupported] == 1, fmt.Sprint(c.byType)
		})
		ev, ok := w.sink.event("message:" + inbound)
		if !ok || ev.WindowClosesAt == nil || ev.WindowClosesAt.Sub(time.Unix(ev.Timestamp, 0)) != 24*time.Hour {
			t.Errorf("the user's message does not carry its 24 h window: %+v", ev)
		}
		if ev, ok := w.sink.eventOfType(event.TypeEdit); !ok || ev.OriginalMessageID != inbound {
			t.Errorf("the edit does not name the edited message %s: %+v", inbound, ev)
		}
		waitFor(t, time.Minute, "a Warning about 131060", func() (bool, string) {
			var l eventsv1.EventList
			must(t, w.k8s.List(context.Background(), &l, client.InNamespace(w.ns)))
			for _, e := range l.Items {
				if e.Reason == project.ReasonUnsupportedMessage && e.Type == corev1.EventTypeWarning && e.Regarding.Name == "desk" {
					return strings.Contains(e.Note, "check the WhatsApp Business app"), e.Note
				}
			}
			return false, fmt.Sprintf("%d events, none about 131060", len(l.Items))
		})

		// The business disconnects: PARTNER_REMOVED (by phone number) offboards the number.
		trigger(graphsim.Event{Kind: graphsim.EventAccountUpdate, AccountEvent: webhook.EventPartnerRemoved,
			Reason: "PRIMARY_INACTIVITY", InitiatedBy: "SYSTEM"})
		w.waitPhase(t, "desk", v1.PhaseOffboarded)
		n = w.number("desk")
		off := meta.FindStatusCondition(n.Status.Conditions, v1.ConditionOffboarded)
		if off == nil || off.Reason != project.ReasonPartnerRemoved || !strings.Contains(off.Message, "PRIMARY_INACTIVITY") {
			t.Errorf("Offboarded = %+v", off)
		}
		if n.Status.Offboarding == nil || n.Status.Offboarding.InitiatedBy != "SYSTEM" {
			t.Errorf("offboarding record = %+v", n.Status.Offboarding)
		}
		if c := meta.FindStatusCondition(n.Status.Conditions, v1.ConditionStalled); c == nil || c.Status != metav1.ConditionTrue {
			t.Errorf("an offboarded number is not Stalled: %+v", c)
		}

		// ACCOUNT_RECONNECTED (a later time) brings it back: verified again, Active.
		w.sim.Clock().Advance(time.Minute)
		trigger(graphsim.Event{Kind: graphsim.EventAccountUpdate, AccountEvent: webhook.EventAccountReconnected})
		w.waitPhase(t, "desk", v1.PhaseActive)
		if off := meta.FindStatusCondition(w.number("desk").Status.Conditions, v1.ConditionOffboarded); off == nil ||
			off.Status != metav1.ConditionFalse || off.Reason != project.ReasonReconnected {
			t.Errorf("after ACCOUNT_RECONNECTED, Offboarded = %+v", off)
		}
	})
}

// waitPhase waits for a CoexNumber's phase.
func (w *world) waitPhase(t *testing.T, name string, phase v1.CoexNumberPhase) {
	t.Helper()
	waitFor(t, 2*time.Minute, fmt.Sprintf("%s to be %s", name, phase), func() (bool, string) {
		n := w.number(name)
		ready := meta.FindStatusCondition(n.Status.Conditions, v1.ConditionReady)
		return n.Status.Phase == phase, fmt.Sprintf("phase %q, ready %+v", n.Status.Phase, ready)
	})
}

// startManager runs the manager binary against the world's control plane until the test ends,
// and waits until it is ready.
func startManager(tb testing.TB, w *world) *harness.Process {
	tb.Helper()
	return harness.StartManager(tb, w.env, "--subscription-recheck", "1h")
}
