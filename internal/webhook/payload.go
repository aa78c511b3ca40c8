// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

// Package webhook holds the shapes of the webhooks Meta sends for coexistence numbers
// (../shared/META_API.md), their X-Hub-Signature-256 signature, and nothing of Kubernetes: the
// simulator uses it to emit webhooks, the receiver to check and read them.
//
// The types are lenient where Meta is inconsistent: timestamps arrive as numbers or as quoted
// strings (FlexInt), and unknown fields are ignored.
package webhook

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// ObjectWABA is the envelope's object for every WhatsApp Business Account webhook.
const ObjectWABA = "whatsapp_business_account"

// Webhook fields a coexistence number needs.
const (
	FieldMessages      = "messages"
	FieldEchoes        = "smb_message_echoes"
	FieldStateSync     = "smb_app_state_sync"
	FieldHistory       = "history"
	FieldAccountUpdate = "account_update"
)

// Codes Meta sends in webhook errors.
const (
	// CodeHistoryDeclined: the business chose not to share its chat history.
	CodeHistoryDeclined = 2593109
	// CodeUnsupportedMessage: a message the Cloud API cannot show (from an ad, an unsupported
	// companion device); the business should check the WhatsApp Business app.
	CodeUnsupportedMessage = 131060
)

// Envelope is the body of every webhook POST.
type Envelope struct {
	Object string  `json:"object"`
	Entry  []Entry `json:"entry"`
}

// Entry is one WABA's changes.
type Entry struct {
	// ID is the WABA id.
	ID string `json:"id"`
	// Time is when Meta sent the webhook; a number or a quoted string.
	Time    FlexInt  `json:"time,omitempty"`
	Changes []Change `json:"changes"`
}

// Change is one field's value; Value's shape depends on Field.
type Change struct {
	Field string          `json:"field"`
	Value json.RawMessage `json:"value"`
}

// NewChange encodes value as the change of field.
func NewChange(field string, value any) (Change, error) {
	raw, err := json.Marshal(value)
	return Change{Field: field, Value: raw}, err
}

// Metadata names the business number a change is about. Absent on account_update.
type Metadata struct {
	DisplayPhoneNumber string `json:"display_phone_number,omitempty"`
	PhoneNumberID      string `json:"phone_number_id"`
}

// HistoryValue is a history change: chunks of threads (History), or, for media sent in the
// last 14 days, a later webhook whose value has Messages instead.
type HistoryValue struct {
	MessagingProduct string         `json:"messaging_product,omitempty"`
	Metadata         Metadata       `json:"metadata"`
	History          []HistoryChunk `json:"history,omitempty"`
	Messages         []Message      `json:"messages,omitempty"`
}

// HistoryChunk is one chunk of one phase, or, when the business declined, only Errors.
type HistoryChunk struct {
	Metadata *ChunkMetadata `json:"metadata,omitempty"`
	Threads  []Thread       `json:"threads"`
	Errors   []Error        `json:"errors,omitempty"`
}

// MarshalJSON writes "threads": [] for an empty chunk (Meta's last chunk may be one) and no
// threads at all beside errors (the declined shape).
func (c HistoryChunk) MarshalJSON() ([]byte, error) {
	type plain struct {
		Metadata *ChunkMetadata `json:"metadata,omitempty"`
		Threads  *[]Thread      `json:"threads,omitempty"`
		Errors   []Error        `json:"errors,omitempty"`
	}
	p := plain{Metadata: c.Metadata, Errors: c.Errors}
	if len(c.Errors) == 0 {
		threads := c.Threads
		if threads == nil {
			threads = []Thread{}
		}
		p.Threads = &threads
	}
	return json.Marshal(p)
}

// ChunkMetadata places a chunk: phase 0 (day 0-1), 1 (day 1-90) or 2 (day 90-180); its order
// within the phase (chunks may arrive out of order); and progress, 100 when history is done.
type ChunkMetadata struct {
	Phase      FlexInt `json:"phase"`
	ChunkOrder FlexInt `json:"chunk_order"`
	Progress   FlexInt `json:"progress"`
}

// Thread is one chat; ID is the user's WhatsApp id. Group chats never come.
type Thread struct {
	ID       string    `json:"id"`
	Messages []Message `json:"messages"`
}

// Message is a WhatsApp message as it appears in history, echoes and messages webhooks. Only
// the field named by Type holds content; media_placeholder has none.
type Message struct {
	From      string  `json:"from"`
	To        string  `json:"to,omitempty"` // business-sent messages only
	ID        string  `json:"id"`
	Timestamp FlexInt `json:"timestamp"`
	Type      string  `json:"type"`

	Context  *MessageContext `json:"context,omitempty"`
	Text     *Text           `json:"text,omitempty"`
	Image    *Media          `json:"image,omitempty"`
	Video    *Media          `json:"video,omitempty"`
	Audio    *Media          `json:"audio,omitempty"`
	Document *Media          `json:"document,omitempty"`
	Sticker  *Media          `json:"sticker,omitempty"`
	Edit     *Edit           `json:"edit,omitempty"`
	Revoke   *Revoke         `json:"revoke,omitempty"`
	Errors   []Error         `json:"errors,omitempty"` // type "unsupported": 131060

	HistoryContext *HistoryContext `json:"history_context,omitempty"`
}

// Message types with a meaning of their own here.
const (
	TypeText             = "text"
	TypeImage            = "image"
	TypeMediaPlaceholder = "media_placeholder"
	TypeEdit             = "edit"
	TypeRevoke           = "revoke"
	TypeUnsupported      = "unsupported"
)

// MessageContext points at the message replied to.
type MessageContext struct {
	ID   string `json:"id,omitempty"`
	From string `json:"from,omitempty"`
}

// Text is a text message's content.
type Text struct {
	Body string `json:"body"`
}

// Media is an image, video, audio, document or sticker.
type Media struct {
	ID       string `json:"id,omitempty"`
	MimeType string `json:"mime_type,omitempty"`
	SHA256   string `json:"sha256,omitempty"`
	Caption  string `json:"caption,omitempty"`
	URL      string `json:"url,omitempty"`
}

// Edit replaces an earlier message's content.
type Edit struct {
	OriginalMessageID string  `json:"original_message_id"`
	Message           Message `json:"message"`
}

// Revoke deletes an earlier message.
type Revoke struct {
	OriginalMessageID string `json:"original_message_id"`
}

// HistoryContext is a history message's delivery status (READ, DELIVERED, PLAYED, …).
type HistoryContext struct {
	Status string `json:"status"`
}

// Error is an error object inside a webhook (not a Graph API error response).
type Error struct {
	Code      int        `json:"code"`
	Title     string     `json:"title,omitempty"`
	Message   string     `json:"message,omitempty"`
	ErrorData *ErrorData `json:"error_data,omitempty"`
}

// ErrorData details an Error.
type ErrorData struct {
	Details string `json:"details,omitempty"`
}

// StateSyncValue is an smb_app_state_sync change: contacts added (or edited) and removed.
type StateSyncValue struct {
	MessagingProduct string          `json:"messaging_product,omitempty"`
	Metadata         Metadata        `json:"metadata"`
	StateSync        []StateSyncItem `json:"state_sync"`
}

// Contact sync actions.
const (
	ActionAdd    = "add" // also covers edits
	ActionRemove = "remove"
)

// StateSyncItem is one contact change.
type StateSyncItem struct {
	Type     string            `json:"type"` // "contact"
	Contact  Contact           `json:"contact"`
	Action   string            `json:"action"`
	Metadata StateSyncMetadata `json:"metadata"`
}

// Contact is a Business app contact; names are absent on remove.
type Contact struct {
	FullName    string `json:"full_name,omitempty"`
	FirstName   string `json:"first_name,omitempty"`
	PhoneNumber string `json:"phone_number"`
}

// StateSyncMetadata dates a contact change.
type StateSyncMetadata struct {
	Timestamp FlexInt `json:"timestamp"`
}

// EchoesValue is an smb_message_echoes change: messages the business sent from the app.
type EchoesValue struct {
	MessagingProduct string    `json:"messaging_product,omitempty"`
	Metadata         Metadata  `json:"metadata"`
	MessageEchoes    []Message `json:"message_echoes"`
}

// MessagesValue is a messages change: inbound messages (including edit, revoke and
// unsupported) and statuses of sent ones.
type MessagesValue struct {
	MessagingProduct string        `json:"messaging_product,omitempty"`
	Metadata         Metadata      `json:"metadata"`
	Contacts         []UserContact `json:"contacts,omitempty"`
	Messages         []Message     `json:"messages,omitempty"`
	Statuses         []Status      `json:"statuses,omitempty"`
}

// UserContact is the sender's profile in a messages change.
type UserContact struct {
	Profile struct {
		Name string `json:"name,omitempty"`
	} `json:"profile"`
	WaID string `json:"wa_id"`
}

// Status is the delivery status of a message the business sent.
type Status struct {
	ID          string  `json:"id"`
	Status      string  `json:"status"`
	Timestamp   FlexInt `json:"timestamp"`
	RecipientID string  `json:"recipient_id,omitempty"`
}

// account_update events.
const (
	EventPartnerRemoved     = "PARTNER_REMOVED"
	EventAccountOffboarded  = "ACCOUNT_OFFBOARDED"
	EventAccountReconnected = "ACCOUNT_RECONNECTED"
)

// AccountUpdateValue is an account_update change. PARTNER_REMOVED names the number either by
// PhoneNumber or, in some payloads, through WABAInfo instead.
type AccountUpdateValue struct {
	Event             string             `json:"event"`
	PhoneNumber       string             `json:"phone_number,omitempty"`
	DisconnectionInfo *DisconnectionInfo `json:"disconnection_info,omitempty"`
	WABAInfo          *WABAInfo          `json:"waba_info,omitempty"`
}

// DisconnectionInfo says why and by whom a number was disconnected.
type DisconnectionInfo struct {
	Reason      string `json:"reason,omitempty"`
	InitiatedBy string `json:"initiated_by,omitempty"` // USER or SYSTEM
}

// WABAInfo identifies the WABA in account_update payloads that carry it.
type WABAInfo struct {
	WABAID          string `json:"waba_id,omitempty"`
	OwnerBusinessID string `json:"owner_business_id,omitempty"`
}

// FlexInt is an integer Meta sends either as a JSON number or as a quoted string. It encodes
// as a number.
type FlexInt int64

// UnmarshalJSON accepts 1739230955, "1739230955", null and "".
func (f *FlexInt) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if bytes.Equal(data, []byte("null")) {
		return nil
	}
	if len(data) > 0 && data[0] == '"' {
		var s string
		if inner := data[1:max(len(data)-1, 1)]; len(data) >= 2 && data[len(data)-1] == '"' && bytes.IndexByte(inner, '\\') < 0 {
			s = string(inner) // the rule: digits in quotes, no escapes, no second decode
		} else if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		if s == "" {
			*f = 0
			return nil
		}
		data = []byte(s)
	}
	n, err := strconv.ParseInt(string(data), 10, 64)
	if err != nil {
		// Some numbers arrive as floats (1.739230955e9); accept whole ones.
		fl, ferr := strconv.ParseFloat(string(data), 64)
		if ferr != nil {
			return err
		}
		n = int64(fl)
	}
	*f = FlexInt(n)
	return nil
}
