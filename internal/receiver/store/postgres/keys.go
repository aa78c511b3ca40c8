// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package postgres

import (
	"crypto/sha256"
	"encoding/binary"
)

// Advisory lock keys. PostgreSQL's advisory locks are named by one bigint per database; a
// 64-bit hash of a prefixed name makes a collision (which would only make two apps or
// streams wait for each other, never share one) practically impossible.

// appLockKey names the lock held by the receiver applying a MetaApp's records.
func appLockKey(namespace, app string) int64 {
	return lockKey("inbox", namespace, app)
}

// outboxLockKey names the lock held by the receiver relaying a stream.
func outboxLockKey(stream string) int64 {
	return lockKey("outbox", stream)
}

func lockKey(parts ...string) int64 {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0}) // "a","bc" and "ab","c" differ
	}
	return int64(binary.BigEndian.Uint64(h.Sum(nil)))
}
