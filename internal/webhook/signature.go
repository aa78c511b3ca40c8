// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"strings"
)

// SignatureHeader carries the HMAC-SHA256 of the raw body keyed by the app secret.
const SignatureHeader = "X-Hub-Signature-256"

const signaturePrefix = "sha256="

// Sign returns the X-Hub-Signature-256 value for body: "sha256=" and the hex HMAC-SHA256 of
// the raw body keyed by the app secret.
func Sign(appSecret, body []byte) string {
	mac := hmac.New(sha256.New, appSecret)
	mac.Write(body)
	return signaturePrefix + hex.EncodeToString(mac.Sum(nil))
}

// NewMAC returns the HMAC that Sign and Verify compute, for a caller that hashes a body
// while reading it; check the result with VerifySum.
func NewMAC(appSecret []byte) hash.Hash { return hmac.New(sha256.New, appSecret) }

// VerifySum reports, in constant time, whether header carries sum (a NewMAC's Sum). An empty
// key never verifies: the caller must not have made its MAC with one.
func VerifySum(sum []byte, header string) bool {
	if !strings.HasPrefix(header, signaturePrefix) {
		return false
	}
	got, err := hex.DecodeString(header[len(signaturePrefix):])
	if err != nil || len(got) != sha256.Size {
		return false
	}
	return hmac.Equal(got, sum)
}

// Verify reports whether header is body's signature under appSecret. The comparison takes the
// same time wherever the first wrong byte is, so an attacker learns nothing from timing.
func Verify(appSecret, body []byte, header string) bool {
	if len(appSecret) == 0 || !strings.HasPrefix(header, signaturePrefix) {
		return false
	}
	got, err := hex.DecodeString(header[len(signaturePrefix):])
	if err != nil || len(got) != sha256.Size {
		return false
	}
	mac := hmac.New(sha256.New, appSecret)
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}
