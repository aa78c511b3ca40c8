// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graphsim

import (
	"context"
	"math/rand/v2"

	"github.com/coex-operator/coex-operator/internal/webhook"
)

var (
	firstNames = []string{"Ada", "Bola", "Chen", "Dara", "Emeka", "Fatima", "Gustavo", "Hana", "Ife", "Jonas",
		"Kemi", "Lucia", "Mateo", "Nia", "Omar", "Priya", "Quentin", "Rosa", "Sade", "Tunde"}
	lastNames = []string{"Okafor", "Silva", "Nguyen", "Mensah", "Garcia", "Adeyemi", "Kowalski", "Haddad",
		"Tanaka", "Eze", "Moreau", "Ibrahim", "Rossi", "Bello", "Santos", "Novak"}
)

// contact is added contact j: contact j < threads is thread j's user, the rest have never
// written. Its timestamp is when the business last edited it, before onboarding.
func (g *generator) contact(j int) (webhook.Contact, int64) {
	h := hash(g.r.seed, 0xc0, uint64(j))
	first := firstNames[h%uint64(len(firstNames))]
	last := lastNames[(h>>20)%uint64(len(lastNames))]
	return webhook.Contact{FullName: first + " " + last, FirstName: first, PhoneNumber: g.userWaID(j)},
		g.onb - int64(mix(h)%(365*daySec))
}

// removedContacts picks which added contacts are later removed.
func (g *generator) removedContacts() []int {
	if g.r.contactsRemoved == 0 {
		return nil
	}
	return rand.New(rand.NewPCG(g.r.seed, 0xc1)).Perm(g.r.contactsAdded)[:g.r.contactsRemoved]
}

// emitContacts sends a contacts sync: every contact as "add" in batches, then the removed
// ones as "remove" (names absent), timestamps as quoted strings.
func (s *Sim) emitContacts(ctx context.Context, v numberView) {
	g := v.gen
	batch := make([]wireStateSyncItem, 0, g.r.contactsPerWebhook)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		value := wireStateSyncValue{MessagingProduct: "whatsapp", Metadata: v.metadata(), StateSync: batch}
		err := s.emit(ctx, v.wabaID, webhook.FieldStateSync, timeNumber, value, nil)
		batch = make([]wireStateSyncItem, 0, g.r.contactsPerWebhook)
		return err
	}
	add := func(c webhook.Contact, action string, ts int64) error {
		item := wireStateSyncItem{Type: "contact", Contact: c, Action: action}
		item.Metadata.Timestamp = unixString(ts)
		batch = append(batch, item)
		if len(batch) == g.r.contactsPerWebhook {
			return flush()
		}
		return nil
	}
	for j := range g.r.contactsAdded {
		c, ts := g.contact(j)
		if add(c, webhook.ActionAdd, ts) != nil {
			return
		}
	}
	if flush() != nil {
		return
	}
	now := s.clock.Now().Unix()
	for _, j := range g.removedContacts() {
		if add(webhook.Contact{PhoneNumber: g.userWaID(j)}, webhook.ActionRemove, now) != nil {
			return
		}
	}
	_ = flush()
}
