// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package webhook

// The shapes ParseBody produces: what the receiver reads of a webhook. Messages stay raw (they
// are relayed as Meta sent them, whatever their type) with only their head decoded.

// Body is a webhook body as ParseBody reads it.
type Body struct {
	Object  string
	Entries []BodyEntry
}

// BodyEntry is one WABA's changes.
type BodyEntry struct {
	ID      string
	Time    FlexInt
	Changes []BodyChange
}

// BodyChange is one change. Value is its raw value (a sub-slice of the body), for the fields
// ParseBody does not decode (account_update, and fields it does not know).
//
// For history, messages, smb_message_echoes and smb_app_state_sync the value is decoded too:
// Metadata and the lists of the field's shape. Malformed is true when it is not that shape
// (not an object, or a member of the wrong type, as encoding/json would refuse it) or names
// no phone_number_id; one unreadable message only makes that message's OK false.
type BodyChange struct {
	Field     string
	Value     []byte
	Metadata  Metadata
	Malformed bool

	History   []RawChunk   // history: chunks
	Messages  []RawMessage // history: media follow-ups; messages: inbound messages
	Echoes    []RawMessage // smb_message_echoes
	Statuses  [][]byte     // messages: raw statuses
	StateSync [][]byte     // smb_app_state_sync: raw items
}

// Decoded reports whether ParseBody decodes the field's value (see BodyChange).
func Decoded(field string) bool {
	switch field {
	case FieldHistory, FieldMessages, FieldEchoes, FieldStateSync:
		return true
	}
	return false
}

// RawChunk is a history chunk.
type RawChunk struct {
	Metadata *ChunkMetadata
	Threads  []RawThread
	Errors   []Error
}

// RawThread is one chat of a history chunk.
type RawThread struct {
	ID       string
	Messages []RawMessage
}

// RawMessage is a message as Meta sent it (Raw, a sub-slice of the body) with its head
// decoded. OK is false when the head is unreadable or has no id: nothing identifies it.
type RawMessage struct {
	Raw  []byte
	Head MessageHead
	OK   bool
}

// MessageHead is what the receiver reads of a message.
type MessageHead struct {
	From      string
	To        string
	ID        string
	Timestamp FlexInt
	Type      string
	Edit      *OriginalMessage
	Revoke    *OriginalMessage
	Errors    []Error
}

// OriginalMessage names the message an edit or a revoke is about.
type OriginalMessage struct {
	OriginalMessageID string `json:"original_message_id"`
}

// Thread is the user side of a message: the recipient of what the business sent, the sender
// otherwise.
func (h *MessageHead) Thread() string {
	if h.To != "" {
		return h.To
	}
	return h.From
}
