// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// ParseBody reads a webhook body in one pass over its bytes: the envelope, every change and,
// for the fields the receiver applies, their messages, whose raw bytes are kept as sub-slices
// of body (not copies: body must outlive the result). It fails, with ErrMalformed, when body
// is not one JSON value, not an object, its object is not ObjectWABA, no entry holds a change,
// or the envelope's own members have the wrong type. A change value of the wrong shape only
// marks that change Malformed; an unreadable message only that message.
//
// It is as lenient as encoding/json was with the same shapes (member names matched without
// regard to ASCII case, the last of duplicate names kept, null as zero, FlexInt timestamps,
// unknown members ignored), which the differential tests and fuzzer check against it.
//
// The tokenizer is jsontext, from the json/v2 design that Go's encoding/json/v2 is built on:
// it reads names and values in place without reflection, and unlike the decoders that depend
// on runtime internals it builds with any supported Go.
func ParseBody(body []byte) (*Body, error) {
	p := bodyParser{body: body}
	p.d = jsontext.NewDecoder(bytes.NewBuffer(body), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	if p.d.PeekKind() != '{' {
		if _, err := p.d.ReadValue(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		return nil, fmt.Errorf("%w: body is not a JSON object", ErrMalformed)
	}
	b, err := p.envelope()
	if err == nil {
		if _, terr := p.d.ReadToken(); terr != io.EOF {
			err = errors.New("more than one JSON value")
			if terr != nil {
				err = terr
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if b.Object != ObjectWABA {
		return nil, fmt.Errorf("%w: object is %q, want %q", ErrMalformed, b.Object, ObjectWABA)
	}
	for _, e := range b.Entries {
		if len(e.Changes) > 0 {
			return b, nil
		}
	}
	// Meta never sends a webhook with nothing in it; such a body is not from Meta.
	return nil, fmt.Errorf("%w: no entry holds a change (%d entries)", ErrMalformed, len(b.Entries))
}

type bodyParser struct {
	d       *jsontext.Decoder
	body    []byte
	scratch []byte // unquoted names with escapes
}

// kind is what a value turned out to be where an object or array was expected.
type kind int

const (
	kindWanted kind = iota // the object or array, read
	kindNull               // null: the zero value, as encoding/json leaves it
	kindOther              // anything else, skipped: a type mismatch
)

// typeError is returned by the envelope's readers for a member of the wrong type; values below
// the envelope report mismatches by flag instead, so the walk goes on.
type typeError struct{ what string }

func (e typeError) Error() string { return e.what + " has the wrong type" }

func (p *bodyParser) envelope() (*Body, error) {
	b := &Body{}
	var bad error
	_, err := p.object(func(name []byte) error {
		switch {
		case is(name, "object"):
			return p.envString(&b.Object, "object", &bad)
		case is(name, "entry"):
			return envList(p, &b.Entries, "entry", &bad, p.entry)
		}
		return p.d.SkipValue()
	})
	if err == nil {
		err = bad
	}
	return b, err
}

func (p *bodyParser) entry() (BodyEntry, error) {
	var e BodyEntry
	var bad error
	k, err := p.object(func(name []byte) error {
		switch {
		case is(name, "id"):
			return p.envString(&e.ID, "entry id", &bad)
		case is(name, "time"):
			f, ok, err := p.flex()
			if !ok && err == nil {
				bad = typeError{"entry time"}
			}
			e.Time = f
			return err
		case is(name, "changes"):
			return envList(p, &e.Changes, "changes", &bad, p.change)
		}
		return p.d.SkipValue()
	})
	if k == kindOther && err == nil {
		err = typeError{"entry"}
	}
	if err == nil {
		err = bad
	}
	return e, err
}

// envString reads a string member of the envelope into dst; another type sets *bad.
func (p *bodyParser) envString(dst *string, what string, bad *error) error {
	s, ok, err := p.str()
	if !ok && err == nil {
		*bad = typeError{what}
	}
	*dst = s
	return err
}

// envList reads an array member of the envelope into dst, each element with read; another
// type than an array or null sets *bad.
func envList[T any](p *bodyParser, dst *[]T, what string, bad *error, read func() (T, error)) error {
	*dst = (*dst)[:0]
	k, err := p.array(func() error {
		v, err := read()
		if err == nil {
			*dst = append(*dst, v)
		}
		return err
	})
	if k == kindOther && err == nil {
		*bad = typeError{what}
	}
	return err
}

// change reads one change. Its value may come before its field (Meta puts it first), so the
// value is read as the union of the decoded fields' shapes, which share no member name with
// different types, and each member's mismatches are kept apart until the field is known.
func (p *bodyParser) change() (BodyChange, error) {
	var c BodyChange
	var v changeValue
	var bad error
	k, err := p.object(func(name []byte) error {
		switch {
		case is(name, "field"):
			return p.envString(&c.Field, "change field", &bad)
		case is(name, "value"):
			start := p.offset()
			v = changeValue{}
			err := p.value(&v)
			c.Value = p.since(start)
			return err
		}
		return p.d.SkipValue()
	})
	if k == kindOther && err == nil {
		err = typeError{"change"}
	}
	if err == nil {
		err = bad
	}
	if err != nil || !Decoded(c.Field) {
		return c, err
	}
	c.Metadata, c.Messages = v.metadata, v.messages
	c.Malformed = v.notObject || v.badCommon
	switch c.Field {
	case FieldHistory:
		c.History = v.history
		c.Malformed = c.Malformed || v.badHistory
	default:
		c.Echoes, c.Statuses, c.StateSync = v.echoes, v.statuses, v.stateSync
		c.Malformed = c.Malformed || v.badList
	}
	c.Malformed = c.Malformed || c.Metadata.PhoneNumberID == ""
	return c, nil
}

// changeValue is the union of the decoded fields' values, with their mismatches: in members
// all of them have (badCommon), in history's (badHistory), in the lists' (badList).
type changeValue struct {
	metadata  Metadata
	messages  []RawMessage
	history   []RawChunk
	echoes    []RawMessage
	statuses  [][]byte
	stateSync [][]byte

	notObject, badCommon, badHistory, badList bool
}

func (p *bodyParser) value(v *changeValue) error {
	k, err := p.object(func(name []byte) error {
		switch {
		case is(name, "metadata"):
			v.metadata = Metadata{}
			return p.metadata(&v.metadata, &v.badCommon)
		case is(name, "messages"):
			var err error
			v.messages, err = p.messages(v.messages[:0], &v.badCommon)
			return err
		case is(name, "history"):
			v.history = v.history[:0]
			k, err := p.array(func() error {
				c, err := p.chunk(&v.badHistory)
				v.history = append(v.history, c)
				return err
			})
			v.badHistory = v.badHistory || k == kindOther
			return err
		case is(name, "message_echoes"):
			var err error
			v.echoes, err = p.messages(v.echoes[:0], &v.badList)
			return err
		case is(name, "statuses"):
			var err error
			v.statuses, err = p.raws(v.statuses[:0], &v.badList)
			return err
		case is(name, "state_sync"):
			var err error
			v.stateSync, err = p.raws(v.stateSync[:0], &v.badList)
			return err
		}
		return p.d.SkipValue()
	})
	v.notObject = k == kindOther
	return err
}

func (p *bodyParser) metadata(m *Metadata, bad *bool) error {
	k, err := p.object(func(name []byte) error {
		var dst *string
		switch {
		case is(name, "phone_number_id"):
			dst = &m.PhoneNumberID
		case is(name, "display_phone_number"):
			dst = &m.DisplayPhoneNumber
		default:
			return p.d.SkipValue()
		}
		return p.strInto(dst, bad)
	})
	*bad = *bad || k == kindOther
	return err
}

func (p *bodyParser) chunk(bad *bool) (RawChunk, error) {
	var c RawChunk
	k, err := p.object(func(name []byte) error {
		switch {
		case is(name, "metadata"):
			if p.d.PeekKind() == 'n' {
				c.Metadata = nil
				_, err := p.d.ReadToken()
				return err
			}
			m := &ChunkMetadata{}
			k, err := p.object(func(name []byte) error {
				var dst *FlexInt
				switch {
				case is(name, "phase"):
					dst = &m.Phase
				case is(name, "chunk_order"):
					dst = &m.ChunkOrder
				case is(name, "progress"):
					dst = &m.Progress
				default:
					return p.d.SkipValue()
				}
				return p.flexInto(dst, bad)
			})
			*bad = *bad || k == kindOther
			c.Metadata = m
			return err
		case is(name, "threads"):
			c.Threads = c.Threads[:0]
			k, err := p.array(func() error {
				t, err := p.thread(bad)
				c.Threads = append(c.Threads, t)
				return err
			})
			*bad = *bad || k == kindOther
			return err
		case is(name, "errors"):
			var err error
			c.Errors, err = p.errors(bad)
			return err
		}
		return p.d.SkipValue()
	})
	*bad = *bad || k == kindOther
	return c, err
}

func (p *bodyParser) thread(bad *bool) (RawThread, error) {
	var t RawThread
	k, err := p.object(func(name []byte) error {
		switch {
		case is(name, "id"):
			return p.strInto(&t.ID, bad)
		case is(name, "messages"):
			var err error
			t.Messages, err = p.messages(t.Messages[:0], bad)
			return err
		}
		return p.d.SkipValue()
	})
	*bad = *bad || k == kindOther
	return t, err
}

// messages reads an array of messages. A message that is not an object, or whose head does not
// read, is kept with OK false; only a list that is not an array is a mismatch.
func (p *bodyParser) messages(out []RawMessage, bad *bool) ([]RawMessage, error) {
	k, err := p.array(func() error {
		start := p.offset()
		var m RawMessage
		headBad := false
		k, err := p.object(func(name []byte) error { return p.head(name, &m.Head, &headBad) })
		m.Raw = p.since(start)
		m.OK = k == kindWanted && !headBad && m.Head.ID != ""
		out = append(out, m)
		return err
	})
	*bad = *bad || k == kindOther
	return out, err
}

func (p *bodyParser) head(name []byte, h *MessageHead, bad *bool) error {
	var dst *string
	switch {
	case is(name, "id"):
		dst = &h.ID
	case is(name, "from"):
		dst = &h.From
	case is(name, "to"):
		dst = &h.To
	case is(name, "type"):
		dst = &h.Type
	case is(name, "timestamp"):
		return p.flexInto(&h.Timestamp, bad)
	case is(name, "edit"):
		var err error
		h.Edit, err = p.original(bad)
		return err
	case is(name, "revoke"):
		var err error
		h.Revoke, err = p.original(bad)
		return err
	case is(name, "errors"):
		var err error
		h.Errors, err = p.errors(bad)
		return err
	default:
		return p.d.SkipValue()
	}
	return p.strInto(dst, bad)
}

func (p *bodyParser) original(bad *bool) (*OriginalMessage, error) {
	if p.d.PeekKind() == 'n' {
		_, err := p.d.ReadToken()
		return nil, err
	}
	o := &OriginalMessage{}
	k, err := p.object(func(name []byte) error {
		if !is(name, "original_message_id") {
			return p.d.SkipValue()
		}
		return p.strInto(&o.OriginalMessageID, bad)
	})
	*bad = *bad || k == kindOther
	return o, err
}

// errors reads an errors array with encoding/json: it is rare and small, and Error has
// nested members the hot path does not need.
func (p *bodyParser) errors(bad *bool) ([]Error, error) {
	start := p.offset()
	if err := p.d.SkipValue(); err != nil {
		return nil, err
	}
	var out []Error
	if json.Unmarshal(p.since(start), &out) != nil {
		*bad = true
	}
	return out, nil
}

// raws reads an array of values of any kind, kept raw.
func (p *bodyParser) raws(out [][]byte, bad *bool) ([][]byte, error) {
	k, err := p.array(func() error {
		start := p.offset()
		if err := p.d.SkipValue(); err != nil {
			return err
		}
		out = append(out, p.since(start))
		return nil
	})
	*bad = *bad || k == kindOther
	return out, err
}

// object reads an object, calling member for each name with the decoder before its value,
// which member must consume. null and other kinds are consumed and reported.
func (p *bodyParser) object(member func(name []byte) error) (kind, error) {
	return p.container('{', '}', func() error {
		name, err := p.name()
		if err != nil {
			return err
		}
		return member(name)
	})
}

// array reads an array, calling elem for each element, which elem must consume.
func (p *bodyParser) array(elem func() error) (kind, error) {
	return p.container('[', ']', elem)
}

// container reads an object or an array (open ... close), calling each until its end.
func (p *bodyParser) container(open, end jsontext.Kind, each func() error) (kind, error) {
	switch p.d.PeekKind() {
	case open:
	case 'n':
		_, err := p.d.ReadToken()
		return kindNull, err
	default:
		return kindOther, p.d.SkipValue()
	}
	if _, err := p.d.ReadToken(); err != nil {
		return kindWanted, err
	}
	for p.d.PeekKind() != end {
		if err := each(); err != nil {
			return kindWanted, err
		}
	}
	_, err := p.d.ReadToken()
	return kindWanted, err
}

// name reads an object member's name, unquoted. Without escapes (the rule) it is a view of the
// decoder's buffer, valid until the next read.
func (p *bodyParser) name() ([]byte, error) {
	v, err := p.d.ReadValue()
	if err != nil {
		return nil, err
	}
	if bytes.IndexByte(v, '\\') < 0 {
		return v[1 : len(v)-1], nil
	}
	p.scratch, err = jsontext.AppendUnquote(p.scratch[:0], v)
	return p.scratch, err
}

// str reads a string or null (""); ok is false, and the value skipped, for anything else.
func (p *bodyParser) str() (s string, ok bool, err error) {
	v, err := p.d.ReadValue()
	if err != nil {
		return "", false, err
	}
	switch v.Kind() {
	case 'n':
		return "", true, nil
	case '"':
		return unquote(v), true, nil
	}
	return "", false, nil
}

// strInto reads a string or null into dst; anything else sets *bad.
func (p *bodyParser) strInto(dst *string, bad *bool) error {
	s, ok, err := p.str()
	*dst, *bad = s, *bad || !ok
	return err
}

// flexInto reads a FlexInt into dst; anything else sets *bad.
func (p *bodyParser) flexInto(dst *FlexInt, bad *bool) error {
	f, ok, err := p.flex()
	*dst, *bad = f, *bad || !ok
	return err
}

// flex reads a FlexInt: a number, a string holding one (or empty), or null; ok is false for
// anything else.
func (p *bodyParser) flex() (FlexInt, bool, error) {
	v, err := p.d.ReadValue()
	if err != nil {
		return 0, false, err
	}
	var f FlexInt
	return f, f.UnmarshalJSON(v) == nil, nil
}

// unquote decodes a JSON string read by the decoder (so valid), the way encoding/json does.
func unquote(v []byte) string {
	inner := v[1 : len(v)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner)
	}
	var s string
	_ = json.Unmarshal(v, &s) // escapes, or invalid UTF-8 replaced by U+FFFD
	return s
}

// offset is where the next value starts reading; since returns the value read from there on,
// trimmed of the separators before it.
func (p *bodyParser) offset() int64 { return p.d.InputOffset() }

func (p *bodyParser) since(start int64) []byte {
	return bytes.TrimLeft(p.body[start:p.d.InputOffset()], " \t\r\n,:")
}

// is matches a member name the way encoding/json does for ASCII names: exactly, else without
// regard to case.
func is(name []byte, want string) bool {
	return len(name) == len(want) && (string(name) == want || bytes.EqualFold(name, []byte(want)))
}
