// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graphsim

import (
	"fmt"
	"os"

	"sigs.k8s.io/yaml"
)

// Config is a scenario file: the apps, tokens and numbers a standalone simulator starts
// with. YAML or JSON; unknown keys are errors. Example:
//
//	seed: 7
//	apps:
//	  - {id: "1001", secret: app-secret}
//	tokens:
//	  - {app_id: "1001", waba_ids: ["2001"], value: demo-token}
//	repeat_sync_answer: code-only
//	numbers:
//	  - {app_id: "1001", waba_id: "2001", phone_number_id: "3001", scenario: {preset: medium}}
//	  - {app_id: "1001", waba_id: "2001", phone_number_id: "3002", scenario: {preset: heavy, country_calling_code: "234"}}
type Config struct {
	// Seed, when set, is the simulator's seed (a --seed flag wins).
	Seed *int64 `json:"seed,omitempty"`
	// RepeatSyncAnswer, when set, is how a repeated or late smb_app_data is refused (a
	// --repeat-sync-answer flag wins); an unknown mode fails the parse.
	RepeatSyncAnswer RepeatAnswer `json:"repeat_sync_answer,omitempty"`

	Apps    []AppSpec    `json:"apps,omitempty"`
	Tokens  []TokenSpec  `json:"tokens,omitempty"`
	Numbers []NumberSpec `json:"numbers,omitempty"`
}

// ParseConfig reads a YAML or JSON scenario file strictly.
func ParseConfig(data []byte) (Config, error) {
	var c Config
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return c, fmt.Errorf("scenario file: %w", err)
	}
	return c, nil
}

// LoadConfig reads a scenario file from disk.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	return ParseConfig(data)
}

// Applied is what Apply created: the tokens issued and the numbers with their signup codes.
type Applied struct {
	Tokens  []IssuedToken `json:"tokens"`
	Numbers []NumberInfo  `json:"numbers"`
}

// IssuedToken is a token Apply issued.
type IssuedToken struct {
	AppID   string   `json:"app_id"`
	WABAIDs []string `json:"waba_ids"`
	Token   string   `json:"token"`
}

// Apply sets the config's repeat sync answer, if any, and adds its apps, then its numbers,
// then its tokens (so tokens may name WABAs the numbers create).
func (s *Sim) Apply(c Config) (Applied, error) {
	var out Applied
	if c.RepeatSyncAnswer != "" {
		if err := s.SetRepeatSyncAnswer(c.RepeatSyncAnswer); err != nil {
			return out, err
		}
	}
	for _, a := range c.Apps {
		if err := s.AddApp(a); err != nil {
			return out, err
		}
	}
	for _, n := range c.Numbers {
		info, err := s.AddNumber(n)
		if err != nil {
			return out, fmt.Errorf("number %s: %w", n.PhoneNumberID, err)
		}
		out.Numbers = append(out.Numbers, info)
	}
	for _, t := range c.Tokens {
		tok, err := s.IssueToken(t)
		if err != nil {
			return out, err
		}
		out.Tokens = append(out.Tokens, IssuedToken{AppID: t.AppID, WABAIDs: t.WABAIDs, Token: tok})
	}
	return out, nil
}
