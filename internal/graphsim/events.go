// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graphsim

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"

	"github.com/coex-operator/coex-operator/internal/webhook"
)

// EventKind is a webhook the simulator sends on demand.
type EventKind string

// On-demand webhooks.
const (
	// EventEcho: the business sent a message from the WhatsApp Business app
	// (smb_message_echoes).
	EventEcho EventKind = "echo"
	// EventInbound: a user wrote to the business (messages, type text).
	EventInbound EventKind = "inbound"
	// EventEdit and EventRevoke: a user edited or deleted an earlier message (messages).
	EventEdit   EventKind = "edit"
	EventRevoke EventKind = "revoke"
	// EventUnsupported: a message the Cloud API cannot show, error 131060 (messages).
	EventUnsupported EventKind = "unsupported"
	// EventAccountUpdate: PARTNER_REMOVED, ACCOUNT_OFFBOARDED or ACCOUNT_RECONNECTED.
	EventAccountUpdate EventKind = "account_update"
)

// account_update shape variants of PARTNER_REMOVED.
const (
	// VariantPhoneNumber: phone_number and disconnection_info (the default).
	VariantPhoneNumber = "phone_number"
	// VariantWABAInfo: waba_info{waba_id, owner_business_id} instead of phone_number.
	VariantWABAInfo = "waba_info"
	// VariantMinimal: phone_number only, as in Meta's reference example.
	VariantMinimal = "minimal"
)

// Event asks for one on-demand webhook about a number.
type Event struct {
	Kind          EventKind `json:"kind"`
	PhoneNumberID string    `json:"phone_number_id,omitempty"`
	// User is the WhatsApp user's id; default the number's first thread's user.
	User string `json:"user,omitempty"`
	// Text is the message (or new) text; a default is made up.
	Text string `json:"text,omitempty"`
	// OriginalMessageID is the message an edit or revoke is about (required for those).
	OriginalMessageID string `json:"original_message_id,omitempty"`

	// AccountEvent is the account_update event (default PARTNER_REMOVED).
	AccountEvent string `json:"event,omitempty"`
	// Variant shapes PARTNER_REMOVED (VariantPhoneNumber, VariantWABAInfo, VariantMinimal).
	Variant string `json:"variant,omitempty"`
	// Reason and InitiatedBy fill disconnection_info (defaults ACCOUNT_DISCONNECTED, USER).
	Reason      string `json:"reason,omitempty"`
	InitiatedBy string `json:"initiated_by,omitempty"`
	// TimeFormat writes entry.time as "number" or "string"; Meta sends both. Default: a
	// number for PARTNER_REMOVED and messages, a string for ACCOUNT_OFFBOARDED and
	// ACCOUNT_RECONNECTED (as their reference syntax shows).
	TimeFormat string `json:"time_format,omitempty"`
}

// Trigger sends the webhook e describes and returns the new message's id (empty for
// account_update). It returns once the webhook is queued; WaitIdle waits for delivery.
func (s *Sim) Trigger(e Event) (string, error) {
	s.mu.Lock()
	n := s.numbers[e.PhoneNumberID]
	var v numberView
	if n != nil {
		v = s.viewLocked(n)
		if e.User == "" {
			e.User = v.gen.userWaID(0)
		}
	}
	s.mu.Unlock()
	if n == nil {
		return "", fmt.Errorf("%w: number %s", ErrNotFound, e.PhoneNumberID)
	}
	tf, err := parseTimeFormat(e.TimeFormat)
	if err != nil {
		return "", err
	}
	now := unixString(s.clock.Now().Unix())
	id := s.eventMessageID()
	msg := wireMessage{From: e.User, ID: id, Timestamp: now}
	field := webhook.FieldMessages
	var value any
	switch e.Kind {
	case EventEcho:
		msg.From, msg.To = v.gen.r.display, e.User
		msg.Type, msg.Text = webhook.TypeText, &webhook.Text{Body: orDefault(e.Text, "Sent from the WhatsApp Business app")}
		field = webhook.FieldEchoes
		value = wireEchoesValue{MessagingProduct: "whatsapp", Metadata: v.metadata(), MessageEchoes: []wireMessage{msg}}
	case EventInbound:
		msg.Type, msg.Text = webhook.TypeText, &webhook.Text{Body: orDefault(e.Text, "Hello! Are you open today?")}
		value = s.messagesValue(v, e.User, msg)
	case EventEdit, EventRevoke:
		if e.OriginalMessageID == "" {
			return "", fmt.Errorf("graphsim: %s needs original_message_id", e.Kind)
		}
		if e.Kind == EventEdit {
			msg.Type = webhook.TypeEdit
			msg.Edit = &wireEdit{OriginalMessageID: e.OriginalMessageID, Message: wireMessage{
				Type: webhook.TypeText, Text: &webhook.Text{Body: orDefault(e.Text, "(edited) Hello! Are you open today?")},
			}}
		} else {
			msg.Type, msg.Revoke = webhook.TypeRevoke, &webhook.Revoke{OriginalMessageID: e.OriginalMessageID}
		}
		value = s.messagesValue(v, e.User, msg)
	case EventUnsupported:
		msg.Type = webhook.TypeUnsupported
		msg.Errors = []webhook.Error{{
			Code:      webhook.CodeUnsupportedMessage,
			Title:     "Message type is not supported on the Cloud API for this account",
			Message:   "Message type is not supported on the Cloud API for this account",
			ErrorData: &webhook.ErrorData{Details: "Check the WhatsApp Business app for this message."},
		}}
		value = s.messagesValue(v, e.User, msg)
	case EventAccountUpdate:
		au, deftf, err := accountUpdate(e, v)
		if err != nil {
			return "", err
		}
		if e.TimeFormat == "" {
			tf = deftf
		}
		return "", s.emit(s.ctx, v.wabaID, webhook.FieldAccountUpdate, tf, au, nil)
	default:
		return "", fmt.Errorf("graphsim: unknown event kind %q", e.Kind)
	}
	return id, s.emit(s.ctx, v.wabaID, field, tf, value, nil)
}

func (s *Sim) messagesValue(v numberView, user string, msg wireMessage) wireMessagesValue {
	c := webhook.UserContact{WaID: user}
	c.Profile.Name = firstNames[strHash(user)%uint64(len(firstNames))]
	return wireMessagesValue{MessagingProduct: "whatsapp", Metadata: v.metadata(),
		Contacts: []webhook.UserContact{c}, Messages: []wireMessage{msg}}
}

// accountUpdate builds the account_update value and the entry.time format it comes with.
func accountUpdate(e Event, v numberView) (webhook.AccountUpdateValue, timeFormat, error) {
	ev := orDefault(e.AccountEvent, webhook.EventPartnerRemoved)
	switch ev {
	case webhook.EventAccountOffboarded, webhook.EventAccountReconnected:
		return webhook.AccountUpdateValue{Event: ev}, timeString, nil
	case webhook.EventPartnerRemoved:
	default:
		return webhook.AccountUpdateValue{}, 0, fmt.Errorf("graphsim: unknown account_update event %q", ev)
	}
	au := webhook.AccountUpdateValue{Event: ev}
	info := &webhook.DisconnectionInfo{
		Reason: orDefault(e.Reason, "ACCOUNT_DISCONNECTED"), InitiatedBy: orDefault(e.InitiatedBy, "USER"),
	}
	switch orDefault(e.Variant, VariantPhoneNumber) {
	case VariantPhoneNumber:
		au.PhoneNumber, au.DisconnectionInfo = v.gen.r.display, info
	case VariantWABAInfo:
		au.WABAInfo = &webhook.WABAInfo{WABAID: v.wabaID, OwnerBusinessID: v.ownerBusinessID}
		au.DisconnectionInfo = info
	case VariantMinimal:
		au.PhoneNumber = v.gen.r.display
	default:
		return au, 0, fmt.Errorf("graphsim: unknown account_update variant %q", e.Variant)
	}
	return au, timeNumber, nil
}

func parseTimeFormat(s string) (timeFormat, error) {
	switch s {
	case "", "number":
		return timeNumber, nil
	case "string":
		return timeString, nil
	}
	return 0, fmt.Errorf("graphsim: time_format must be \"number\" or \"string\"")
}

// eventMessageID is a unique wamid for an on-demand message.
func (s *Sim) eventMessageID() string {
	n, h := s.ids.next()
	var b [8 + binary.MaxVarintLen64]byte
	binary.BigEndian.PutUint64(b[:8], h)
	k := 8 + binary.PutUvarint(b[8:], n)
	return "wamid.HBgM" + base64.StdEncoding.EncodeToString(b[:k])
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
