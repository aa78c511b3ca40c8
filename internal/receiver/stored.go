// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package receiver

import "github.com/coex-operator/coex-operator/internal/receiver/store"

// The store's types, as the processing code names them. The receiver works on any
// store.Store: it never knows which backend keeps its data.
type (
	Record            = store.Record
	NumberCounts      = store.NumberCounts
	ChunkRange        = store.ChunkRange
	OffboardingRecord = store.OffboardingRecord
	DeadLetter        = store.DeadLetter
	OutboxItem        = store.OutboxItem
)
