// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package receivertest

import (
	"encoding/json"
	"testing"

	"github.com/coex-operator/coex-operator/internal/webhook"
)

// Envelope encodes one webhook of waba holding the given changes; sentAt is the entry's
// time (0: none). Changing sentAt changes the bytes but not the data, as a redelivery in
// another envelope does.
func Envelope(t testing.TB, waba string, sentAt int64, changes ...webhook.Change) []byte {
	t.Helper()
	b, err := json.Marshal(webhook.Envelope{Object: webhook.ObjectWABA,
		Entry: []webhook.Entry{{ID: waba, Time: webhook.FlexInt(sentAt), Changes: changes}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Change is one change of field with value.
func Change(t testing.TB, field string, value any) webhook.Change {
	t.Helper()
	c, err := webhook.NewChange(field, value)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Meta is the metadata of a change for phoneID.
func Meta(phoneID string) webhook.Metadata {
	return webhook.Metadata{DisplayPhoneNumber: Display, PhoneNumberID: phoneID}
}

// HistoryBody is a history webhook for phoneID with the given chunks.
func HistoryBody(t testing.TB, phoneID string, sentAt int64, chunks ...webhook.HistoryChunk) []byte {
	t.Helper()
	return Envelope(t, WABA, sentAt, Change(t, webhook.FieldHistory,
		webhook.HistoryValue{MessagingProduct: "whatsapp", Metadata: Meta(phoneID), History: chunks}))
}

// MediaBody is the later history webhook that carries recent media as messages[].
func MediaBody(t testing.TB, phoneID string, sentAt int64, msgs ...webhook.Message) []byte {
	t.Helper()
	return Envelope(t, WABA, sentAt, Change(t, webhook.FieldHistory,
		webhook.HistoryValue{MessagingProduct: "whatsapp", Metadata: Meta(phoneID), Messages: msgs}))
}

// Chunk is a history chunk of phase and order at progress.
func Chunk(phase, order, progress int64, threads ...webhook.Thread) webhook.HistoryChunk {
	return webhook.HistoryChunk{
		Metadata: &webhook.ChunkMetadata{Phase: webhook.FlexInt(phase), ChunkOrder: webhook.FlexInt(order),
			Progress: webhook.FlexInt(progress)},
		Threads: threads,
	}
}

// Thread is a chat with user with one text message per id.
func Thread(user string, msgIDs ...string) webhook.Thread {
	th := webhook.Thread{ID: user}
	for i, id := range msgIDs {
		th.Messages = append(th.Messages, TextMessage(id, user, int64(1_739_000_000+i)))
	}
	return th
}

// TextMessage is a text message id from from, sent at ts.
func TextMessage(id, from string, ts int64) webhook.Message {
	return webhook.Message{From: from, ID: id, Timestamp: webhook.FlexInt(ts), Type: webhook.TypeText,
		Text: &webhook.Text{Body: "hello " + id}}
}

// ImageMessage is an image message id from from, sent at ts.
func ImageMessage(id, from string, ts int64) webhook.Message {
	return webhook.Message{From: from, ID: id, Timestamp: webhook.FlexInt(ts), Type: webhook.TypeImage,
		Image: &webhook.Media{ID: "media-" + id, MimeType: "image/jpeg"}}
}

// MessagesBody is a messages webhook for phoneID with v's messages and statuses.
func MessagesBody(t testing.TB, phoneID string, sentAt int64, v webhook.MessagesValue) []byte {
	t.Helper()
	v.MessagingProduct, v.Metadata = "whatsapp", Meta(phoneID)
	return Envelope(t, WABA, sentAt, Change(t, webhook.FieldMessages, v))
}

// EchoesBody is an smb_message_echoes webhook for phoneID.
func EchoesBody(t testing.TB, phoneID string, sentAt int64, echoes ...webhook.Message) []byte {
	t.Helper()
	return Envelope(t, WABA, sentAt, Change(t, webhook.FieldEchoes,
		webhook.EchoesValue{MessagingProduct: "whatsapp", Metadata: Meta(phoneID), MessageEchoes: echoes}))
}

// Echo is a text message id the business sent to to at ts.
func Echo(id, to string, ts int64) webhook.Message {
	m := TextMessage(id, Display, ts)
	m.To = to
	return m
}

// ContactsBody is an smb_app_state_sync webhook for phoneID.
func ContactsBody(t testing.TB, phoneID string, sentAt int64, items ...webhook.StateSyncItem) []byte {
	t.Helper()
	return Envelope(t, WABA, sentAt, Change(t, webhook.FieldStateSync,
		webhook.StateSyncValue{MessagingProduct: "whatsapp", Metadata: Meta(phoneID), StateSync: items}))
}

// Contact is a contact item: action on phone, named name, at ts.
func Contact(action, phone, name string, ts int64) webhook.StateSyncItem {
	return webhook.StateSyncItem{Type: "contact", Action: action,
		Contact:  webhook.Contact{FullName: name, PhoneNumber: phone},
		Metadata: webhook.StateSyncMetadata{Timestamp: webhook.FlexInt(ts)}}
}

// AccountBody is an account_update webhook for waba sent at sentAt.
func AccountBody(t testing.TB, waba string, sentAt int64, v webhook.AccountUpdateValue) []byte {
	t.Helper()
	return Envelope(t, waba, sentAt, Change(t, webhook.FieldAccountUpdate, v))
}
