// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graphsim

import (
	"errors"
	"fmt"
	"iter"
	"maps"
	"net/url"
	"strings"
	"time"
)

// AppSpec adds a Meta app. CallbackURL and Fields, when set, preset its webhook subscription
// as if POST /<app>/subscriptions had succeeded (no handshake): handy for receiver tests.
type AppSpec struct {
	ID     string `json:"id"`
	Secret string `json:"secret"`
	Name   string `json:"name,omitempty"`
	// BareTokenResponse answers the code exchange with the token as a plain-text body
	// instead of JSON, as some of Meta's docs show.
	BareTokenResponse bool     `json:"bare_token_response,omitempty"`
	CallbackURL       string   `json:"callback_url,omitempty"`
	Fields            []string `json:"fields,omitempty"`
}

// TokenSpec issues a business token for an app and the WABAs it may touch. Value, when
// set, is used as the token (fixed tokens make demo scripts simple); otherwise one is made.
type TokenSpec struct {
	AppID   string   `json:"app_id"`
	WABAIDs []string `json:"waba_ids"`
	Value   string   `json:"value,omitempty"`
}

// NumberSpec adds a business number to a WABA (created if new), onboarded through the app.
type NumberSpec struct {
	AppID         string   `json:"app_id"`
	WABAID        string   `json:"waba_id"`
	PhoneNumberID string   `json:"phone_number_id"`
	Scenario      Scenario `json:"scenario"`
	// SignupCode fixes the Embedded Signup code (default: generated).
	SignupCode string `json:"signup_code,omitempty"`
	// SubscribeApp presets the app's subscription to the WABA (no handshake).
	SubscribeApp bool `json:"subscribe_app,omitempty"`
}

// NumberInfo is a number's state as tests and the control API see it.
type NumberInfo struct {
	PhoneNumberID string `json:"phone_number_id"`
	WABAID        string `json:"waba_id"`
	AppID         string `json:"app_id"`
	// DisplayPhoneNumber is E.164 ("+2348012345678"); webhooks carry it without the "+".
	DisplayPhoneNumber string `json:"display_phone_number"`
	// SignupCode is the current onboarding's Embedded Signup code.
	SignupCode   string    `json:"signup_code"`
	OnboardedAt  time.Time `json:"onboarded_at"`
	SyncDeadline time.Time `json:"sync_deadline"`
	IsOnBizApp   bool      `json:"is_on_biz_app"`
	PlatformType string    `json:"platform_type"`
	Onboardings  int       `json:"onboardings"`
	// Syncs are the accepted smb_app_data requests of this onboarding, by sync_type.
	Syncs map[string]SyncRecord `json:"syncs"`
	// FirstUser is the WhatsApp id of the first thread's user, a default for events.
	FirstUser string `json:"first_user"`
	// Totals is what this onboarding's syncs deliver.
	Totals Totals `json:"totals"`
}

// ErrNotFound is returned for an unknown app or number.
var ErrNotFound = errors.New("graphsim: not found")

// AddApp adds a Meta app.
func (s *Sim) AddApp(a AppSpec) error {
	if a.ID == "" || a.Secret == "" || strings.Contains(a.ID, "|") {
		return fmt.Errorf("graphsim: an app needs an id (without '|') and a secret")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.apps[a.ID]; ok {
		return fmt.Errorf("graphsim: app %s exists", a.ID)
	}
	if a.Name == "" {
		a.Name = "Sim App " + a.ID
	}
	ap := &app{id: a.ID, secret: a.Secret, name: a.Name, bareToken: a.BareTokenResponse,
		link: "https://www.example.com/apps/" + a.ID, subs: map[string]*appSubscription{}}
	s.apps[a.ID] = ap
	if a.CallbackURL != "" || len(a.Fields) > 0 {
		return s.presetAppFieldsLocked(ap, a.CallbackURL, a.Fields)
	}
	return nil
}

// SetAppSecret rotates an app's secret, as the App Dashboard does: webhooks are signed, and
// app tokens checked, with the new one from now on.
func (s *Sim) SetAppSecret(appID, secret string) error {
	if secret == "" {
		return fmt.Errorf("graphsim: an app secret cannot be empty")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ap := s.apps[appID]
	if ap == nil {
		return fmt.Errorf("%w: app %s", ErrNotFound, appID)
	}
	ap.secret = secret
	return nil
}

// SubscribeAppFields sets the app's webhook callback and adds fields, as a successful
// POST /<app>/subscriptions would, but without the verification handshake.
func (s *Sim) SubscribeAppFields(appID, callbackURL string, fields ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ap := s.apps[appID]
	if ap == nil {
		return fmt.Errorf("%w: app %s", ErrNotFound, appID)
	}
	return s.presetAppFieldsLocked(ap, callbackURL, fields)
}

func (s *Sim) presetAppFieldsLocked(ap *app, callbackURL string, fields []string) error {
	if err := checkCallbackURL(callbackURL); err != nil {
		return err
	}
	for _, f := range fields {
		if !wabaFields[f] {
			return fmt.Errorf("graphsim: unknown webhook field %q", f)
		}
	}
	sub := ap.subs[objectWABA]
	if sub == nil {
		sub = &appSubscription{}
		ap.subs[objectWABA] = sub
	}
	sub.callbackURL = callbackURL
	sub.merge(fields, s.opts.DefaultVersion)
	return nil
}

// SubscribeAppToWABA subscribes the app to the WABA's webhooks, as POST
// /<waba>/subscribed_apps would, but without the handshake for the override.
func (s *Sim) SubscribeAppToWABA(appID, wabaID, overrideCallbackURI string) error {
	if overrideCallbackURI != "" {
		if err := checkCallbackURL(overrideCallbackURI); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.apps[appID] == nil {
		return fmt.Errorf("%w: app %s", ErrNotFound, appID)
	}
	s.wabaLocked(wabaID).apps[appID] = &wabaSubscription{overrideURI: overrideCallbackURI}
	return nil
}

// IssueToken issues a business token for an app and WABAs.
func (s *Sim) IssueToken(t TokenSpec) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.apps[t.AppID] == nil {
		return "", fmt.Errorf("%w: app %s", ErrNotFound, t.AppID)
	}
	if t.Value == "" {
		t.Value = s.ids.token()
	}
	if strings.Contains(t.Value, "|") || s.tokens[t.Value] != nil {
		return "", fmt.Errorf("graphsim: token value is taken or contains '|'")
	}
	g := &grant{appID: t.AppID, wabas: map[string]bool{}}
	for _, w := range t.WABAIDs {
		g.wabas[w] = true
	}
	s.tokens[t.Value] = g
	return t.Value, nil
}

// AddNumber adds a number with its scenario, onboarded now (or at the scenario's time), and
// returns it with its signup code.
func (s *Sim) AddNumber(spec NumberSpec) (NumberInfo, error) {
	if spec.AppID == "" || spec.WABAID == "" || spec.PhoneNumberID == "" {
		return NumberInfo{}, fmt.Errorf("graphsim: a number needs app_id, waba_id and phone_number_id")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.apps[spec.AppID] == nil {
		return NumberInfo{}, fmt.Errorf("%w: app %s", ErrNotFound, spec.AppID)
	}
	if s.numbers[spec.PhoneNumberID] != nil || s.wabas[spec.PhoneNumberID] != nil || s.apps[spec.PhoneNumberID] != nil {
		return NumberInfo{}, fmt.Errorf("graphsim: id %s is taken", spec.PhoneNumberID)
	}
	if s.numbers[spec.WABAID] != nil || s.apps[spec.WABAID] != nil {
		return NumberInfo{}, fmt.Errorf("graphsim: id %s is taken", spec.WABAID)
	}
	if spec.SignupCode != "" && s.codes[spec.SignupCode] != nil {
		return NumberInfo{}, fmt.Errorf("graphsim: signup code is taken")
	}
	n := &number{id: spec.PhoneNumberID, wabaID: spec.WABAID, appID: spec.AppID, scenario: spec.Scenario}
	if err := s.onboardLocked(n, spec.SignupCode); err != nil {
		return NumberInfo{}, err
	}
	w := s.wabaLocked(spec.WABAID)
	if spec.SubscribeApp {
		w.apps[spec.AppID] = &wabaSubscription{}
	}
	s.numbers[n.id] = n
	return s.infoLocked(n), nil
}

// Reonboard is the business offboarding and completing Embedded Signup again: a new
// onboarding time (now), a new signup code, and both syncs may be requested again.
func (s *Sim) Reonboard(phoneNumberID string) (NumberInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.numbers[phoneNumberID]
	if n == nil {
		return NumberInfo{}, fmt.Errorf("%w: number %s", ErrNotFound, phoneNumberID)
	}
	if c := s.codes[n.code]; c != nil && !c.used {
		delete(s.codes, n.code) // an unused code of the old onboarding is void
	}
	sc := n.scenario
	sc.OnboardedAt, sc.OnboardedAgo = time.Time{}, 0
	old := n.scenario
	n.scenario = sc
	if err := s.onboardLocked(n, ""); err != nil {
		n.scenario = old
		return NumberInfo{}, err
	}
	return s.infoLocked(n), nil
}

// onboardLocked (re)generates the number's onboarding from its scenario.
func (s *Sim) onboardLocked(n *number, code string) error {
	r, err := n.scenario.resolve(s.seed, n.id, s.clock.Now())
	if err != nil {
		return err
	}
	if code == "" {
		code = s.ids.signupCode()
	}
	n.gen = newGenerator(r, n.id)
	n.syncs = map[string]SyncRecord{}
	n.code = code
	n.onboardings++
	s.codes[code] = &signupCode{appID: n.appID, phoneID: n.id, issued: s.clock.Now()}
	return nil
}

func (s *Sim) wabaLocked(id string) *waba {
	w := s.wabas[id]
	if w == nil {
		w = &waba{id: id, name: "Sim WABA " + id, ownerBusinessID: fmt.Sprintf("%d", 100_000_000_000_000+hash(s.seed, strHash(id))%900_000_000_000_000),
			apps: map[string]*wabaSubscription{}}
		s.wabas[id] = w
	}
	return w
}

// Number returns a number's state.
func (s *Sim) Number(phoneNumberID string) (NumberInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.numbers[phoneNumberID]
	if n == nil {
		return NumberInfo{}, false
	}
	return s.infoLocked(n), true
}

func (s *Sim) infoLocked(n *number) NumberInfo {
	r := n.gen.r
	return NumberInfo{
		PhoneNumberID: n.id, WABAID: n.wabaID, AppID: n.appID,
		DisplayPhoneNumber: "+" + r.display, SignupCode: n.code,
		OnboardedAt: r.onboardedAt, SyncDeadline: r.onboardedAt.Add(syncWindow),
		IsOnBizApp: r.onBizApp, PlatformType: r.platform, Onboardings: n.onboardings,
		Syncs: maps.Clone(n.syncs), FirstUser: n.gen.userWaID(0), Totals: n.gen.totals,
	}
}

// checkCallbackURL accepts absolute http(s) URLs, as Graph does (Meta wants https; tests
// and the demo use loopback http).
func checkCallbackURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("graphsim: %q is not an absolute http(s) URL", raw)
	}
	return nil
}

// HistoryMessageIDs yields the id of every message the number's current onboarding puts in
// its history (none when declined), generated lazily: a receiver test in another package can
// check that each arrived at least once without the simulator holding them all.
func (s *Sim) HistoryMessageIDs(phoneNumberID string) iter.Seq[string] {
	s.mu.Lock()
	n := s.numbers[phoneNumberID]
	var g *generator
	if n != nil {
		g = n.gen
	}
	s.mu.Unlock()
	return func(yield func(string) bool) {
		if g == nil || g.r.declined {
			return
		}
		for p := range 3 {
			for i := range g.r.threads {
				for k := range int(g.counts[p][i]) {
					if !yield(g.messageID(i, p, k)) {
						return
					}
				}
			}
		}
	}
}
