// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package process

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/coex-operator/coex-operator/internal/receiver/event"
	"github.com/coex-operator/coex-operator/internal/receiver/store"
	"github.com/coex-operator/coex-operator/internal/webhook"
)

// Target is the CoexNumber a change is about.
type Target struct {
	Namespace string
	Name      string
	// UID tells a CoexNumber from an earlier one of the same name: re-onboarding a number is
	// deleting its CoexNumber and creating it again, and the new one starts from zero.
	UID                string
	PhoneNumberID      string
	WABAID             string
	DisplayPhoneNumber string
	// OnboardedAt starts the number's coexistence: user messages after it open a customer
	// service window.
	OnboardedAt time.Time
	// Relay is true when the number has a relay endpoint: its events go to the outbox.
	Relay bool
}

// Stream names the number's outbox stream and state: "namespace/name".
func (t Target) Stream() string { return t.Namespace + "/" + t.Name }

// Resolver maps what Meta names (a phone number id, a WABA id) to CoexNumbers of the MetaApp
// the webhook came in for.
type Resolver interface {
	ByPhoneNumberID(namespace, app, phoneNumberID string) (Target, bool, error)
	ByWABA(namespace, app, wabaID string) ([]Target, error)
}

// customerServiceWindow is how long a user message lets the business answer freely.
const customerServiceWindow = 24 * time.Hour

// parsedChange is one change of a record, decoded outside the state transaction (in
// parallel with the other records of the batch) by webhook.ParseBody; the transaction only
// de-duplicates and counts.
type parsedChange struct {
	entry *webhook.BodyEntry
	ch    *webhook.BodyChange
}

// parseChanges lists every change of a body.
func parseChanges(b *webhook.Body) []parsedChange {
	var out []parsedChange
	for i := range b.Entries {
		e := &b.Entries[i]
		for j := range e.Changes {
			out = append(out, parsedChange{entry: e, ch: &e.Changes[j]})
		}
	}
	return out
}

// applier applies the changes of one record inside a state transaction.
type applier struct {
	tx       store.Tx
	resolver Resolver
	rec      store.Record
	stats    *dispatchStats
	// unmatched names what no CoexNumber was found for; the record becomes a dead letter.
	unmatched []string
}

// dispatchStats counts what a batch did, for metrics and tests.
type dispatchStats struct {
	changes         map[string]map[string]int // field -> result -> n
	historyMessages int
	events          int
	unsupported     map[string]int // stream -> 131060 seen in this batch
}

func newDispatchStats() *dispatchStats {
	return &dispatchStats{changes: map[string]map[string]int{}, unsupported: map[string]int{}}
}

func (s *dispatchStats) change(field, result string) {
	m := s.changes[field]
	if m == nil {
		m = map[string]int{}
		s.changes[field] = m
	}
	m[result]++
}

// Results of a change, for coex_receiver_changes_total.
const (
	resultApplied   = "applied"
	resultDuplicate = "duplicate"
	resultUnmatched = "unmatched"
	resultMalformed = "malformed"
	resultUnknown   = "unknown_field"
)

func (a *applier) apply(changes []parsedChange) error {
	for i := range changes {
		if err := a.change(&changes[i]); err != nil {
			return err
		}
	}
	return nil
}

func (a *applier) change(pc *parsedChange) error {
	entry, ch := pc.entry, pc.ch
	if ch.Field == webhook.FieldAccountUpdate {
		return a.accountUpdate(entry, ch)
	}
	if !webhook.Decoded(ch.Field) {
		a.stats.change(ch.Field, resultUnknown)
		return nil
	}
	if ch.Malformed {
		a.stats.change(ch.Field, resultMalformed)
		a.unmatched = append(a.unmatched, fmt.Sprintf("%s change without a readable value or phone_number_id", ch.Field))
		return nil
	}
	t, ok, err := a.resolver.ByPhoneNumberID(a.rec.Namespace, a.rec.App, ch.Metadata.PhoneNumberID)
	if err != nil {
		return err
	}
	if !ok {
		a.stats.change(ch.Field, resultUnmatched)
		a.unmatched = append(a.unmatched, fmt.Sprintf("no CoexNumber of MetaApp %s/%s has phoneNumberID %s",
			a.rec.Namespace, a.rec.App, ch.Metadata.PhoneNumberID))
		return nil
	}
	t.WABAID = entry.ID
	n, err := a.tx.Number(t.Stream(), t.UID)
	if err != nil {
		return err
	}
	switch ch.Field {
	case webhook.FieldHistory:
		err = a.history(t, n, ch)
	case webhook.FieldStateSync:
		err = a.contacts(t, n, ch.StateSync)
	case webhook.FieldEchoes:
		err = a.echoes(t, n, ch.Echoes)
	case webhook.FieldMessages:
		err = a.messages(t, n, ch)
	}
	if err == nil {
		a.stats.change(ch.Field, resultApplied)
	}
	return err
}

func (a *applier) history(t Target, n *store.NumberCounts, v *webhook.BodyChange) error {
	now := a.rec.ReceivedAt
	for ci := range v.History {
		c := &v.History[ci]
		if declined(c.Errors) {
			if !n.Declined {
				n.Declined = true
				if n.CompletedAt == nil {
					n.CompletedAt = &now
				}
				ev := event.Event{ID: event.TypeHistoryDecline + ":" + t.PhoneNumberID, Type: event.TypeHistoryDecline}
				if err := a.emit(t, ev); err != nil {
					return err
				}
			}
			continue
		}
		if c.Metadata == nil {
			continue
		}
		phase, order := int64(c.Metadata.Phase), int64(c.Metadata.ChunkOrder)
		if phase < 0 || phase > 2 {
			continue
		}
		if n.HistoryStartedAt == nil {
			n.HistoryStartedAt = &now
		}
		first, err := a.tx.FirstSeen(t.Stream(), fmt.Appendf([]byte("c"), "%d/%d", phase, order))
		if err != nil {
			return err
		}
		if first {
			n.Chunks++
			n.PhaseChunks[phase].Add(order)
			if n.HistoryPhase == nil || int32(phase) > *n.HistoryPhase {
				p := int32(phase)
				n.HistoryPhase = &p
			}
		}
		if p := int32(min(max(c.Metadata.Progress, 0), 100)); p > n.Progress {
			n.Progress = p
		}
		if c.Metadata.Progress >= 100 {
			n.FinalChunkSeen = true
			n.FinalPhase = max(n.FinalPhase, int32(phase))
		}
		for i := range c.Threads {
			if err := a.thread(t, n, &c.Threads[i], phase, order); err != nil {
				return err
			}
		}
	}
	for i := range v.Messages {
		m := &v.Messages[i]
		h, raw := &m.Head, m.Raw
		if !m.OK {
			continue
		}
		first, err := a.tx.FirstSeen(t.Stream(), idKey('H', h.ID))
		if err != nil {
			return err
		}
		if !first {
			continue
		}
		n.MediaFollows++
		if err := a.emit(t, event.Event{ID: event.TypeHistoryMedia + ":" + h.ID, Type: event.TypeHistoryMedia, MessageID: h.ID,
			ThreadID: h.Thread(), Timestamp: int64(h.Timestamp), Data: raw}); err != nil {
			return err
		}
	}
	if n.CompletedAt == nil && historyComplete(n) {
		n.CompletedAt = &now
	}
	return nil
}

func (a *applier) thread(t Target, n *store.NumberCounts, th *webhook.RawThread, phase, order int64) error {
	if th.ID != "" {
		first, err := a.tx.FirstSeen(t.Stream(), idKey('t', th.ID))
		if err != nil {
			return err
		}
		if first {
			n.Threads++
		}
	}
	for i := range th.Messages {
		m := &th.Messages[i]
		h, raw := &m.Head, m.Raw
		if !m.OK {
			continue
		}
		first, err := a.tx.FirstSeen(t.Stream(), idKey('h', h.ID))
		if err != nil {
			return err
		}
		if !first {
			continue
		}
		n.Messages++
		a.stats.historyMessages++
		p, o := phase, order
		if err := a.emit(t, event.Event{ID: event.TypeHistoryMessage + ":" + h.ID, Type: event.TypeHistoryMessage, MessageID: h.ID,
			ThreadID: th.ID, Timestamp: int64(h.Timestamp), HistoryPhase: &p, HistoryChunk: &o, Data: raw}); err != nil {
			return err
		}
	}
	return nil
}

// historyComplete: the chunk with progress 100 has come and no chunk before it is missing:
// every phase up to its own has chunks without a gap (Meta sends an empty chunk for a phase
// with nothing in it). Chunks and phases arrive out of order, so progress 100 alone is not the
// end.
func historyComplete(n *store.NumberCounts) bool {
	if !n.FinalChunkSeen {
		return false
	}
	for p, r := range n.PhaseChunks {
		expected := int32(p) <= n.FinalPhase || r.Count > 0
		if expected && !r.Complete() {
			return false
		}
	}
	return true
}

func declined(errs []webhook.Error) bool {
	for _, e := range errs {
		if e.Code == webhook.CodeHistoryDeclined {
			return true
		}
	}
	return false
}

func (a *applier) contacts(t Target, n *store.NumberCounts, items [][]byte) error {
	for _, raw := range items {
		var it webhook.StateSyncItem
		if json.Unmarshal(raw, &it) != nil || it.Contact.PhoneNumber == "" {
			continue
		}
		id := stableID(it.Action, it.Contact.PhoneNumber, fmt.Sprint(int64(it.Metadata.Timestamp)), it.Contact.FullName)
		first, err := a.tx.FirstSeen(t.Stream(), append([]byte("k"), id...))
		if err != nil {
			return err
		}
		if !first {
			continue
		}
		switch it.Action {
		case webhook.ActionAdd:
			n.ContactsAdded++
		case webhook.ActionRemove:
			n.ContactsRemoved++
		}
		if err := a.emit(t, event.Event{ID: event.TypeContact + ":" + id, Type: event.TypeContact,
			ThreadID: it.Contact.PhoneNumber, Timestamp: int64(it.Metadata.Timestamp), Data: raw}); err != nil {
			return err
		}
	}
	return nil
}

func (a *applier) echoes(t Target, n *store.NumberCounts, items []webhook.RawMessage) error {
	for i := range items {
		m := &items[i]
		h, raw := &m.Head, m.Raw
		if !m.OK {
			continue
		}
		first, err := a.tx.FirstSeen(t.Stream(), idKey('e', h.ID))
		if err != nil {
			return err
		}
		if !first {
			continue
		}
		n.Echoes++
		if ts, ok := unixTime(h.Timestamp); ok && (n.EchoLastAt == nil || ts.After(*n.EchoLastAt)) {
			n.EchoLastAt = &ts
		}
		if err := a.emit(t, event.Event{ID: event.TypeEcho + ":" + h.ID, Type: event.TypeEcho, MessageID: h.ID, ThreadID: h.To,
			Timestamp: int64(h.Timestamp), Data: raw}); err != nil {
			return err
		}
	}
	return nil
}

func (a *applier) messages(t Target, n *store.NumberCounts, v *webhook.BodyChange) error {
	for i := range v.Messages {
		m := &v.Messages[i]
		h, raw := &m.Head, m.Raw
		if !m.OK {
			continue
		}
		first, err := a.tx.FirstSeen(t.Stream(), idKey('i', h.ID))
		if err != nil {
			return err
		}
		if !first {
			continue
		}
		ev := event.Event{ID: event.TypeMessage + ":" + h.ID, Type: event.TypeMessage, MessageID: h.ID, ThreadID: h.From,
			Timestamp: int64(h.Timestamp), Data: raw}
		switch {
		case unsupported(h.Errors) || h.Type == webhook.TypeUnsupported:
			ev.ID, ev.Type = event.TypeUnsupported+":"+h.ID, event.TypeUnsupported
			n.Unsupported++
			if ts, ok := unixTime(h.Timestamp); ok && (n.UnsupportedLastAt == nil || ts.After(*n.UnsupportedLastAt)) {
				n.UnsupportedLastAt = &ts
			}
			a.stats.unsupported[t.Stream()]++
		case h.Type == webhook.TypeEdit:
			ev.ID, ev.Type = event.TypeEdit+":"+h.ID, event.TypeEdit
			if h.Edit != nil {
				ev.OriginalMessageID = h.Edit.OriginalMessageID
			}
		case h.Type == webhook.TypeRevoke:
			ev.ID, ev.Type = event.TypeRevoke+":"+h.ID, event.TypeRevoke
			if h.Revoke != nil {
				ev.OriginalMessageID = h.Revoke.OriginalMessageID
			}
		}
		// A user's message after onboarding opens (or renews) the customer service window.
		if ts, ok := unixTime(h.Timestamp); ok && ev.Type != event.TypeUnsupported && !ts.Before(t.OnboardedAt) {
			closes := ts.Add(customerServiceWindow)
			ev.WindowClosesAt = &closes
		}
		if err := a.emit(t, ev); err != nil {
			return err
		}
	}
	for _, raw := range v.Statuses {
		var st webhook.Status
		if json.Unmarshal(raw, &st) != nil || st.ID == "" {
			continue
		}
		id := st.ID + ":" + st.Status
		first, err := a.tx.FirstSeen(t.Stream(), idKey('s', id))
		if err != nil || !first {
			if err != nil {
				return err
			}
			continue
		}
		if err := a.emit(t, event.Event{ID: event.TypeStatus + ":" + id, Type: event.TypeStatus, MessageID: st.ID,
			ThreadID: st.RecipientID, Timestamp: int64(st.Timestamp), Data: raw}); err != nil {
			return err
		}
	}
	return nil
}

func unsupported(errs []webhook.Error) bool {
	for _, e := range errs {
		if e.Code == webhook.CodeUnsupportedMessage {
			return true
		}
	}
	return false
}

// accountUpdate applies account_update to the numbers it names: by phone number within the
// entry's WABA, or every number of the WABA when Meta names none (ACCOUNT_OFFBOARDED, or the
// waba_info shape).
func (a *applier) accountUpdate(entry *webhook.BodyEntry, ch *webhook.BodyChange) error {
	var v webhook.AccountUpdateValue
	if err := json.Unmarshal(ch.Value, &v); err != nil || v.Event == "" {
		a.stats.change(ch.Field, resultMalformed)
		a.unmatched = append(a.unmatched, "account_update without a readable event")
		return nil
	}
	waba := entry.ID
	if v.WABAInfo != nil && v.WABAInfo.WABAID != "" {
		waba = v.WABAInfo.WABAID
	}
	targets, err := a.resolver.ByWABA(a.rec.Namespace, a.rec.App, waba)
	if err != nil {
		return err
	}
	if phone := digits(v.PhoneNumber); phone != "" {
		var named []Target
		for _, t := range targets {
			if digits(t.DisplayPhoneNumber) == phone {
				named = append(named, t)
			}
		}
		targets = named
	}
	if len(targets) == 0 {
		a.stats.change(ch.Field, resultUnmatched)
		a.unmatched = append(a.unmatched, fmt.Sprintf("no CoexNumber of MetaApp %s/%s in WABA %s matches account_update %s %s",
			a.rec.Namespace, a.rec.App, waba, v.Event, v.PhoneNumber))
		return nil
	}
	at := a.rec.ReceivedAt
	if ts, ok := unixTime(entry.Time); ok {
		at = ts
	}
	rec := store.OffboardingRecord{Event: v.Event, At: at}
	if v.DisconnectionInfo != nil {
		rec.Reason, rec.InitiatedBy = v.DisconnectionInfo.Reason, v.DisconnectionInfo.InitiatedBy
	}
	id := stableID(v.Event, waba, v.PhoneNumber, fmt.Sprint(int64(entry.Time)), rec.Reason)
	for _, t := range targets {
		t.WABAID = waba
		first, err := a.tx.FirstSeen(t.Stream(), append([]byte("a"), id...))
		if err != nil {
			return err
		}
		if !first {
			continue
		}
		n, err := a.tx.Number(t.Stream(), t.UID)
		if err != nil {
			return err
		}
		applyAccountEvent(n, rec)
		if err := a.emit(t, event.Event{ID: event.TypeAccount + ":" + id, Type: event.TypeAccount, Timestamp: at.Unix(),
			Data: ch.Value}); err != nil {
			return err
		}
	}
	a.stats.change(ch.Field, resultApplied)
	return nil
}

// applyAccountEvent records an offboarding event unless a newer one is already recorded:
// Meta's retries may deliver a disconnection after the reconnection that followed it.
func applyAccountEvent(n *store.NumberCounts, rec store.OffboardingRecord) {
	if !offboardingEvent(rec.Event) {
		return
	}
	if n.Offboarding != nil && rec.At.Before(n.Offboarding.At) {
		return
	}
	wasOff := n.Offboarding != nil && isOffboarded(n.Offboarding.Event)
	if wasOff != isOffboarded(rec.Event) || n.OffboardedSince == nil {
		at := rec.At
		n.OffboardedSince = &at
	}
	n.Offboarding = &rec
}

func offboardingEvent(e string) bool {
	return e == webhook.EventPartnerRemoved || e == webhook.EventAccountOffboarded || e == webhook.EventAccountReconnected
}

func isOffboarded(e string) bool {
	return e == webhook.EventPartnerRemoved || e == webhook.EventAccountOffboarded
}

func (a *applier) emit(t Target, ev event.Event) error {
	if !t.Relay {
		return nil
	}
	ev.Namespace, ev.Number, ev.PhoneNumberID, ev.WABAID = t.Namespace, t.Name, t.PhoneNumberID, t.WABAID
	a.stats.events++
	return a.tx.Emit(t.Stream(), ev.AppendJSON(make([]byte, 0, 256+len(ev.Data))))
}

// idKey is a compact de-duplication key: a kind byte and a 128-bit hash of the id.
func idKey(kind byte, id string) []byte {
	f := fnv.New128a()
	f.Write([]byte(id))
	return f.Sum([]byte{kind})
}

// stableID derives an event id from the fields that identify a piece of data without an id
// of its own (a contact change, an account event).
func stableID(parts ...string) string {
	f := fnv.New128a()
	for _, p := range parts {
		f.Write([]byte(p))
		f.Write([]byte{0})
	}
	return hex.EncodeToString(f.Sum(nil))
}

// Meta's timestamps are trusted only within this range: a signed webhook with a timestamp in
// the year 40,000 must not stop the dispatcher when its counts are saved as JSON.
var (
	earliestTimestamp = time.Date(2009, 1, 1, 0, 0, 0, 0, time.UTC).Unix() // WhatsApp's founding
	latestTimestamp   = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
)

// unixTime converts a Meta timestamp; ok is false when it is absent or out of range.
func unixTime(ts webhook.FlexInt) (time.Time, bool) {
	if int64(ts) < earliestTimestamp || int64(ts) > latestTimestamp {
		return time.Time{}, false
	}
	return time.Unix(int64(ts), 0).UTC(), true
}

func digits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}
