// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package event

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendJSON appends ev's JSON to dst: the same document encoding/json writes for Event
// (encode_test.go checks), without reflection. Every history message becomes one event, so
// at 500,000 messages the encoder is a measurable part of a sync.
func (ev *Event) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendString(dst, ev.ID)
	dst = append(dst, `,"type":`...)
	dst = appendString(dst, ev.Type)
	dst = append(dst, `,"namespace":`...)
	dst = appendString(dst, ev.Namespace)
	dst = append(dst, `,"number":`...)
	dst = appendString(dst, ev.Number)
	dst = appendOptString(dst, `,"phoneNumberID":`, ev.PhoneNumberID)
	dst = appendOptString(dst, `,"wabaID":`, ev.WABAID)
	if ev.Timestamp != 0 {
		dst = append(dst, `,"timestamp":`...)
		dst = strconv.AppendInt(dst, ev.Timestamp, 10)
	}
	dst = appendOptString(dst, `,"messageID":`, ev.MessageID)
	dst = appendOptString(dst, `,"originalMessageID":`, ev.OriginalMessageID)
	dst = appendOptString(dst, `,"threadID":`, ev.ThreadID)
	if ev.HistoryPhase != nil {
		dst = append(dst, `,"historyPhase":`...)
		dst = strconv.AppendInt(dst, *ev.HistoryPhase, 10)
	}
	if ev.HistoryChunk != nil {
		dst = append(dst, `,"historyChunk":`...)
		dst = strconv.AppendInt(dst, *ev.HistoryChunk, 10)
	}
	if ev.WindowClosesAt != nil {
		dst = append(dst, `,"windowClosesAt":"`...)
		dst = ev.WindowClosesAt.AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, '"')
	}
	if len(ev.Data) > 0 {
		dst = append(dst, `,"data":`...)
		dst = append(dst, ev.Data...)
	}
	return append(dst, '}')
}

func appendOptString(dst []byte, key, s string) []byte {
	if s == "" {
		return dst
	}
	return appendString(append(dst, key...), s)
}

// appendString writes s as a JSON string, escaped as encoding/json does (HTML characters
// included, invalid UTF-8 replaced).
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c == '\b':
				dst = append(dst, '\\', 'b')
			case c == '\f':
				dst = append(dst, '\\', 'f')
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}
