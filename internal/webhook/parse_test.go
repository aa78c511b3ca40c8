// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package webhook

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// valueTypes is what DecodeChange returns for each field it knows.
var valueTypes = map[string]reflect.Type{
	FieldHistory:       reflect.TypeFor[*HistoryValue](),
	FieldStateSync:     reflect.TypeFor[*StateSyncValue](),
	FieldEchoes:        reflect.TypeFor[*EchoesValue](),
	FieldMessages:      reflect.TypeFor[*MessagesValue](),
	FieldAccountUpdate: reflect.TypeFor[*AccountUpdateValue](),
}

// testdataBodies returns every testdata/*.json body by file name.
func testdataBodies(t testing.TB) map[string][]byte {
	t.Helper()
	names, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no testdata/*.json: %v", err)
	}
	bodies := make(map[string][]byte, len(names))
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		bodies[filepath.Base(name)] = data
	}
	return bodies
}

// expect turns a check of a *V into a check of DecodeChange's result, failing if it is not a *V.
func expect[V any](check func(t *testing.T, e Entry, v *V)) func(*testing.T, Entry, any) {
	return func(t *testing.T, e Entry, v any) {
		t.Helper()
		got, ok := v.(*V)
		if !ok {
			t.Fatalf("DecodeChange = %T, want *%T", v, *new(V))
		}
		check(t, e, got)
	}
}

const (
	testWABA    = "102290129340398"
	testPhoneID = "106540352242922"
)

// testdataCases holds the key facts of each testdata file; every file must have one.
var testdataCases = map[string]struct {
	field string
	check func(*testing.T, Entry, any)
}{
	"history_shared.json": {FieldHistory, expect(func(t *testing.T, e Entry, v *HistoryValue) {
		if e.ID != testWABA || v.Metadata.PhoneNumberID != testPhoneID || len(v.History) != 1 {
			t.Fatalf("entry %q, value %+v", e.ID, v)
		}
		c := v.History[0]
		if c.Metadata == nil || *c.Metadata != (ChunkMetadata{Phase: 0, ChunkOrder: 1, Progress: 55}) {
			t.Errorf("chunk metadata = %+v", c.Metadata)
		}
		if len(c.Threads) != 2 || len(c.Threads[0].Messages) != 3 || len(c.Threads[1].Messages) != 1 {
			t.Fatalf("threads = %+v", c.Threads)
		}
		if m := c.Threads[0].Messages[0]; m.Timestamp != 1739230955 || m.To != "16505551234" || m.Text == nil {
			t.Errorf("first message = %+v", m)
		}
		if m := c.Threads[0].Messages[1]; m.Type != TypeMediaPlaceholder || m.HistoryContext.Status != "PLAYED" {
			t.Errorf("placeholder = %+v", m)
		}
	})},
	"history_last_chunk_empty.json": {FieldHistory, expect(func(t *testing.T, _ Entry, v *HistoryValue) {
		if len(v.History) != 1 || v.History[0].Metadata == nil {
			t.Fatalf("history = %+v", v.History)
		}
		c := v.History[0]
		if *c.Metadata != (ChunkMetadata{Phase: 2, ChunkOrder: 7, Progress: 100}) || len(c.Threads) != 0 || len(c.Errors) != 0 {
			t.Errorf("chunk = %+v, want phase 2, chunk 7, progress 100 and no threads", c)
		}
	})},
	"history_media.json": {FieldHistory, expect(func(t *testing.T, _ Entry, v *HistoryValue) {
		if len(v.History) != 0 || len(v.Messages) != 1 {
			t.Fatalf("want messages[] instead of history[], got %+v", v)
		}
		if m := v.Messages[0]; m.Type != TypeImage || m.Image == nil || m.Image.ID != "24230790383178626" || m.Timestamp != 1738796547 {
			t.Errorf("media = %+v", m)
		}
	})},
	"history_declined.json": {FieldHistory, expect(func(t *testing.T, e Entry, v *HistoryValue) {
		if e.Time != 1739212624 {
			t.Errorf("time = %d", e.Time)
		}
		if len(v.History) != 1 || len(v.History[0].Threads) != 0 || len(v.History[0].Errors) != 1 ||
			v.History[0].Errors[0].Code != CodeHistoryDeclined {
			t.Errorf("want one chunk with only a %d error, got %+v", CodeHistoryDeclined, v.History)
		}
	})},
	"state_sync.json": {FieldStateSync, expect(func(t *testing.T, _ Entry, v *StateSyncValue) {
		if v.Metadata.PhoneNumberID != testPhoneID || len(v.StateSync) != 2 {
			t.Fatalf("value = %+v", v)
		}
		add, remove := v.StateSync[0], v.StateSync[1]
		if add.Action != ActionAdd || add.Contact.FullName != "Sheena Nelson" || add.Metadata.Timestamp != 1738346231 {
			t.Errorf("add (quoted timestamp) = %+v", add)
		}
		if remove.Action != ActionRemove || remove.Contact.FullName != "" || remove.Contact.PhoneNumber != "12125557890" ||
			remove.Metadata.Timestamp != 1738346232 {
			t.Errorf("remove (number timestamp) = %+v", remove)
		}
	})},
	"echoes.json": {FieldEchoes, expect(func(t *testing.T, _ Entry, v *EchoesValue) {
		if len(v.MessageEchoes) != 1 {
			t.Fatalf("echoes = %+v", v.MessageEchoes)
		}
		if m := v.MessageEchoes[0]; m.From != "15550783881" || m.To != "16505551234" || m.Timestamp != 1739321024 ||
			m.Text == nil || m.Text.Body != "Your order has shipped!" {
			t.Errorf("echo = %+v", m)
		}
	})},
	"edit.json": {FieldMessages, expect(func(t *testing.T, _ Entry, v *MessagesValue) {
		if len(v.Messages) != 1 || len(v.Contacts) != 1 || v.Contacts[0].WaID != "16505551234" {
			t.Fatalf("value = %+v", v)
		}
		m := v.Messages[0]
		if m.Type != TypeEdit || m.Edit == nil || m.Edit.OriginalMessageID != "wamid.HBgLMTQxMjU1NTA4MjkVAgASGBQzQUNCNjk5RDUwNUZGMUZEM0VBRAA=" ||
			m.Edit.Message.Image == nil || m.Edit.Message.Image.Caption != "Updated image caption" {
			t.Errorf("edit = %+v", m)
		}
	})},
	"revoke.json": {FieldMessages, expect(func(t *testing.T, _ Entry, v *MessagesValue) {
		if len(v.Messages) != 1 {
			t.Fatalf("messages = %+v", v.Messages)
		}
		if m := v.Messages[0]; m.Type != TypeRevoke || m.Revoke == nil ||
			m.Revoke.OriginalMessageID != "wamid.HBgLMTQxMjU1NTA4MjkVAgASGBQzQUNCNjk5RDUwNUZGMUZEM0VBRAA=" {
			t.Errorf("revoke = %+v", m)
		}
	})},
	"unsupported.json": {FieldMessages, expect(func(t *testing.T, _ Entry, v *MessagesValue) {
		if len(v.Messages) != 1 {
			t.Fatalf("messages = %+v", v.Messages)
		}
		if m := v.Messages[0]; m.Type != TypeUnsupported || len(m.Errors) != 1 || m.Errors[0].Code != CodeUnsupportedMessage {
			t.Errorf("unsupported = %+v", m)
		}
	})},
	"account_partner_removed.json": {FieldAccountUpdate, expect(func(t *testing.T, e Entry, v *AccountUpdateValue) {
		want := AccountUpdateValue{Event: EventPartnerRemoved, PhoneNumber: "15550783881"}
		if e.Time != 1739212624 || !reflect.DeepEqual(*v, want) {
			t.Errorf("time %d, value %+v; want %+v", e.Time, *v, want)
		}
	})},
	"account_partner_removed_disconnection.json": {FieldAccountUpdate, expect(func(t *testing.T, e Entry, v *AccountUpdateValue) {
		want := AccountUpdateValue{Event: EventPartnerRemoved, PhoneNumber: "15550783881",
			DisconnectionInfo: &DisconnectionInfo{Reason: "PRIMARY_INACTIVITY", InitiatedBy: "SYSTEM"}}
		if e.Time != 1739212624 || !reflect.DeepEqual(*v, want) { // time is a quoted string here
			t.Errorf("time %d, value %+v; want %+v", e.Time, *v, want)
		}
	})},
	"account_partner_removed_waba_info.json": {FieldAccountUpdate, expect(func(t *testing.T, _ Entry, v *AccountUpdateValue) {
		want := AccountUpdateValue{Event: EventPartnerRemoved,
			WABAInfo:          &WABAInfo{WABAID: testWABA, OwnerBusinessID: "889120376219283"},
			DisconnectionInfo: &DisconnectionInfo{Reason: "ACCOUNT_DISCONNECTED", InitiatedBy: "USER"}}
		if !reflect.DeepEqual(*v, want) {
			t.Errorf("value %+v, want %+v", *v, want)
		}
	})},
	"account_offboarded.json": {FieldAccountUpdate, expect(func(t *testing.T, e Entry, v *AccountUpdateValue) {
		if e.ID != "862475293675413" || e.Time != 1768477204 || *v != (AccountUpdateValue{Event: EventAccountOffboarded}) {
			t.Errorf("entry %q at %d, value %+v", e.ID, e.Time, *v)
		}
	})},
	"account_reconnected.json": {FieldAccountUpdate, expect(func(t *testing.T, e Entry, v *AccountUpdateValue) {
		if e.Time != 1768477203 || *v != (AccountUpdateValue{Event: EventAccountReconnected}) {
			t.Errorf("time %d, value %+v", e.Time, *v)
		}
	})},
}

func TestParseTestdata(t *testing.T) {
	bodies := testdataBodies(t)
	for name := range bodies {
		if _, ok := testdataCases[name]; !ok {
			t.Errorf("testdata/%s has no case in testdataCases", name)
		}
	}
	for name, tc := range testdataCases {
		t.Run(name, func(t *testing.T) {
			body, ok := bodies[name]
			if !ok {
				t.Fatalf("testdata/%s is missing", name)
			}
			env, err := ParseEnvelope(body)
			if err != nil {
				t.Fatalf("ParseEnvelope: %v", err)
			}
			if len(env.Entry) != 1 || len(env.Entry[0].Changes) != 1 {
				t.Fatalf("want one entry with one change, got %+v", env)
			}
			c := env.Entry[0].Changes[0]
			if c.Field != tc.field {
				t.Fatalf("field = %q, want %q", c.Field, tc.field)
			}
			v, err := DecodeChange(c)
			if err != nil {
				t.Fatalf("DecodeChange: %v", err)
			}
			if got := reflect.TypeOf(v); got != valueTypes[c.Field] {
				t.Fatalf("DecodeChange = %v, want %v", got, valueTypes[c.Field])
			}
			tc.check(t, env.Entry[0], v)
		})
	}
}

// TestParseLenient covers what Meta may send beyond testdata and must still parse.
func TestParseLenient(t *testing.T) {
	body := `{"object":"whatsapp_business_account","unknown":{"a":[1]},"entry":[
		{"id":"1","time":1.739212624e9,"changes":[]},
		{"id":"2","time":"","extra":true,"changes":[
			{"field":"account_update","value":{"event":"PARTNER_REMOVED","waba_info":{"waba_id":"2"},"new_thing":[]},"x":1},
			{"field":"template_status","value":{"event":"APPROVED"}}]}]}`
	env, err := ParseEnvelope([]byte(" \n" + body))
	if err != nil {
		t.Fatalf("ParseEnvelope: %v", err)
	}
	if len(env.Entry) != 2 || env.Entry[0].Time != 1739212624 || env.Entry[1].Time != 0 || len(env.Entry[1].Changes) != 2 {
		t.Fatalf("envelope = %+v", env)
	}
	v, err := DecodeChange(env.Entry[1].Changes[0])
	if au, ok := v.(*AccountUpdateValue); err != nil || !ok || au.WABAInfo == nil || au.WABAInfo.WABAID != "2" {
		t.Errorf("account_update = %+v, %v", v, err)
	}
	if v, err := DecodeChange(env.Entry[1].Changes[1]); v != nil || !errors.Is(err, ErrUnknownField) {
		t.Errorf("template_status = %v, %v; want nil and ErrUnknownField", v, err)
	}
}

func TestParseEnvelopeMalformed(t *testing.T) {
	shared := testdataBodies(t)["history_shared.json"]
	cases := map[string]struct {
		body, mention string
	}{
		"empty":                   {``, "not a JSON object"},
		"not JSON":                {`hello`, "not a JSON object"},
		"truncated":               {string(shared[:len(shared)/2]), "unexpected end"},
		"trailing garbage":        {`{"object":"whatsapp_business_account"} x`, "invalid character"},
		"null":                    {`null`, "not a JSON object"},
		"array":                   {`[{"object":"whatsapp_business_account"}]`, "not a JSON object"},
		"string":                  {`"whatsapp_business_account"`, "not a JSON object"},
		"wrong object":            {`{"object":"page","entry":[{"id":"1","changes":[{"field":"feed","value":{}}]}]}`, `"page"`},
		"no object":               {`{"entry":[{"id":"1","changes":[{"field":"history","value":{}}]}]}`, `object is ""`},
		"object not a string":     {`{"object":1,"entry":[]}`, "object"},
		"entry not a list":        {`{"object":"whatsapp_business_account","entry":{"id":"1","changes":[]}}`, "entry"},
		"no entry":                {`{"object":"whatsapp_business_account"}`, "no entry"},
		"null entry":              {`{"object":"whatsapp_business_account","entry":null}`, "no entry"},
		"empty entry":             {`{"object":"whatsapp_business_account","entry":[]}`, "no entry"},
		"entries without changes": {`{"object":"whatsapp_business_account","entry":[{"id":"1"},{"id":"2","changes":[]}]}`, "2 entries"},
		"changes not a list":      {`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":{}}]}`, "changes"},
		"deeply nested":           {`{"object":"whatsapp_business_account","entry":` + strings.Repeat("[", 20000), "depth"},
		"time not a number":       {`{"object":"whatsapp_business_account","entry":[{"id":"1","time":"soon","changes":[{}]}]}`, "soon"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			env, err := ParseEnvelope([]byte(tc.body))
			if env != nil || !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseEnvelope = %+v, %v; want ErrMalformed", env, err)
			}
			if !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("error %q does not mention %q", err, tc.mention)
			}
		})
	}
}

func TestDecodeChangeMalformed(t *testing.T) {
	cases := map[string]Change{
		"null value":                 {Field: FieldHistory, Value: json.RawMessage(`null`)},
		"null value with spaces":     {Field: FieldMessages, Value: json.RawMessage(" null\n")},
		"no value":                   {Field: FieldAccountUpdate},
		"value a string":             {Field: FieldHistory, Value: json.RawMessage(`"history"`)},
		"value a list":               {Field: FieldStateSync, Value: json.RawMessage(`[{"state_sync":[]}]`)},
		"value a number":             {Field: FieldEchoes, Value: json.RawMessage(`42`)},
		"value not JSON":             {Field: FieldMessages, Value: json.RawMessage(`{"messages":[`)},
		"history not a list":         {Field: FieldHistory, Value: json.RawMessage(`{"history":{"threads":[]}}`)},
		"threads not a list":         {Field: FieldHistory, Value: json.RawMessage(`{"history":[{"threads":"none"}]}`)},
		"timestamp not a number":     {Field: FieldStateSync, Value: json.RawMessage(`{"state_sync":[{"metadata":{"timestamp":"soon"}}]}`)},
		"echoes not a list":          {Field: FieldEchoes, Value: json.RawMessage(`{"message_echoes":{}}`)},
		"event not a string":         {Field: FieldAccountUpdate, Value: json.RawMessage(`{"event":5}`)},
		"error code not a number":    {Field: FieldMessages, Value: json.RawMessage(`{"messages":[{"errors":[{"code":"131060"}]}]}`)},
		"disconnection info a list":  {Field: FieldAccountUpdate, Value: json.RawMessage(`{"event":"PARTNER_REMOVED","disconnection_info":[]}`)},
		"metadata phone id a number": {Field: FieldEchoes, Value: json.RawMessage(`{"metadata":{"phone_number_id":106540352242922}}`)},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			v, err := DecodeChange(c)
			if v != nil || !errors.Is(err, ErrMalformed) || errors.Is(err, ErrUnknownField) {
				t.Fatalf("DecodeChange = %+v, %v; want nil and ErrMalformed", v, err)
			}
			if !strings.Contains(err.Error(), c.Field) {
				t.Errorf("error %q does not name the field %q", err, c.Field)
			}
		})
	}
}

// TestNullValueThroughEnvelope: the envelope parses (other changes may be fine); the null
// value is malformed when decoded, not a panic nor an empty value.
func TestNullValueThroughEnvelope(t *testing.T) {
	env, err := ParseEnvelope([]byte(`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[
		{"field":"history","value":null},{"field":"smb_app_state_sync"}]}]}`))
	if err != nil {
		t.Fatalf("ParseEnvelope: %v", err)
	}
	for _, c := range env.Entry[0].Changes {
		if v, err := DecodeChange(c); v != nil || !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: DecodeChange = %+v, %v; want ErrMalformed", c.Field, v, err)
		}
	}
}

func TestDecodeChangeUnknownField(t *testing.T) {
	for _, field := range []string{"message_template_status_update", "", "History", "smb_message_echoes "} {
		for _, value := range []string{`{"event":"APPROVED"}`, `null`, `[`} {
			v, err := DecodeChange(Change{Field: field, Value: json.RawMessage(value)})
			if v != nil || !errors.Is(err, ErrUnknownField) || errors.Is(err, ErrMalformed) {
				t.Errorf("DecodeChange(%q, %s) = %v, %v; want nil and ErrUnknownField only", field, value, v, err)
			}
		}
	}
	for field := range valueTypes {
		if _, err := DecodeChange(Change{Field: field, Value: json.RawMessage(`{}`)}); err != nil {
			t.Errorf("DecodeChange(%q, {}) = %v, want no error", field, err)
		}
	}
}
