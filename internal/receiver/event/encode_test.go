// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package event

import (
	"encoding/json"
	"testing"
	"time"
)

// TestAppendEventMatchesEncodingJSON: the hand-written encoder writes exactly what
// encoding/json writes for the same Event.
func TestAppendEventMatchesEncodingJSON(t *testing.T) {
	phase, chunk := int64(2), int64(17)
	closes := time.Date(2026, 11, 23, 10, 4, 5, 120, time.UTC)
	cases := map[string]Event{
		"minimal": {ID: "contact:1", Type: TypeContact, Namespace: "ns", Number: "n"},
		"history": {ID: "history.message:wamid.X", Type: TypeHistoryMessage, Namespace: "ns", Number: "n",
			PhoneNumberID: "3001", WABAID: "2001", Timestamp: 1739230955, MessageID: "wamid.X", ThreadID: "16505550123",
			HistoryPhase: &phase, HistoryChunk: &chunk, Data: json.RawMessage(`{"id":"wamid.X","text":{"body":"hi"}}`)},
		"window": {ID: "message:m", Type: TypeMessage, Namespace: "ns", Number: "n", WindowClosesAt: &closes,
			OriginalMessageID: "o"},
		"escapes":        {ID: "a\"b\\c\n\r\t\x01<>&\u2028\u2029é😀", Type: "t", Namespace: "ns", Number: "n\xff"},
		"zero timestamp": {ID: "x", Type: "t", Namespace: "ns", Number: "n", Timestamp: 0, MessageID: ""},
	}
	for name, ev := range cases {
		t.Run(name, func(t *testing.T) {
			want, err := json.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			if got := ev.AppendJSON(nil); string(got) != string(want) {
				t.Errorf("AppendJSON:\n got %s\nwant %s", got, want)
			}
		})
	}
}

// FuzzAppendString: any string encodes as encoding/json encodes it.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "\"\\\n", "\x00\x1f<>&", "\u2028é😀", "\xff\xfe", "a\xc3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendString(nil, s); string(got) != string(want) {
			t.Fatalf("appendString(%q) = %s, want %s", s, got, want)
		}
	})
}
