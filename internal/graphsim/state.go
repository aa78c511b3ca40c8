// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graphsim

import "time"

// The simulator's model of Meta, guarded by Sim.mu.

// app is a Meta app: its identity, its secret and its webhook subscriptions by object.
type app struct {
	id, secret, name, link string
	bareToken              bool
	subs                   map[string]*appSubscription
}

// appSubscription is the app's webhook configuration for one object; fields keep the order
// they were first subscribed in.
type appSubscription struct {
	callbackURL string
	fields      []fieldVersion
}

type fieldVersion struct{ name, version string }

func (a *appSubscription) has(field string) bool {
	for _, f := range a.fields {
		if f.name == field {
			return true
		}
	}
	return false
}

// merge adds fields (or moves them to version), as Graph's POST /<app>/subscriptions does.
func (a *appSubscription) merge(fields []string, version string) {
	for _, name := range fields {
		found := false
		for i := range a.fields {
			if a.fields[i].name == name {
				a.fields[i].version, found = version, true
			}
		}
		if !found {
			a.fields = append(a.fields, fieldVersion{name, version})
		}
	}
}

// grant is what a business token may touch: its app's view of some WABAs.
type grant struct {
	appID string
	wabas map[string]bool
}

// waba is a WhatsApp Business Account and the apps subscribed to its webhooks.
type waba struct {
	id, name, ownerBusinessID string
	apps                      map[string]*wabaSubscription
}

type wabaSubscription struct {
	overrideURI string
}

// number is a business phone number and its current onboarding.
type number struct {
	id, wabaID, appID string
	scenario          Scenario // as given, to re-onboard from
	gen               *generator
	syncs             map[string]SyncRecord
	code              string
	onboardings       int
}

func (n *number) coexistence() bool {
	return n.gen.r.onBizApp && n.gen.r.platform == defaultPlatform
}

// signupCode is an Embedded Signup code: single use, for one app and number.
type signupCode struct {
	appID, phoneID string
	used           bool
	issued         time.Time
}

// SyncRecord is an accepted smb_app_data request.
type SyncRecord struct {
	RequestID string    `json:"request_id"`
	At        time.Time `json:"at"`
}

// Sync types of smb_app_data.
const (
	SyncContacts = "smb_app_state_sync"
	SyncHistory  = "history"
)

// syncWindow is how long after onboarding the one-shot syncs may be requested.
const syncWindow = 24 * time.Hour
