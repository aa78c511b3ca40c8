// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package relay

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Headers of a relay POST. The signature is Sign(secret, timestamp, body); tenants check
// it with Verify and should also reject timestamps far from their clock (replays).
// The delivery id is "<stream>:<firstSeq>-<lastSeq>": a retried batch starts at the same
// firstSeq.
const (
	HeaderTimestamp = "X-Coex-Timestamp"
	HeaderSignature = "X-Coex-Signature-256"
	HeaderDelivery  = "X-Coex-Delivery"
)

// Sign returns the X-Coex-Signature-256 value of a relay POST: "sha256=" and the hex
// HMAC-SHA256, keyed with the endpoint's secret, of timestamp (the X-Coex-Timestamp value),
// a dot and the body.
func Sign(secret []byte, timestamp string, body []byte) string {
	return "sha256=" + hex.EncodeToString(hmacOf(secret, timestamp, body))
}

// Verify reports whether header is the X-Coex-Signature-256 of a POST with timestamp
// and body, in constant time. It does not check the timestamp's age: tenants should also
// reject timestamps far from their clock (a few minutes) to stop replays.
func Verify(secret []byte, timestamp string, body []byte, header string) bool {
	hexMAC, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexMAC)
	if err != nil {
		return false
	}
	return hmac.Equal(got, hmacOf(secret, timestamp, body))
}

func hmacOf(secret []byte, timestamp string, body []byte) []byte {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(timestamp))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return mac.Sum(nil)
}
