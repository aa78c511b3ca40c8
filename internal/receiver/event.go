// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package receiver

import (
	"context"
	"encoding/json"
	"time"

	"github.com/coex-operator/coex-operator/internal/receiver/store"
)

// Event types: what the receiver relays to the tenant's endpoint, one per piece of Meta data.
const (
	EventContact        = "contact"         // smb_app_state_sync item: add (or edit) or remove
	EventHistoryMessage = "history.message" // a message from a history chunk
	EventHistoryMedia   = "history.media"   // recent media following its media_placeholder
	EventEcho           = "echo"            // sent by the business from the WhatsApp Business app
	EventMessage        = "message"         // inbound user message
	EventEdit           = "edit"            // a user edited an earlier message
	EventRevoke         = "revoke"          // a user deleted an earlier message
	EventUnsupported    = "unsupported"     // 131060: the business should check the app
	EventStatus         = "status"          // delivery status of a message the business sent
	EventAccount        = "account"         // account_update: offboarded, reconnected
	EventHistoryDecline = "history.declined"
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

// Outbox is what the relay drains: store.Outbox. Each stream is relayed under a lease, so
// with several receivers on one store a stream is relayed in order by one at a time.
type Outbox interface {
	Streams(ctx context.Context) ([]string, error)
	Lease(ctx context.Context, stream string) (store.Lease, bool, error)
	Emitted() <-chan struct{}
}

// Endpoint is where a stream's events go and the key that signs them.
type Endpoint struct {
	URL    string
	Secret []byte
}

// EndpointFunc resolves a stream's endpoint from the CoexNumber's spec.relay, or its
// MetaApp's. ok is false when none is configured (or its Secret cannot be read yet).
type EndpointFunc func(stream string) (ep Endpoint, ok bool, err error)
