// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graphsim

import (
	"context"
	"maps"
	"slices"

	"github.com/coex-operator/coex-operator/internal/webhook"
)

// target is one app a webhook goes to.
type target struct {
	appID, url string
	secret     []byte
}

// targets resolves where a WABA's webhook of field goes, as Meta does: to every app
// subscribed to the WABA that also subscribed to the field, at the WABA's override callback
// URI if the app set one, else at the app's callback URL; account_update always goes to the
// app's URL. skipped counts the apps (or the one WABA without any app) that get nothing.
func (s *Sim) targets(wabaID, field string) (ts []target, skipped int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.wabas[wabaID]
	if w == nil || len(w.apps) == 0 {
		return nil, 1
	}
	for _, appID := range slices.Sorted(maps.Keys(w.apps)) {
		ap := s.apps[appID]
		var sub *appSubscription
		if ap != nil {
			sub = ap.subs[objectWABA]
		}
		if sub == nil || !sub.has(field) || sub.callbackURL == "" {
			skipped++
			continue
		}
		url := sub.callbackURL
		if o := w.apps[appID].overrideURI; o != "" && field != webhook.FieldAccountUpdate {
			url = o
		}
		ts = append(ts, target{appID: appID, url: url, secret: []byte(ap.secret)})
	}
	return ts, skipped
}

// emit sends one change of a WABA to every target, signed with each app's secret; followUp,
// when set, is sent to the same targets right after value is delivered.
func (s *Sim) emit(ctx context.Context, wabaID, field string, tf timeFormat, value, followUp any) error {
	now := s.clock.Now()
	body, err := envelope(wabaID, now, tf, field, value)
	if err != nil {
		return err
	}
	var fbody []byte
	if followUp != nil {
		if fbody, err = envelope(wabaID, now, tf, field, followUp); err != nil {
			return err
		}
	}
	ts, skipped := s.targets(wabaID, field)
	if fbody != nil {
		skipped *= 2
	}
	s.dl.undeliverable(field, skipped)
	for _, t := range ts {
		j := &job{field: field, appID: t.appID, url: t.url, body: body, signature: webhook.Sign(t.secret, body)}
		if fbody != nil {
			j.next = &job{field: field, appID: t.appID, url: t.url, body: fbody, signature: webhook.Sign(t.secret, fbody)}
		}
		if err := s.dl.enqueue(ctx, j); err != nil {
			return err
		}
	}
	return nil
}
