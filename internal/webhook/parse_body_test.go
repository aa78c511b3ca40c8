// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// ParseBody must read every body as encoding/json did with the receiver's earlier shapes (a
// whole-body decode of the envelope, then of each change value into lenient structs, then of
// each message's head): the reference below is that code. Where they may differ, the
// comparison says why (see sameBody).

type (
	refHistoryValue struct {
		Metadata Metadata   `json:"metadata"`
		History  []refChunk `json:"history"`
		Messages []refMsg   `json:"messages"`
	}
	refChunk struct {
		Metadata *ChunkMetadata `json:"metadata"`
		Threads  []refThread    `json:"threads"`
		Errors   []Error        `json:"errors"`
	}
	refThread struct {
		ID       string   `json:"id"`
		Messages []refMsg `json:"messages"`
	}
	refListValue struct {
		Metadata      Metadata          `json:"metadata"`
		Messages      []refMsg          `json:"messages"`
		Statuses      []json.RawMessage `json:"statuses"`
		MessageEchoes []refMsg          `json:"message_echoes"`
		StateSync     []json.RawMessage `json:"state_sync"`
	}
	refHead struct {
		From      string           `json:"from"`
		To        string           `json:"to"`
		ID        string           `json:"id"`
		Timestamp FlexInt          `json:"timestamp"`
		Type      string           `json:"type"`
		Edit      *OriginalMessage `json:"edit"`
		Revoke    *OriginalMessage `json:"revoke"`
		Errors    []Error          `json:"errors"`
	}
	refMsg struct{ m RawMessage }
)

func (m *refMsg) UnmarshalJSON(b []byte) error {
	var h refHead
	ok := json.Unmarshal(b, &h) == nil && h.ID != ""
	m.m = RawMessage{Raw: append([]byte(nil), b...), OK: ok,
		Head: MessageHead{From: h.From, To: h.To, ID: h.ID, Timestamp: h.Timestamp, Type: h.Type, Edit: h.Edit, Revoke: h.Revoke, Errors: h.Errors}}
	return nil
}

func refMsgs(in []refMsg) []RawMessage {
	var out []RawMessage
	for _, m := range in {
		out = append(out, m.m)
	}
	return out
}

func refParseBody(body []byte) (*Body, error) {
	env, err := ParseEnvelope(body)
	if err != nil {
		return nil, err
	}
	b := &Body{Object: env.Object}
	for _, e := range env.Entry {
		be := BodyEntry{ID: e.ID, Time: e.Time}
		for _, ch := range e.Changes {
			c := BodyChange{Field: ch.Field, Value: ch.Value}
			var err error
			switch ch.Field {
			case FieldHistory:
				var v refHistoryValue
				err = json.Unmarshal(ch.Value, &v)
				c.Metadata, c.Messages = v.Metadata, refMsgs(v.Messages)
				for _, rc := range v.History {
					chunk := RawChunk{Metadata: rc.Metadata, Errors: rc.Errors}
					for _, t := range rc.Threads {
						chunk.Threads = append(chunk.Threads, RawThread{ID: t.ID, Messages: refMsgs(t.Messages)})
					}
					c.History = append(c.History, chunk)
				}
			case FieldMessages, FieldEchoes, FieldStateSync:
				var v refListValue
				err = json.Unmarshal(ch.Value, &v)
				c.Metadata, c.Messages, c.Echoes = v.Metadata, refMsgs(v.Messages), refMsgs(v.MessageEchoes)
				for _, r := range v.Statuses {
					c.Statuses = append(c.Statuses, r)
				}
				for _, r := range v.StateSync {
					c.StateSync = append(c.StateSync, r)
				}
			}
			c.Malformed = Decoded(ch.Field) && (err != nil || c.Metadata.PhoneNumberID == "")
			be.Changes = append(be.Changes, c)
		}
		b.Entries = append(b.Entries, be)
	}
	return b, nil
}

// sameBody compares what the receiver uses of two parses, and says where they differ. A
// malformed change's contents are not compared (the receiver ignores them; encoding/json stops
// at some errors and not at others), nor an unreadable message's head; nil and empty lists are
// the same.
func sameBody(got, want *Body) string {
	if got.Object != want.Object || len(got.Entries) != len(want.Entries) {
		return fmt.Sprintf("object %q with %d entries, want %q with %d", got.Object, len(got.Entries), want.Object, len(want.Entries))
	}
	for i := range got.Entries {
		g, w := got.Entries[i], want.Entries[i]
		if g.ID != w.ID || g.Time != w.Time || len(g.Changes) != len(w.Changes) {
			return fmt.Sprintf("entry %d: %q %d with %d changes, want %q %d with %d", i, g.ID, g.Time, len(g.Changes), w.ID, w.Time, len(w.Changes))
		}
		for j := range g.Changes {
			if d := sameChange(&g.Changes[j], &w.Changes[j]); d != "" {
				return fmt.Sprintf("entry %d change %d (%s): %s", i, j, w.Changes[j].Field, d)
			}
		}
	}
	return ""
}

func sameChange(g, w *BodyChange) string {
	if g.Field != w.Field || !bytes.Equal(g.Value, w.Value) || g.Malformed != w.Malformed {
		return fmt.Sprintf("field %q malformed %v value %q, want %q %v %q", g.Field, g.Malformed, g.Value, w.Field, w.Malformed, w.Value)
	}
	if w.Malformed || !Decoded(w.Field) {
		return ""
	}
	if g.Metadata != w.Metadata {
		return fmt.Sprintf("metadata %+v, want %+v", g.Metadata, w.Metadata)
	}
	if d := sameMsgs(g.Messages, w.Messages); d != "" {
		return "messages: " + d
	}
	if w.Field == FieldHistory {
		if len(g.History) != len(w.History) {
			return fmt.Sprintf("%d chunks, want %d", len(g.History), len(w.History))
		}
		for i := range g.History {
			gc, wc := g.History[i], w.History[i]
			if !reflect.DeepEqual(gc.Metadata, wc.Metadata) || !sameErrors(gc.Errors, wc.Errors) || len(gc.Threads) != len(wc.Threads) {
				return fmt.Sprintf("chunk %d: %+v %+v %d threads, want %+v %+v %d", i, gc.Metadata, gc.Errors, len(gc.Threads), wc.Metadata, wc.Errors, len(wc.Threads))
			}
			for k := range gc.Threads {
				if gc.Threads[k].ID != wc.Threads[k].ID {
					return fmt.Sprintf("chunk %d thread %d: id %q, want %q", i, k, gc.Threads[k].ID, wc.Threads[k].ID)
				}
				if d := sameMsgs(gc.Threads[k].Messages, wc.Threads[k].Messages); d != "" {
					return fmt.Sprintf("chunk %d thread %d: %s", i, k, d)
				}
			}
		}
		return ""
	}
	if d := sameMsgs(g.Echoes, w.Echoes); d != "" {
		return "echoes: " + d
	}
	if d := sameRaws(g.Statuses, w.Statuses); d != "" {
		return "statuses: " + d
	}
	if d := sameRaws(g.StateSync, w.StateSync); d != "" {
		return "state_sync: " + d
	}
	return ""
}

func sameMsgs(g, w []RawMessage) string {
	if len(g) != len(w) {
		return fmt.Sprintf("%d messages, want %d", len(g), len(w))
	}
	for i := range g {
		if !bytes.Equal(g[i].Raw, w[i].Raw) || g[i].OK != w[i].OK {
			return fmt.Sprintf("message %d: %q ok=%v, want %q ok=%v", i, g[i].Raw, g[i].OK, w[i].Raw, w[i].OK)
		}
		gh, wh := g[i].Head, w[i].Head
		if w[i].OK && !(gh.From == wh.From && gh.To == wh.To && gh.ID == wh.ID && gh.Timestamp == wh.Timestamp && gh.Type == wh.Type &&
			reflect.DeepEqual(gh.Edit, wh.Edit) && reflect.DeepEqual(gh.Revoke, wh.Revoke) && sameErrors(gh.Errors, wh.Errors)) {
			return fmt.Sprintf("message %d head %+v, want %+v", i, gh, wh)
		}
	}
	return ""
}

func sameErrors(g, w []Error) bool { return len(g) == 0 && len(w) == 0 || reflect.DeepEqual(g, w) }

func sameRaws(g, w [][]byte) string {
	if len(g) != len(w) {
		return fmt.Sprintf("%d items, want %d", len(g), len(w))
	}
	for i := range g {
		if !bytes.Equal(g[i], w[i]) {
			return fmt.Sprintf("item %d: %q, want %q", i, g[i], w[i])
		}
	}
	return ""
}

// checkSame fails when ParseBody and the reference disagree on body.
func checkSame(t *testing.T, body []byte) {
	t.Helper()
	got, gerr := ParseBody(body)
	want, werr := refParseBody(body)
	switch {
	case (gerr == nil) != (werr == nil):
		t.Fatalf("ParseBody(%q) error %v, encoding/json's %v", body, gerr, werr)
	case gerr != nil:
		return
	}
	if d := sameBody(got, want); d != "" {
		t.Fatalf("ParseBody(%q): %s", body, d)
	}
}

// wrap puts a change value into an envelope, the value first as Meta sends it.
func wrap(field, value string) string {
	return `{"object":"whatsapp_business_account","entry":[{"id":"1","time":1739230955,"changes":[{"value":` + value + `,"field":"` + field + `"}]}]}`
}

const meta = `"metadata":{"display_phone_number":"15550001","phone_number_id":"3001"}`

// Each case is a shape real or hostile senders produce; ParseBody must agree with
// encoding/json on all of them.
var differentialBodies = []string{
	wrap(FieldHistory, `{"messaging_product":"whatsapp",`+meta+`,"history":[{"metadata":{"phase":0,"chunk_order":1,"progress":55},"threads":[{"id":"u1","messages":[{"from":"u1","id":"wamid.A","timestamp":"1739230955","type":"text","text":{"body":"hi"},"history_context":{"status":"READ"}},{"from":"b","to":"u1","id":"wamid.B","timestamp":1739230956,"type":"image","image":{"id":"m"}}]}]}]}`),
	// field before value; whitespace everywhere; escapes in names and values
	`{ "object" : "whatsapp_business_account" , "entry" : [ { "id" : "1" , "changes" : [ { "field" : "history" , "value" : { ` + meta + ` , "history" : [ { "metadata" : { "phase" : "1" , "chunk_order" : "2" , "progress" : "100" } , "threads" : [ { "id" : "u\u0031" , "messages" : [ { "i\u0064" : "wamid.\"q\"" , "timestamp" : 1.739230955e9 } ] } ] } ] } } ] } ] }`,
	// case-insensitive names, duplicates (the last wins), nulls everywhere
	wrap(FieldHistory, `{"METADATA":{"Phone_Number_Id":"3001"},"history":null,"History":[null,{"metadata":null,"threads":[null,{"id":null,"messages":[null,{"ID":"x","id":"y","Timestamp":null,"type":null}]}]}]}`),
	wrap(FieldHistory, `{`+meta+`,"history":[{"errors":[{"code":2593109,"title":"declined","error_data":{"details":"d"}}]}]}`),
	wrap(FieldHistory, `{`+meta+`,"messages":[{"id":"wamid.M","type":"media_placeholder","timestamp":"1"}]}`),
	// type mismatches at each depth: the change is malformed
	wrap(FieldHistory, `"text"`),
	wrap(FieldHistory, `null`),
	wrap(FieldHistory, `{`+meta+`,"history":{"not":"an array"}}`),
	wrap(FieldHistory, `{`+meta+`,"history":[{"metadata":{"phase":true}}]}`),
	wrap(FieldHistory, `{`+meta+`,"history":[{"threads":[{"id":7}]}]}`),
	wrap(FieldHistory, `{`+meta+`,"history":[{"threads":"x"}]}`),
	wrap(FieldHistory, `{`+meta+`,"history":[{"errors":[{"code":"x"}]}]}`),
	wrap(FieldHistory, `{"metadata":{"phone_number_id":3001}}`),
	wrap(FieldHistory, `{"metadata":"x"}`),
	wrap(FieldHistory, `{"metadata":{}}`),
	// members of the other shapes are ignored, whatever their type
	wrap(FieldHistory, `{`+meta+`,"statuses":7,"state_sync":"x","message_echoes":{}}`),
	wrap(FieldMessages, `{`+meta+`,"history":7,"messages":[{"from":"u","id":"wamid.I","timestamp":"1739230955","type":"text"}],"statuses":[{"id":"wamid.S","status":"read"},null,7]}`),
	// unreadable messages: the message only
	wrap(FieldMessages, `{`+meta+`,"messages":[7,"s",[],{"id":5},{"id":"ok","timestamp":true},{"id":"ok2","timestamp":"x"},{"id":"ok3","edit":"x"},{"id":"ok4","errors":[{"code":"131060"}]},{"id":"ok5","type":"edit","edit":{"original_message_id":"o","message":{"text":{"body":"b"}}}},{"id":"ok6","type":"revoke","revoke":null},{"id":"ok7","errors":[{"code":131060}],"type":"unsupported"},{"type":"text"}]}`),
	wrap(FieldMessages, `{`+meta+`,"messages":"x"}`),
	wrap(FieldEchoes, `{`+meta+`,"message_echoes":[{"from":"b","to":"u","id":"wamid.E","timestamp":"1739230955","type":"text"}]}`),
	wrap(FieldEchoes, `{`+meta+`,"message_echoes":5}`),
	wrap(FieldStateSync, `{`+meta+`,"state_sync":[{"type":"contact","contact":{"full_name":"A","phone_number":"1"},"action":"add","metadata":{"timestamp":"1"}},"odd",null]}`),
	wrap(FieldStateSync, `{`+meta+`,"state_sync":{}}`),
	wrap(FieldAccountUpdate, `{"event":"PARTNER_REMOVED","phone_number":"15550001"}`),
	wrap("unknown_field", `{"anything":[1,2,{"x":null}]}`),
	wrap("", `{`+meta+`}`),
	// invalid UTF-8 and escaped non-ASCII in ids
	wrap(FieldMessages, "{"+meta+",\"messages\":[{\"id\":\"wamid.\xff\xfe\",\"from\":\"\\u00e9\"}]}"),
	// envelope-level trouble: the whole body is malformed
	`[]`, `null`, `"x"`, ``, `   `, `{`, `{}`, `{"object":"page","entry":[]}`,
	`{"object":"whatsapp_business_account","entry":[]}`,
	`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[]}]}`,
	`{"object":7,"entry":[]}`,
	`{"object":"whatsapp_business_account","entry":{}}`,
	`{"object":"whatsapp_business_account","entry":[7]}`,
	`{"object":"whatsapp_business_account","entry":[{"id":1,"changes":[{"field":"history","value":{}}]}]}`,
	`{"object":"whatsapp_business_account","entry":[{"id":"1","time":true,"changes":[{"field":"history","value":{}}]}]}`,
	`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[7]}]}`,
	`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":5,"value":{}}]}]}`,
	`{"object":"whatsapp_business_account","entry":[null,{"id":"1","changes":[null,{"field":"history","value":{}}]}]}`,
	wrap(FieldHistory, `{`+meta+`}`) + ` {}`,
	wrap(FieldHistory, `{`+meta+`}`) + ` x`,
	wrap(FieldHistory, `{`+meta+`,}`),
	wrap(FieldHistory, `{`+meta+`,"history":[{"metadata":{"phase":01}}]}`),
}

func TestParseBodyAgreesWithEncodingJSON(t *testing.T) {
	for i, body := range differentialBodies {
		t.Run(fmt.Sprint(i), func(t *testing.T) { checkSame(t, []byte(body)) })
	}
	for name, body := range testdataBodies(t) {
		t.Run(name, func(t *testing.T) { checkSame(t, body) })
	}
}

// The cases above exercise what they claim: ParseBody's answers on a few are pinned, so a
// parser that read nothing would not agree with a reference that read nothing either.
func TestParseBodyReads(t *testing.T) {
	b, err := ParseBody([]byte(differentialBodies[0]))
	if err != nil {
		t.Fatal(err)
	}
	c := b.Entries[0].Changes[0]
	msgs := c.History[0].Threads[0].Messages
	if c.Malformed || c.Metadata.PhoneNumberID != "3001" || len(msgs) != 2 || !msgs[0].OK || msgs[0].Head.ID != "wamid.A" ||
		msgs[0].Head.Timestamp != 1739230955 || msgs[1].Head.Thread() != "u1" || !strings.HasPrefix(string(msgs[0].Raw), `{"from":"u1"`) ||
		!strings.HasSuffix(string(msgs[0].Raw), `"READ"}}`) || c.History[0].Metadata.Progress != 55 {
		t.Errorf("history change read as %+v", c)
	}
	b, err = ParseBody([]byte(differentialBodies[1]))
	if err != nil {
		t.Fatal(err)
	}
	if m := b.Entries[0].Changes[0].History[0].Threads[0].Messages[0]; !m.OK || m.Head.ID != `wamid."q"` || m.Head.Timestamp != 1739230955 {
		t.Errorf("escaped id and float timestamp read as %+v", m)
	}
	for _, i := range []int{5, 6, 7, 8, 9, 10, 11, 12, 13, 14} {
		b, err := ParseBody([]byte(differentialBodies[i]))
		if err != nil || !b.Entries[0].Changes[0].Malformed {
			t.Errorf("case %d: want a malformed change, got %v", i, err)
		}
	}
}

func FuzzParseBody(f *testing.F) {
	for _, body := range differentialBodies {
		f.Add([]byte(body))
	}
	for _, body := range testdataBodies(f) {
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkSame(t, body) })
}
