// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graphsim

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/coex-operator/coex-operator/internal/webhook"
)

// TestEveryWebhookDecodesStrictly sends every kind of webhook the simulator knows and reads
// each strictly into the webhook package's types, after checking its signature.
func TestEveryWebhookDecodesStrictly(t *testing.T) {
	e := newEnv(t, Options{}, Scenario{Threads: 8, Messages: 300, MediaShare: 0.3, ContactsAdded: 12,
		ContactsRemoved: 4, ContactsPerWebhook: 5, MessagesPerChunk: 50})
	for _, typ := range []string{SyncContacts, SyncHistory} {
		if r := e.requestSync(tPhone, typ, e.token); r.status != http.StatusOK {
			t.Fatalf("%s: %s", typ, r.raw)
		}
	}
	e.waitIdle()
	inbound, err := e.sim.Trigger(Event{Kind: EventInbound, PhoneNumberID: tPhone, Text: "hi"})
	must(t, err)
	e.waitIdle() // like every trigger below: delivered before the next one is sent
	events := []Event{
		{Kind: EventEcho, Text: "sent from the app"},
		{Kind: EventEdit, OriginalMessageID: inbound, Text: "hi!"},
		{Kind: EventRevoke, OriginalMessageID: inbound},
		{Kind: EventUnsupported},
		{Kind: EventAccountUpdate, AccountEvent: webhook.EventPartnerRemoved, Reason: "PRIMARY_INACTIVITY", InitiatedBy: "SYSTEM"},
		{Kind: EventAccountUpdate, Variant: VariantWABAInfo},
		{Kind: EventAccountUpdate, Variant: VariantMinimal, TimeFormat: "string"},
		{Kind: EventAccountUpdate, AccountEvent: webhook.EventAccountOffboarded},
		{Kind: EventAccountUpdate, AccountEvent: webhook.EventAccountReconnected, TimeFormat: "number"},
	}
	for _, ev := range events {
		ev.PhoneNumberID = tPhone
		if _, err := e.sim.Trigger(ev); err != nil {
			t.Fatalf("%+v: %v", ev, err)
		}
		e.waitIdle() // one at a time, so arrival order is trigger order
	}
	all := decodeAll(t, e.rcv.delivered())
	byField := map[string][]decoded{}
	for _, d := range all {
		byField[d.field] = append(byField[d.field], d)
		if d.env.Entry[0].ID != tWABA {
			t.Fatalf("entry id %q", d.env.Entry[0].ID)
		}
		if d.field != webhook.FieldAccountUpdate && d.rawTime[0] == '"' {
			t.Fatalf("%s: entry.time should be a number: %s", d.field, d.rawTime)
		}
	}
	tot := e.num.Totals
	if len(byField[webhook.FieldStateSync]) != tot.ContactWebhooks || len(byField[webhook.FieldHistory]) != tot.HistoryWebhooks {
		t.Fatalf("webhooks: %d contacts (want %d), %d history (want %d)", len(byField[webhook.FieldStateSync]),
			tot.ContactWebhooks, len(byField[webhook.FieldHistory]), tot.HistoryWebhooks)
	}

	// Contacts: adds with names, then removes without; timestamps quoted.
	adds, removes := 0, 0
	for _, d := range byField[webhook.FieldStateSync] {
		if d.stateSync.Metadata.PhoneNumberID != tPhone || d.stateSync.Metadata.DisplayPhoneNumber == "" {
			t.Fatalf("metadata %+v", d.stateSync.Metadata)
		}
		for _, it := range d.stateSync.StateSync {
			switch {
			case it.Type != "contact" || it.Contact.PhoneNumber == "" || it.Metadata.Timestamp == 0:
				t.Fatalf("item %+v", it)
			case it.Action == webhook.ActionAdd && it.Contact.FullName != "" && it.Contact.FirstName != "":
				adds++
			case it.Action == webhook.ActionRemove && it.Contact.FullName == "" && it.Contact.FirstName == "":
				removes++
			default:
				t.Fatalf("item %+v", it)
			}
		}
	}
	if adds != 12 || removes != 4 {
		t.Fatalf("contacts: %d added, %d removed", adds, removes)
	}
	first := e.rcv.delivered()[0].body
	if !strings.Contains(string(first), `"timestamp":"`) {
		t.Fatalf("contact timestamps should be quoted strings: %.400s", first)
	}

	// The on-demand ones, in trigger order after the syncs.
	rest := all[len(all)-len(events)-1:]
	msg := func(i int) webhook.Message {
		d := rest[i]
		if d.messages == nil || len(d.messages.Messages) != 1 || len(d.messages.Contacts) != 1 ||
			d.messages.Contacts[0].WaID != e.num.FirstUser || d.messages.Metadata.PhoneNumberID != tPhone {
			t.Fatalf("messages webhook %d: %+v", i, d)
		}
		return d.messages.Messages[0]
	}
	if m := msg(0); m.Type != webhook.TypeText || m.Text.Body != "hi" || m.ID != inbound || m.From != e.num.FirstUser || m.Timestamp == 0 {
		t.Fatalf("inbound %+v", m)
	}
	echo := rest[1].echoes
	if echo == nil || len(echo.MessageEchoes) != 1 || echo.MessageEchoes[0].To != e.num.FirstUser ||
		"+"+echo.MessageEchoes[0].From != e.num.DisplayPhoneNumber || echo.MessageEchoes[0].Text.Body != "sent from the app" {
		t.Fatalf("echo %+v", rest[1])
	}
	if m := msg(2); m.Type != webhook.TypeEdit || m.Edit.OriginalMessageID != inbound || m.Edit.Message.Text.Body != "hi!" {
		t.Fatalf("edit %+v", m)
	}
	if m := msg(3); m.Type != webhook.TypeRevoke || m.Revoke.OriginalMessageID != inbound {
		t.Fatalf("revoke %+v", m)
	}
	if m := msg(4); m.Type != webhook.TypeUnsupported || len(m.Errors) != 1 || m.Errors[0].Code != webhook.CodeUnsupportedMessage {
		t.Fatalf("unsupported %+v", m)
	}
	type want struct {
		event, phone, reason, by, wabaID string
		quoted                           bool
	}
	display := strings.TrimPrefix(e.num.DisplayPhoneNumber, "+")
	wants := []want{
		{webhook.EventPartnerRemoved, display, "PRIMARY_INACTIVITY", "SYSTEM", "", false},
		{webhook.EventPartnerRemoved, "", "ACCOUNT_DISCONNECTED", "USER", tWABA, false},
		{webhook.EventPartnerRemoved, display, "", "", "", true},
		{webhook.EventAccountOffboarded, "", "", "", "", true},
		{webhook.EventAccountReconnected, "", "", "", "", false},
	}
	for i, w := range wants {
		d := rest[5+i]
		au := d.account
		if au == nil || au.Event != w.event || au.PhoneNumber != w.phone || (d.rawTime[0] == '"') != w.quoted ||
			d.env.Entry[0].Time == 0 {
			t.Fatalf("account_update %d: %+v time %s", i, au, d.rawTime)
		}
		if (w.reason == "") != (au.DisconnectionInfo == nil) ||
			(au.DisconnectionInfo != nil && (au.DisconnectionInfo.Reason != w.reason || au.DisconnectionInfo.InitiatedBy != w.by)) {
			t.Fatalf("account_update %d disconnection_info: %+v", i, au.DisconnectionInfo)
		}
		if (w.wabaID == "") != (au.WABAInfo == nil) || (au.WABAInfo != nil && (au.WABAInfo.WABAID != w.wabaID || au.WABAInfo.OwnerBusinessID == "")) {
			t.Fatalf("account_update %d waba_info: %+v", i, au.WABAInfo)
		}
		if strings.Contains(string(e.rcv.delivered()[len(all)-len(wants)+i].body), "messaging_product") {
			t.Fatal("account_update carries no messaging_product")
		}
	}
}

func TestDeclinedHistoryYieldsOnlyTheErrorWebhook(t *testing.T) {
	e := newEnv(t, Options{}, Scenario{Preset: "small", HistoryDeclined: true})
	if e.num.Totals.HistoryWebhooks != 1 || !e.num.Totals.HistoryDeclined || e.num.Totals.Messages != 0 {
		t.Fatalf("totals %+v", e.num.Totals)
	}
	if r := e.requestSync(tPhone, SyncHistory, e.token); r.status != http.StatusOK {
		t.Fatalf("request: %s", r.raw)
	}
	e.waitIdle()
	posts := e.rcv.delivered()
	if len(posts) != 1 {
		t.Fatalf("%d webhooks, want 1", len(posts))
	}
	d := decodeWebhook(t, posts[0])
	h := d.history
	if d.field != webhook.FieldHistory || len(h.History) != 1 || len(h.Messages) != 0 {
		t.Fatalf("declined: %s", posts[0].body)
	}
	c := h.History[0]
	if c.Metadata != nil || c.Threads != nil || len(c.Errors) != 1 || c.Errors[0].Code != webhook.CodeHistoryDeclined ||
		c.Errors[0].Title == "" || c.Errors[0].Message == "" || c.Errors[0].ErrorData == nil || c.Errors[0].ErrorData.Details == "" {
		t.Fatalf("declined chunk: %s", posts[0].body)
	}
	if strings.Contains(string(posts[0].body), "threads") {
		t.Fatalf("declined shape has no threads: %s", posts[0].body)
	}
	// Contacts are still shared.
	if r := e.requestSync(tPhone, SyncContacts, e.token); r.status != http.StatusOK {
		t.Fatalf("contacts: %s", r.raw)
	}
	e.waitIdle()
	if got := len(e.rcv.delivered()); got != 1+e.num.Totals.ContactWebhooks {
		t.Fatalf("%d webhooks after contacts", got)
	}
}

// TestOverrideCallbackRouting: the WABA's override callback gets the number's webhooks,
// except account_update, which always goes to the app's URL.
func TestOverrideCallbackRouting(t *testing.T) {
	e := newEnv(t, Options{}, small())
	override := newReceiver(t, tSecret)
	r := e.call(http.MethodPost, "/v23.0/"+tWABA+"/subscribed_apps", e.token,
		map[string]string{"override_callback_uri": override.URL + "/waba", "verify_token": tVerify})
	if r.status != http.StatusOK {
		t.Fatalf("subscribe: %s", r.raw)
	}
	_, err := e.sim.Trigger(Event{Kind: EventEcho, PhoneNumberID: tPhone})
	must(t, err)
	_, err = e.sim.Trigger(Event{Kind: EventAccountUpdate, PhoneNumberID: tPhone})
	must(t, err)
	e.waitIdle()
	o, a := decodeAll(t, override.delivered()), decodeAll(t, e.rcv.delivered())
	if len(o) != 1 || o[0].field != webhook.FieldEchoes || len(a) != 1 || a[0].field != webhook.FieldAccountUpdate {
		t.Fatalf("override got %d, app got %d", len(o), len(a))
	}
}

// TestHistoryMessageShape checks one history body against Meta's example byte-level quirks.
func TestHistoryMessageShape(t *testing.T) {
	e := newEnv(t, Options{}, Scenario{Threads: 3, Messages: 40, MediaShare: 0.5, MessagesPerChunk: 100})
	e.requestSync(tPhone, SyncHistory, e.token)
	e.waitIdle()
	for _, p := range e.rcv.delivered() {
		var raw struct {
			Entry []struct {
				Changes []struct {
					Value struct {
						History []struct {
							Threads []struct {
								Messages []map[string]json.RawMessage `json:"messages"`
							} `json:"threads"`
						} `json:"history"`
						Messages []map[string]json.RawMessage `json:"messages"`
					} `json:"value"`
				} `json:"changes"`
			} `json:"entry"`
		}
		must(t, json.Unmarshal(p.body, &raw))
		v := raw.Entry[0].Changes[0].Value
		msgs := v.Messages
		for _, c := range v.History {
			for _, th := range c.Threads {
				msgs = append(msgs, th.Messages...)
			}
		}
		for _, m := range msgs {
			if ts := m["timestamp"]; len(ts) == 0 || ts[0] != '"' {
				t.Fatalf("timestamp not a quoted string: %v", m)
			}
			var typ string
			must(t, json.Unmarshal(m["type"], &typ))
			if typ == webhook.TypeMediaPlaceholder && len(m) != 5 && len(m) != 6 { // from, to?, id, timestamp, type, history_context
				t.Fatalf("placeholder carries content: %v", m)
			}
			if typ != webhook.TypeMediaPlaceholder && m[typ] == nil {
				t.Fatalf("type %s without its content: %v", typ, m)
			}
		}
	}
}
