// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package store

import "time"

// NumberCounts is what the receiver has recorded for one CoexNumber: absolute counts, from
// which its status is written. Stored as JSON in both backends.
type NumberCounts struct {
	// UID is the CoexNumber's the counts belong to.
	UID          string `json:"uid,omitempty"`
	HistoryPhase *int32 `json:"historyPhase,omitempty"`
	Chunks       int64  `json:"chunks,omitempty"`
	Progress     int32  `json:"progress,omitempty"`
	Threads      int64  `json:"threads,omitempty"`
	Messages     int64  `json:"messages,omitempty"`
	MediaFollows int64  `json:"mediaFollows,omitempty"`
	// PhaseChunks tracks the chunk orders seen per phase, to tell when none is missing.
	PhaseChunks      [3]ChunkRange `json:"phaseChunks"`
	FinalChunkSeen   bool          `json:"finalChunkSeen,omitempty"` // a chunk with progress 100
	FinalPhase       int32         `json:"finalPhase,omitempty"`     // the phase of that chunk
	Declined         bool          `json:"declined,omitempty"`
	HistoryStartedAt *time.Time    `json:"historyStartedAt,omitempty"`
	CompletedAt      *time.Time    `json:"completedAt,omitempty"`

	ContactsAdded   int64 `json:"contactsAdded,omitempty"`
	ContactsRemoved int64 `json:"contactsRemoved,omitempty"`

	Echoes     int64      `json:"echoes,omitempty"`
	EchoLastAt *time.Time `json:"echoLastAt,omitempty"`

	Unsupported       int64      `json:"unsupported,omitempty"`
	UnsupportedLastAt *time.Time `json:"unsupportedLastAt,omitempty"`

	Offboarding *OffboardingRecord `json:"offboarding,omitempty"`
	// OffboardedSince is when the Offboarded condition last changed.
	OffboardedSince *time.Time `json:"offboardedSince,omitempty"`
}

// ChunkRange summarizes the distinct chunk orders seen in one phase.
type ChunkRange struct {
	Count int64 `json:"n,omitempty"`
	Min   int64 `json:"min,omitempty"`
	Max   int64 `json:"max,omitempty"`
}

// Add records a new distinct chunk order.
func (r *ChunkRange) Add(order int64) {
	if r.Count == 0 || order < r.Min {
		r.Min = order
	}
	if r.Count == 0 || order > r.Max {
		r.Max = order
	}
	r.Count++
}

// Complete reports whether the orders seen have no gap: Meta numbers chunks from 1 (or 0)
// up, so a phase is whole when its distinct count spans min to max from its start.
func (r ChunkRange) Complete() bool {
	return r.Count > 0 && r.Min <= 1 && r.Count == r.Max-r.Min+1
}

// OffboardingRecord is the last account_update applied.
type OffboardingRecord struct {
	Event       string    `json:"event"`
	Reason      string    `json:"reason,omitempty"`
	InitiatedBy string    `json:"initiatedBy,omitempty"`
	At          time.Time `json:"at"`
}
