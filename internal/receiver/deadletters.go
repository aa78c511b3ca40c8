// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package receiver

import (
	"context"
	"fmt"
)

// ReplayDeadLetters moves every dead letter back into the spool, as received, so the next
// dispatch applies it: after the missing CoexNumber was created, say. What is still
// unreadable or unmatched becomes a dead letter again. Items already applied from a letter
// (the changes of a payload that did match) are recognised and not counted twice. It needs the
// receiver stopped (bbolt locks the files) and returns how many letters were moved.
func ReplayDeadLetters(ctx context.Context, spool *Spool, state *State) (int, error) {
	return state.TakeDeadLetters(func(letters []DeadLetter) error {
		for _, d := range letters {
			rec := &Record{Namespace: d.Namespace, App: d.App, ReceivedAt: d.ReceivedAt, Body: d.Body}
			if err := spool.Append(ctx, rec); err != nil {
				return fmt.Errorf("replay dead letter %d: %w", d.Seq, err)
			}
		}
		return nil
	})
}
