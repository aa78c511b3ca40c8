// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graphsim

import (
	"fmt"
	"strings"
	"time"
)

// Scenario describes one business number's WhatsApp Business app: its contacts, its chat
// history and how it was onboarded. Everything in it is generated deterministically from
// Seed. Zero counts mean none (an empty history is a valid scenario); Preset fills the counts
// left at zero, so a heavy account is one line: Scenario{Preset: "heavy"}.
type Scenario struct {
	// Preset is "small", "medium" or "heavy" (see Presets); empty for none.
	Preset string `json:"preset,omitempty"`
	// Seed drives every generated value; 0 derives one from the simulator's seed and the
	// phone number id, so two numbers differ.
	Seed int64 `json:"seed,omitempty"`

	// Threads is the number of one-to-one chats, Messages the messages spread over them and
	// over the 180 days before onboarding. Some threads may get no message.
	Threads  int `json:"threads,omitempty"`
	Messages int `json:"messages,omitempty"`
	// MediaShare (0..1) is the fraction of messages that are media. In history they are
	// media_placeholder; those sent in the last 14 days follow as separate webhooks.
	MediaShare float64 `json:"media_share,omitempty"`

	// ContactsAdded contacts are synced as "add"; then ContactsRemoved of them as "remove".
	ContactsAdded   int `json:"contacts_added,omitempty"`
	ContactsRemoved int `json:"contacts_removed,omitempty"`

	// HistoryDeclined: the business did not share its history; a history sync yields one
	// webhook with error 2593109.
	HistoryDeclined bool `json:"history_declined,omitempty"`

	// CountryCallingCode of the business number and its users ("1", "234" for Nigeria, …);
	// default "1". DisplayPhoneNumber overrides the derived business number (E.164).
	CountryCallingCode string `json:"country_calling_code,omitempty"`
	DisplayPhoneNumber string `json:"display_phone_number,omitempty"`

	// IsOnBizApp (default true) and PlatformType (default CLOUD_API) answer the onboarding
	// check; anything else is not a coexistence number.
	IsOnBizApp   *bool  `json:"is_on_biz_app,omitempty"`
	PlatformType string `json:"platform_type,omitempty"`

	// OnboardedAt starts the 24 h sync window; zero means the simulator clock's now minus
	// OnboardedAgo.
	OnboardedAt  time.Time `json:"onboarded_at,omitzero"`
	OnboardedAgo Duration  `json:"onboarded_ago,omitempty"`

	// MessagesPerChunk bounds a history chunk (default 1000, at most 5000, which keeps a body
	// well under Meta's 3 MB). ContactsPerWebhook batches contacts (default 20).
	MessagesPerChunk   int `json:"messages_per_chunk,omitempty"`
	ContactsPerWebhook int `json:"contacts_per_webhook,omitempty"`
}

// Presets are the named scenarios; a preset fills only the counts a Scenario leaves at zero.
var Presets = map[string]Scenario{
	"small":  {Threads: 10, Messages: 200, MediaShare: 0.1, ContactsAdded: 20, ContactsRemoved: 3},
	"medium": {Threads: 200, Messages: 20_000, MediaShare: 0.1, ContactsAdded: 300, ContactsRemoved: 30},
	"heavy":  {Threads: 5_000, Messages: 500_000, MediaShare: 0.1, ContactsAdded: 5_000, ContactsRemoved: 250},
}

// Limits that keep a scenario's bookkeeping (a few integers per thread) small and every
// webhook body well under 3 MB.
const (
	maxThreads          = 1_000_000
	maxMessages         = 50_000_000
	maxContacts         = 1_000_000
	maxMessagesPerChunk = 5_000
	defaultPerChunk     = 1_000
	defaultContactBatch = 20
	defaultPlatform     = "CLOUD_API"
)

// resolved is a Scenario with its defaults applied and checked.
type resolved struct {
	seed               uint64
	threads, messages  int
	mediaShare         float64
	contactsAdded      int
	contactsRemoved    int
	declined           bool
	cc                 string
	display            string // digits only, as webhooks carry it
	onBizApp           bool
	platform           string
	onboardedAt        time.Time
	perChunk           int
	contactsPerWebhook int
}

func (sc Scenario) resolve(simSeed uint64, phoneID string, now time.Time) (resolved, error) {
	if sc.Preset != "" {
		p, ok := Presets[sc.Preset]
		if !ok {
			return resolved{}, fmt.Errorf("scenario: unknown preset %q (small, medium, heavy)", sc.Preset)
		}
		fill(&sc.Threads, p.Threads)
		fill(&sc.Messages, p.Messages)
		fill(&sc.ContactsAdded, p.ContactsAdded)
		fill(&sc.ContactsRemoved, p.ContactsRemoved)
		if sc.MediaShare == 0 {
			sc.MediaShare = p.MediaShare
		}
	}
	r := resolved{
		seed: uint64(sc.Seed), threads: sc.Threads, messages: sc.Messages, mediaShare: sc.MediaShare,
		contactsAdded: sc.ContactsAdded, contactsRemoved: sc.ContactsRemoved, declined: sc.HistoryDeclined,
		cc: sc.CountryCallingCode, onBizApp: sc.IsOnBizApp == nil || *sc.IsOnBizApp, platform: sc.PlatformType,
		onboardedAt: sc.OnboardedAt, perChunk: sc.MessagesPerChunk, contactsPerWebhook: sc.ContactsPerWebhook,
	}
	if r.seed == 0 {
		r.seed = hash(simSeed, strHash(phoneID))
	}
	fill(&r.perChunk, defaultPerChunk)
	fill(&r.contactsPerWebhook, defaultContactBatch)
	if r.platform == "" {
		r.platform = defaultPlatform
	}
	if r.onboardedAt.IsZero() {
		r.onboardedAt = now.Add(-sc.OnboardedAgo.D())
	}
	r.onboardedAt = r.onboardedAt.UTC().Truncate(time.Second)
	r.cc = strings.TrimPrefix(r.cc, "+")
	if r.cc == "" {
		r.cc = "1"
	}
	switch {
	case !isDigits(r.cc) || len(r.cc) > 3:
		return r, fmt.Errorf("scenario: country_calling_code %q is not 1-3 digits", sc.CountryCallingCode)
	case r.threads < 0 || r.threads > maxThreads:
		return r, fmt.Errorf("scenario: threads must be 0..%d", maxThreads)
	case r.messages < 0 || r.messages > maxMessages:
		return r, fmt.Errorf("scenario: messages must be 0..%d", maxMessages)
	case r.messages > 0 && r.threads == 0:
		return r, fmt.Errorf("scenario: %d messages need at least one thread", r.messages)
	case r.mediaShare < 0 || r.mediaShare > 1:
		return r, fmt.Errorf("scenario: media_share must be within 0..1")
	case r.contactsAdded < 0 || r.contactsAdded > maxContacts:
		return r, fmt.Errorf("scenario: contacts_added must be 0..%d", maxContacts)
	case r.contactsRemoved < 0 || r.contactsRemoved > r.contactsAdded:
		return r, fmt.Errorf("scenario: contacts_removed must be 0..contacts_added")
	case r.perChunk < 1 || r.perChunk > maxMessagesPerChunk:
		return r, fmt.Errorf("scenario: messages_per_chunk must be 1..%d", maxMessagesPerChunk)
	case r.contactsPerWebhook < 1 || r.contactsPerWebhook > 1000:
		return r, fmt.Errorf("scenario: contacts_per_webhook must be 1..1000")
	}
	if sc.DisplayPhoneNumber != "" {
		d := strings.NewReplacer("+", "", " ", "", "-", "", "(", "", ")", "").Replace(sc.DisplayPhoneNumber)
		if !isDigits(d) || len(d) < 6 || len(d) > 15 {
			return r, fmt.Errorf("scenario: display_phone_number %q is not an E.164 number", sc.DisplayPhoneNumber)
		}
		r.display = d
	} else {
		// A national number of ten digits not starting with 0 or 1, as most plans have.
		h := hash(r.seed, 0xd15)
		r.display = fmt.Sprintf("%s%d%09d", r.cc, 2+h%8, mix(h)%1_000_000_000)
	}
	return r, nil
}

func fill(v *int, def int) {
	if *v == 0 {
		*v = def
	}
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Totals is what a scenario will deliver, computed from the generator without delivering,
// so tests can check that everything arrived.
type Totals struct {
	// Messages is the number of distinct message ids in history chunks (every generated
	// message: media as media_placeholder). Zero when history is declined.
	Messages int `json:"messages"`
	// Threads is the number of threads with at least one message (the only ones sent).
	Threads int `json:"threads"`
	// MessagesPerPhase and ChunksPerPhase count by phase 0 (day 0-1), 1 (day 1-90) and
	// 2 (day 90-180). Chunks include empty ones: a phase without messages still sends one
	// empty chunk, and phase 2 always ends with an empty chunk carrying progress 100.
	MessagesPerPhase [3]int `json:"messages_per_phase"`
	ChunksPerPhase   [3]int `json:"chunks_per_phase"`
	// MediaMessages are all media messages; MediaFollowUps those sent in the last 14 days,
	// whose media follows in separate history webhooks (MediaFollowUpWebhooks: one per chunk
	// holding any).
	MediaMessages         int `json:"media_messages"`
	MediaFollowUps        int `json:"media_follow_ups"`
	MediaFollowUpWebhooks int `json:"media_follow_up_webhooks"`
	// HistoryWebhooks is every history webhook a history sync sends (1 when declined).
	HistoryWebhooks int  `json:"history_webhooks"`
	HistoryDeclined bool `json:"history_declined"`
	// Contacts sent as add and remove, and the smb_app_state_sync webhooks carrying them.
	ContactsAdded   int `json:"contacts_added"`
	ContactsRemoved int `json:"contacts_removed"`
	ContactWebhooks int `json:"contact_webhooks"`
}
