// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

// Package event is the receiver's contract with the tenants: the JSON document of one relayed
// event, its types, and its encoding.
//
// It is a package of its own, below the others, because the document has two sides that
// must not depend on each other: the dispatcher (process) writes events into the outbox, and
// a tenant's endpoint (any Go consumer, and test/receiver's sink) reads them without wanting
// the dispatcher, its webhook parsing or its store. The relay in between ships the stored
// bytes as they are and never imports it. It imports nothing of the receiver, so nothing can
// import it into a cycle. How a relay POST is signed is the relay's (relay.Sign,
// relay.Verify): the signature covers a POST of several events, not an event.
package event

import (
	"encoding/json"
	"time"
)

// Event types (Event.Type): what the receiver relays to the tenant's endpoint, one per piece
// of Meta data.
const (
	TypeContact        = "contact"         // smb_app_state_sync item: add (or edit) or remove
	TypeHistoryMessage = "history.message" // a message from a history chunk
	TypeHistoryMedia   = "history.media"   // recent media following its media_placeholder
	TypeEcho           = "echo"            // sent by the business from the WhatsApp Business app
	TypeMessage        = "message"         // inbound user message
	TypeEdit           = "edit"            // a user edited an earlier message
	TypeRevoke         = "revoke"          // a user deleted an earlier message
	TypeUnsupported    = "unsupported"     // 131060: the business should check the app
	TypeStatus         = "status"          // delivery status of a message the business sent
	TypeAccount        = "account"         // account_update: offboarded, reconnected
	TypeHistoryDecline = "history.declined"
)

// Event is one normalized piece of Meta data, relayed to the tenant at least once, in order per
// number. ID is stable: the same Meta data always gets the same id, however often Meta delivers
// it, so the tenant de-duplicates on it.
type Event struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	// Namespace and Number name the CoexNumber.
	Namespace     string `json:"namespace"`
	Number        string `json:"number"`
	PhoneNumberID string `json:"phoneNumberID,omitempty"`
	WABAID        string `json:"wabaID,omitempty"`
	// Timestamp is Meta's, in Unix seconds.
	Timestamp int64 `json:"timestamp,omitempty"`
	// MessageID is the message the event is about (for edit and revoke, the edit's own id;
	// OriginalMessageID the edited or revoked one).
	MessageID         string `json:"messageID,omitempty"`
	OriginalMessageID string `json:"originalMessageID,omitempty"`
	// ThreadID is the user's WhatsApp id: the chat the message belongs to.
	ThreadID string `json:"threadID,omitempty"`
	// History places a history message: phase 0-2 and chunk order.
	HistoryPhase *int64 `json:"historyPhase,omitempty"`
	HistoryChunk *int64 `json:"historyChunk,omitempty"`
	// WindowClosesAt is set on a user message received after onboarding: until then the
	// business may answer freely (the 24 h customer service window). History messages and
	// echoes never open one.
	WindowClosesAt *time.Time `json:"windowClosesAt,omitempty"`
	// Data is Meta's object as received: the message, contact item, status or account_update
	// value.
	Data json.RawMessage `json:"data,omitempty"`
}
