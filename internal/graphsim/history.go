// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graphsim

import (
	"context"

	"github.com/coex-operator/coex-operator/internal/webhook"
)

// numberView is what a sync's emitter needs of a number, copied under the lock so a
// re-onboarding during emission does not change a sync already under way.
type numberView struct {
	id, wabaID, ownerBusinessID string
	gen                         *generator
}

func (s *Sim) viewLocked(n *number) numberView {
	v := numberView{id: n.id, wabaID: n.wabaID, gen: n.gen}
	if w := s.wabas[n.wabaID]; w != nil {
		v.ownerBusinessID = w.ownerBusinessID
	}
	return v
}

func (v numberView) metadata() webhook.Metadata {
	return webhook.Metadata{DisplayPhoneNumber: v.gen.r.display, PhoneNumberID: v.id}
}

// emitHistory sends a history sync: phases 0, 1, 2 in turn, each phase's chunks shuffled,
// recent media following the chunk that holds their placeholders, and progress rising with
// every chunk sent to reach 100 only on phase 2's last, empty chunk. When the business
// declined, one webhook with error 2593109 instead.
func (s *Sim) emitHistory(ctx context.Context, v numberView) {
	g := v.gen
	if g.r.declined {
		value := wireHistoryValue{MessagingProduct: "whatsapp", Metadata: v.metadata(), History: []wireChunk{{
			Errors: []webhook.Error{{
				Code:      webhook.CodeHistoryDeclined,
				Title:     "History sync is turned off by the business from the WhatsApp Business App",
				Message:   "History sync is turned off by the business from the WhatsApp Business App",
				ErrorData: &webhook.ErrorData{Details: "History sharing is turned off by the business"},
			}},
		}}}
		_ = s.emit(ctx, v.wabaID, webhook.FieldHistory, timeNumber, value, nil)
		return
	}
	var orders [3][]int
	total := 0
	for p := range 3 {
		orders[p] = g.phaseOrder(p)
		total += len(orders[p])
	}
	sent := 0
	for p := range 3 {
		for _, c := range orders[p] {
			sent++
			progress := 100
			if sent < total {
				progress = min(99, 100*sent/total)
			}
			threads, follow := g.chunk(p, c)
			value := wireHistoryValue{MessagingProduct: "whatsapp", Metadata: v.metadata(), History: []wireChunk{{
				Metadata: &webhook.ChunkMetadata{
					Phase: webhook.FlexInt(p), ChunkOrder: webhook.FlexInt(c + 1), Progress: webhook.FlexInt(progress),
				},
				Threads: &threads,
			}}}
			var followUp any
			if len(follow) > 0 {
				followUp = wireHistoryValue{MessagingProduct: "whatsapp", Metadata: v.metadata(), Messages: follow}
			}
			if err := s.emit(ctx, v.wabaID, webhook.FieldHistory, timeNumber, value, followUp); err != nil {
				return
			}
		}
	}
}
