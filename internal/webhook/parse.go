// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrMalformed wraps every error about a body or a change value that is not a webhook Meta
// would send. Delivering the same body again cannot fix it.
var ErrMalformed = errors.New("malformed webhook")

// ErrUnknownField wraps the error DecodeChange returns for a field this package has no type
// for. It is not a fault: Meta adds fields, and an app may be subscribed to more than the
// coexistence ones, so the receiver should skip such a change and still answer 200.
var ErrUnknownField = errors.New("unknown webhook field")

// ParseEnvelope decodes a webhook body. It fails, with ErrMalformed, when the body is not a
// JSON object, when its object is not ObjectWABA, or when no entry holds a change. Unknown
// fields are ignored; the change values are left raw for DecodeChange, so one odd value does
// not cost the others.
func ParseEnvelope(body []byte) (*Envelope, error) {
	// json.Unmarshal accepts null into a struct without complaint; check the shape first so the
	// error says what was wrong.
	if trimmed := bytes.TrimLeft(body, " \t\r\n"); len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, fmt.Errorf("%w: body is not a JSON object", ErrMalformed)
	}
	var env Envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if env.Object != ObjectWABA {
		return nil, fmt.Errorf("%w: object is %q, want %q", ErrMalformed, env.Object, ObjectWABA)
	}
	for _, e := range env.Entry {
		if len(e.Changes) > 0 {
			return &env, nil
		}
	}
	// Meta never sends a webhook with nothing in it; such a body is not from Meta.
	return nil, fmt.Errorf("%w: no entry holds a change (%d entries)", ErrMalformed, len(env.Entry))
}

// DecodeChange decodes c's value according to its field: *HistoryValue, *StateSyncValue,
// *EchoesValue, *MessagesValue or *AccountUpdateValue. For any other field it returns nil and
// an error wrapping ErrUnknownField; for a value that is missing, null or of the wrong shape,
// nil and an error wrapping ErrMalformed that names the field.
//
// The leniency Meta's inconsistencies need lives in the types (payload.go): FlexInt takes
// numbers and quoted strings, HistoryValue takes history[] or messages[], HistoryChunk takes
// threads: [] and the declined errors[], AccountUpdateValue takes phone_number or waba_info,
// and unknown fields are ignored everywhere.
func DecodeChange(c Change) (any, error) {
	var v any
	switch c.Field {
	case FieldHistory:
		v = new(HistoryValue)
	case FieldStateSync:
		v = new(StateSyncValue)
	case FieldEchoes:
		v = new(EchoesValue)
	case FieldMessages:
		v = new(MessagesValue)
	case FieldAccountUpdate:
		v = new(AccountUpdateValue)
	default:
		return nil, fmt.Errorf("%w: %q", ErrUnknownField, c.Field)
	}
	// json.Unmarshal leaves the value zero for null; a change without a value is no change.
	if raw := bytes.TrimSpace(c.Value); len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, fmt.Errorf("%w: %s value is missing or null", ErrMalformed, c.Field)
	}
	if err := json.Unmarshal(c.Value, v); err != nil {
		return nil, fmt.Errorf("%w: %s value: %w", ErrMalformed, c.Field, err)
	}
	return v, nil
}
