// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graph

import "encoding/json"

// Secret holds a token, an app secret, a signup code or a verify token. Every way of printing
// or encoding it yields "[redacted]", so a Secret that slips into an error, a log line or a
// metric label gives nothing away; Reveal is the one way to the value, for the wire.
type Secret string

const redacted = "[redacted]"

// Reveal returns the secret's value. Call it only to put the value on the wire.
func (s Secret) Reveal() string { return string(s) }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s == "" }

// String implements fmt.Stringer: %s and %v print "[redacted]".
func (s Secret) String() string { return redacted }

// GoString implements fmt.GoStringer: %#v prints "[redacted]".
func (s Secret) GoString() string { return redacted }

// MarshalJSON encodes "[redacted]", so a struct holding a Secret can be logged as JSON.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(redacted) }

// MarshalText encodes "[redacted]" (used by structured loggers and encoders).
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }
