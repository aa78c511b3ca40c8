// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package receiver_test

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/coex-operator/coex-operator/api/v1alpha1"
	"github.com/coex-operator/coex-operator/internal/coexstatus"
	"github.com/coex-operator/coex-operator/internal/graphsim"
)

// windowKill is one SIGKILL of the manager while Meta's answer to an accepted sync request
// was held back, and what the CoexNumber said at that moment.
type windowKill struct {
	number, call string
	intent       bool   // status held the request's intentAt
	requestID    string // and its request id (must be empty: the answer never arrived)
}

type windowKills struct {
	mu    sync.Mutex
	want  int
	kills []windowKill
}

// killInTheWindow makes the first n sync requests Meta accepts each SIGKILL the manager
// (through restart, which also starts it again) before their answer is written: the request
// has taken effect at Meta, and the manager has recorded its intent but cannot have recorded
// the request id. names maps phone number ids to CoexNumber names.
func (w *world) killInTheWindow(t *testing.T, n int, names map[string]string, restart func()) *windowKills {
	k := &windowKills{want: n}
	hook := func(c graphsim.Call) {
		if c.Status != http.StatusOK || (c.Name != "RequestContactsSync" && c.Name != "RequestHistorySync") {
			return
		}
		k.mu.Lock()
		defer k.mu.Unlock()
		if len(k.kills) >= k.want {
			return
		}
		name := names[c.PhoneNumberID]
		num := &v1.CoexNumber{}
		if err := w.k8s.Get(context.Background(), client.ObjectKey{Namespace: w.ns, Name: name}, num); err != nil {
			t.Errorf("reading %s before the kill: %v", name, err)
			return
		}
		rec := syncRecord(num, c.Name)
		k.kills = append(k.kills, windowKill{number: name, call: c.Name, intent: rec.IntentAt != nil, requestID: rec.RequestID})
		restart()
	}
	w.beforeAnswer.Store(&hook)
	return k
}

// check fails unless every planned kill happened inside the window, and each of those syncs
// was then settled without a second accepted request (which the exactly-once check on the
// simulator's record counts): by the webhooks that prove Meta took it (AcceptedPerWebhooks),
// or by Meta's refusal of a re-ask (AlreadyRequested). It returns the kills made and how many
// of their syncs were settled that way.
func (k *windowKills) check(t *testing.T, w *world) (kills, settled int) {
	t.Helper()
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.kills) != k.want {
		t.Errorf("%d manager kills between intent and request id, want %d", len(k.kills), k.want)
	}
	for _, kill := range k.kills {
		if !kill.intent || kill.requestID != "" {
			t.Errorf("%s %s: killed with intent recorded %v and request id %q; want the intent and no id",
				kill.number, kill.call, kill.intent, kill.requestID)
		}
		cond := v1.ConditionContactsSyncRequested
		if kill.call == "RequestHistorySync" {
			cond = v1.ConditionHistorySyncRequested
		}
		n := w.number(kill.number)
		if c := meta.FindStatusCondition(n.Status.Conditions, cond); c == nil || c.Status != "True" ||
			(c.Reason != coexstatus.ReasonAlreadyRequested && c.Reason != coexstatus.ReasonAcceptedPerWebhooks) {
			t.Errorf("%s: after a kill in the window, %s = %+v; want True/%s or True/%s", kill.number, cond, c,
				coexstatus.ReasonAcceptedPerWebhooks, coexstatus.ReasonAlreadyRequested)
		} else {
			settled++
		}
		if rec := syncRecord(n, kill.call); rec.RequestedAt == nil {
			t.Errorf("%s: %s never recorded as requested after the kill", kill.number, kill.call)
		}
	}
	return len(k.kills), settled
}

// syncRecord is a number's record of the sync a Graph call requests (empty when none).
func syncRecord(n *v1.CoexNumber, call string) v1.SyncRequestRecord {
	switch {
	case call == "RequestContactsSync" && n.Status.Contacts != nil:
		return n.Status.Contacts.SyncRequestRecord
	case call == "RequestHistorySync" && n.Status.History != nil:
		return n.Status.History.SyncRequestRecord
	}
	return v1.SyncRequestRecord{}
}
