// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package webhook

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// decode reads testdata/name as an Envelope with one entry and one change, and decodes that
// change's value into a new V.
func decode[V any](t *testing.T, name, field string) (Entry, V) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var env Envelope
	if err := json.Unmarshal(data, &env); err != nil {
		t.Fatalf("%s: cannot decode the envelope: %v", name, err)
	}
	if env.Object != ObjectWABA || len(env.Entry) != 1 || len(env.Entry[0].Changes) != 1 {
		t.Fatalf("%s: want one %s entry with one change, got %+v", name, ObjectWABA, env)
	}
	change := env.Entry[0].Changes[0]
	if change.Field != field {
		t.Fatalf("%s: field = %q, want %q", name, change.Field, field)
	}
	var v V
	if err := json.Unmarshal(change.Value, &v); err != nil {
		t.Fatalf("%s: cannot decode the %s value: %v", name, field, err)
	}
	return env.Entry[0], v
}

func TestHistoryShared(t *testing.T) {
	entry, v := decode[HistoryValue](t, "history_shared.json", FieldHistory)
	if entry.ID != "102290129340398" || v.Metadata.PhoneNumberID != "106540352242922" {
		t.Fatalf("entry %q, phone_number_id %q", entry.ID, v.Metadata.PhoneNumberID)
	}
	chunk := v.History[0]
	if got := *chunk.Metadata; got != (ChunkMetadata{Phase: 0, ChunkOrder: 1, Progress: 55}) {
		t.Errorf("chunk metadata = %+v", got)
	}
	var ids []string
	types := map[string]int{}
	for _, th := range chunk.Threads {
		for _, m := range th.Messages {
			ids = append(ids, m.ID)
			types[m.Type]++
		}
	}
	if len(chunk.Threads) != 2 || len(ids) != 4 {
		t.Errorf("threads %d, messages %d; want 2 and 4", len(chunk.Threads), len(ids))
	}
	if types[TypeMediaPlaceholder] != 1 || types[TypeText] != 3 {
		t.Errorf("message types = %v", types)
	}
	first := chunk.Threads[0].Messages[0]
	if first.Timestamp != 1739230955 || first.Text == nil || first.HistoryContext.Status != "READ" || first.To != "16505551234" {
		t.Errorf("first message = %+v", first)
	}
}

func TestHistoryEmptyLastChunkWithStringNumbers(t *testing.T) {
	_, v := decode[HistoryValue](t, "history_last_chunk_empty.json", FieldHistory)
	chunk := v.History[0]
	if *chunk.Metadata != (ChunkMetadata{Phase: 2, ChunkOrder: 7, Progress: 100}) || len(chunk.Threads) != 0 {
		t.Errorf("chunk = %+v", chunk)
	}
}

func TestHistoryMediaFollowUp(t *testing.T) {
	_, v := decode[HistoryValue](t, "history_media.json", FieldHistory)
	if len(v.History) != 0 || len(v.Messages) != 1 {
		t.Fatalf("want messages[] and no history[], got %+v", v)
	}
	m := v.Messages[0]
	if m.Type != TypeImage || m.Image == nil || m.Image.ID != "24230790383178626" {
		t.Errorf("media message = %+v", m)
	}
}

func TestHistoryDeclined(t *testing.T) {
	entry, v := decode[HistoryValue](t, "history_declined.json", FieldHistory)
	if entry.Time != 1739212624 {
		t.Errorf("time = %d", entry.Time)
	}
	if len(v.History) != 1 || len(v.History[0].Errors) != 1 || v.History[0].Errors[0].Code != CodeHistoryDeclined {
		t.Errorf("want one 2593109 error, got %+v", v.History)
	}
}

func TestStateSync(t *testing.T) {
	_, v := decode[StateSyncValue](t, "state_sync.json", FieldStateSync)
	want := []StateSyncItem{
		{Type: "contact", Action: ActionAdd, Metadata: StateSyncMetadata{Timestamp: 1738346231},
			Contact: Contact{FullName: "Sheena Nelson", FirstName: "Sheena", PhoneNumber: "16505551234"}},
		{Type: "contact", Action: ActionRemove, Metadata: StateSyncMetadata{Timestamp: 1738346232},
			Contact: Contact{PhoneNumber: "12125557890"}},
	}
	if !reflect.DeepEqual(v.StateSync, want) {
		t.Errorf("state_sync = %+v\nwant %+v", v.StateSync, want)
	}
}

func TestEchoesIgnoreUnknownFields(t *testing.T) {
	_, v := decode[EchoesValue](t, "echoes.json", FieldEchoes)
	if len(v.MessageEchoes) != 1 || v.MessageEchoes[0].To != "16505551234" || v.MessageEchoes[0].Text.Body != "Your order has shipped!" {
		t.Errorf("echoes = %+v", v.MessageEchoes)
	}
}

func TestMessagesEditRevokeUnsupported(t *testing.T) {
	_, edit := decode[MessagesValue](t, "edit.json", FieldMessages)
	if m := edit.Messages[0]; m.Type != TypeEdit || m.Edit == nil || m.Edit.Message.Image.Caption != "Updated image caption" ||
		m.Edit.OriginalMessageID != "wamid.HBgLMTQxMjU1NTA4MjkVAgASGBQzQUNCNjk5RDUwNUZGMUZEM0VBRAA=" {
		t.Errorf("edit = %+v", m)
	}
	if edit.Contacts[0].WaID != "16505551234" || edit.Contacts[0].Profile.Name != "Sheena Nelson" {
		t.Errorf("contacts = %+v", edit.Contacts)
	}
	_, revoke := decode[MessagesValue](t, "revoke.json", FieldMessages)
	if m := revoke.Messages[0]; m.Type != TypeRevoke || m.Revoke == nil || m.Revoke.OriginalMessageID == "" {
		t.Errorf("revoke = %+v", m)
	}
	_, unsupported := decode[MessagesValue](t, "unsupported.json", FieldMessages)
	if m := unsupported.Messages[0]; m.Type != TypeUnsupported || len(m.Errors) != 1 || m.Errors[0].Code != CodeUnsupportedMessage {
		t.Errorf("unsupported = %+v", m)
	}
}

func TestAccountUpdates(t *testing.T) {
	cases := map[string]struct {
		time FlexInt
		want AccountUpdateValue
	}{
		"account_partner_removed.json": {1739212624, AccountUpdateValue{Event: EventPartnerRemoved, PhoneNumber: "15550783881"}},
		"account_partner_removed_disconnection.json": {1739212624, AccountUpdateValue{
			Event: EventPartnerRemoved, PhoneNumber: "15550783881",
			DisconnectionInfo: &DisconnectionInfo{Reason: "PRIMARY_INACTIVITY", InitiatedBy: "SYSTEM"}}},
		"account_partner_removed_waba_info.json": {1739212624, AccountUpdateValue{
			Event:             EventPartnerRemoved,
			WABAInfo:          &WABAInfo{WABAID: "102290129340398", OwnerBusinessID: "889120376219283"},
			DisconnectionInfo: &DisconnectionInfo{Reason: "ACCOUNT_DISCONNECTED", InitiatedBy: "USER"}}},
		"account_offboarded.json":  {1768477204, AccountUpdateValue{Event: EventAccountOffboarded}},
		"account_reconnected.json": {1768477203, AccountUpdateValue{Event: EventAccountReconnected}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			entry, v := decode[AccountUpdateValue](t, name, FieldAccountUpdate)
			if entry.Time != tc.time {
				t.Errorf("time = %d, want %d", entry.Time, tc.time)
			}
			if !reflect.DeepEqual(v, tc.want) {
				t.Errorf("value = %+v, want %+v", v, tc.want)
			}
		})
	}
}

func TestFlexInt(t *testing.T) {
	cases := map[string]struct {
		in      string
		want    FlexInt
		wantErr bool
	}{
		"number":          {in: `1739230955`, want: 1739230955},
		"quoted":          {in: `"1739230955"`, want: 1739230955},
		"float":           {in: `1.739230955e9`, want: 1739230955},
		"null":            {in: `null`, want: 0},
		"empty string":    {in: `""`, want: 0},
		"not a number":    {in: `"soon"`, wantErr: true},
		"bool":            {in: `true`, wantErr: true},
		"quoted negative": {in: `"-5"`, want: -5},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var f FlexInt
			err := json.Unmarshal([]byte(tc.in), &f)
			if (err != nil) != tc.wantErr || (!tc.wantErr && f != tc.want) {
				t.Errorf("Unmarshal(%s) = %d, %v; want %d, error %v", tc.in, f, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestHistoryChunkEncodesMetasShapes(t *testing.T) {
	cases := map[string]struct {
		chunk HistoryChunk
		want  string
	}{
		"empty last chunk keeps threads: []": {
			HistoryChunk{Metadata: &ChunkMetadata{Phase: 2, ChunkOrder: 3, Progress: 100}},
			`{"metadata":{"phase":2,"chunk_order":3,"progress":100},"threads":[]}`,
		},
		"declined has errors only": {
			HistoryChunk{Errors: []Error{{Code: CodeHistoryDeclined}}},
			`{"errors":[{"code":2593109}]}`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := json.Marshal(tc.chunk)
			if err != nil || string(got) != tc.want {
				t.Errorf("Marshal = %s, %v; want %s", got, err, tc.want)
			}
		})
	}
}
