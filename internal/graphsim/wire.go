// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graphsim

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/coex-operator/coex-operator/internal/webhook"
)

// The webhook wire shapes the simulator sends. They follow Meta's examples byte for byte
// where the webhook package's types would not: timestamps are quoted strings, entry.time is
// a number or a string, the last history chunk carries "threads": []. Tests decode every
// body strictly into the webhook package's types to prove the two agree.

type wireEnvelope struct {
	Object string      `json:"object"`
	Entry  []wireEntry `json:"entry"`
}

type wireEntry struct {
	ID      string          `json:"id"`
	Time    json.RawMessage `json:"time,omitempty"`
	Changes []wireChange    `json:"changes"`
}

type wireChange struct {
	Value any    `json:"value"`
	Field string `json:"field"`
}

// timeFormat says how entry.time is written; Meta sends both.
type timeFormat int

const (
	timeNumber timeFormat = iota
	timeString
)

// envelope encodes one change of one WABA as a webhook body.
func envelope(wabaID string, at time.Time, tf timeFormat, field string, value any) ([]byte, error) {
	ts := strconv.FormatInt(at.Unix(), 10)
	if tf == timeString {
		ts = strconv.Quote(ts)
	}
	return json.Marshal(wireEnvelope{
		Object: webhook.ObjectWABA,
		Entry:  []wireEntry{{ID: wabaID, Time: json.RawMessage(ts), Changes: []wireChange{{Value: value, Field: field}}}},
	})
}

func unixString(t int64) string { return strconv.FormatInt(t, 10) }

// wireMessage is a message in history, echoes and messages webhooks; Timestamp is a quoted
// string as in every Meta example. Only the field named by Type is set.
type wireMessage struct {
	From      string `json:"from,omitempty"`
	To        string `json:"to,omitempty"`
	ID        string `json:"id,omitempty"`
	Timestamp string `json:"timestamp,omitempty"`
	Type      string `json:"type"`

	Context  *webhook.MessageContext `json:"context,omitempty"`
	Text     *webhook.Text           `json:"text,omitempty"`
	Image    *webhook.Media          `json:"image,omitempty"`
	Video    *webhook.Media          `json:"video,omitempty"`
	Audio    *webhook.Media          `json:"audio,omitempty"`
	Document *webhook.Media          `json:"document,omitempty"`
	Sticker  *webhook.Media          `json:"sticker,omitempty"`
	Edit     *wireEdit               `json:"edit,omitempty"`
	Revoke   *webhook.Revoke         `json:"revoke,omitempty"`
	Errors   []webhook.Error         `json:"errors,omitempty"`

	HistoryContext *webhook.HistoryContext `json:"history_context,omitempty"`
}

type wireEdit struct {
	OriginalMessageID string      `json:"original_message_id"`
	Message           wireMessage `json:"message"`
}

// setMedia puts m under the field its type names.
func (w *wireMessage) setMedia(typ string, m *webhook.Media) {
	w.Type = typ
	switch typ {
	case "image":
		w.Image = m
	case "video":
		w.Video = m
	case "audio":
		w.Audio = m
	case "document":
		w.Document = m
	case "sticker":
		w.Sticker = m
	}
}

type wireThread struct {
	ID       string        `json:"id"`
	Messages []wireMessage `json:"messages"`
}

// wireChunk always writes threads (an empty chunk as "threads": []) except beside errors.
type wireChunk struct {
	Metadata *webhook.ChunkMetadata `json:"metadata,omitempty"`
	Threads  *[]wireThread          `json:"threads,omitempty"`
	Errors   []webhook.Error        `json:"errors,omitempty"`
}

type wireHistoryValue struct {
	MessagingProduct string           `json:"messaging_product"`
	Metadata         webhook.Metadata `json:"metadata"`
	History          []wireChunk      `json:"history,omitempty"`
	Messages         []wireMessage    `json:"messages,omitempty"`
}

type wireStateSyncValue struct {
	MessagingProduct string              `json:"messaging_product"`
	Metadata         webhook.Metadata    `json:"metadata"`
	StateSync        []wireStateSyncItem `json:"state_sync"`
}

type wireStateSyncItem struct {
	Type     string          `json:"type"`
	Contact  webhook.Contact `json:"contact"`
	Action   string          `json:"action"`
	Metadata struct {
		Timestamp string `json:"timestamp"`
	} `json:"metadata"`
}

type wireEchoesValue struct {
	MessagingProduct string           `json:"messaging_product"`
	Metadata         webhook.Metadata `json:"metadata"`
	MessageEchoes    []wireMessage    `json:"message_echoes"`
}

type wireMessagesValue struct {
	MessagingProduct string                `json:"messaging_product"`
	Metadata         webhook.Metadata      `json:"metadata"`
	Contacts         []webhook.UserContact `json:"contacts,omitempty"`
	Messages         []wireMessage         `json:"messages"`
}
