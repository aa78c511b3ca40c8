// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graphsim

import (
	"fmt"
	"time"
)

// RepeatAnswer is how the simulator refuses a repeated smb_app_data, and one past the 24 h
// window. Meta documents neither answer (META_API.md), so the operator must be tested under
// every plausible one: a simulator that answers what the code hopes proves nothing.
type RepeatAnswer string

const (
	// RepeatAnswerAlready (the default) names the refusal: a repeat is HTTP 400, code 100,
	// subcode 2593107 and a message saying "already requested"; a late request is HTTP 400,
	// code 100 and a message saying the window has expired.
	RepeatAnswerAlready RepeatAnswer = "already"
	// RepeatAnswerCodeOnly keeps the one public signal, subcode 2593107, on a repeat, with a
	// message that says nothing ("Invalid parameter"); a late request is a bare
	// "Invalid parameter" 400.
	RepeatAnswerCodeOnly RepeatAnswer = "code-only"
	// RepeatAnswerUnknown tells nothing at all: both refusals are HTTP 400, code 100, no
	// subcode, "Invalid parameter".
	RepeatAnswerUnknown RepeatAnswer = "unknown"
)

// RepeatAnswers lists the modes, for flags and errors.
var RepeatAnswers = []RepeatAnswer{RepeatAnswerAlready, RepeatAnswerCodeOnly, RepeatAnswerUnknown}

// ParseRepeatAnswer reads a mode; the empty string is the default, RepeatAnswerAlready.
func ParseRepeatAnswer(s string) (RepeatAnswer, error) {
	switch a := RepeatAnswer(s); a {
	case "":
		return RepeatAnswerAlready, nil
	case RepeatAnswerAlready, RepeatAnswerCodeOnly, RepeatAnswerUnknown:
		return a, nil
	}
	return "", fmt.Errorf("unknown repeat sync answer %q: want one of %v", s, RepeatAnswers)
}

// UnmarshalText validates the mode wherever it is read: the scenario file, the control API
// and the --repeat-sync-answer flag.
func (a *RepeatAnswer) UnmarshalText(b []byte) error {
	v, err := ParseRepeatAnswer(string(b))
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// MarshalText writes the mode, the default spelled out.
func (a RepeatAnswer) MarshalText() ([]byte, error) {
	v, err := ParseRepeatAnswer(string(a))
	return []byte(v), err
}

// SetRepeatSyncAnswer changes, from the next call on, how repeated and late smb_app_data
// requests are refused.
func (s *Sim) SetRepeatSyncAnswer(a RepeatAnswer) error {
	v, err := ParseRepeatAnswer(string(a))
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repeat = v
	return nil
}

// RepeatSyncAnswer returns the current mode.
func (s *Sim) RepeatSyncAnswer() RepeatAnswer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.repeat
}

// errInvalidParameter is Graph's least telling refusal: no subcode, no word a client could
// match.
func errInvalidParameter() graphError { return errParam("Invalid parameter") }

// errSyncRepeated is the refusal of a second request of syncType in this onboarding.
func errSyncRepeated(mode RepeatAnswer, syncType string, first SyncRecord) graphError {
	switch mode {
	case RepeatAnswerCodeOnly:
		e := errInvalidParameter()
		e.subcode = subcodeAlreadyRequested
		return e
	case RepeatAnswerUnknown:
		return errInvalidParameter()
	}
	label := map[string]string{SyncContacts: "contacts (smb_app_state_sync)", SyncHistory: "message history"}[syncType]
	e := errParam("The %s sync was already requested for this onboarding (request %s). It can be requested "+
		"only once; to request it again the business must offboard and onboard again.", label, first.RequestID)
	e.subcode = subcodeAlreadyRequested
	return e
}

// errSyncLate is the refusal of a request past the window.
func errSyncLate(mode RepeatAnswer, onboardedAt time.Time) graphError {
	if mode != RepeatAnswerAlready {
		return errInvalidParameter()
	}
	return errParam("Business app data can only be synchronized within 24 hours of onboarding, and that "+
		"window has expired (onboarded %s). The business must offboard and onboard again.",
		onboardedAt.Format(time.RFC3339))
}
