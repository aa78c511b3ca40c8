// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graph

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// ErrNotImplemented is returned by a Fake method whose function field is nil.
var ErrNotImplemented = errors.New("not implemented in fake")

// FakeCall is one call recorded by a Fake: the method (a Call constant) and the ID it was
// about (the app, WABA or phone number ID). Secrets are not recorded.
type FakeCall struct {
	Method string
	Target string
}

// Fake is a Client for reconciler tests: each method calls its function field, or returns
// ErrNotImplemented when the field is nil, and every call is recorded first, so a test can
// assert that history was requested exactly once. Set the fields before use; recording is
// safe for concurrent use.
type Fake struct {
	ExchangeCodeFunc        func(ctx context.Context, app App, code Secret) (Secret, error)
	GetPhoneNumberFunc      func(ctx context.Context, token Secret, phoneNumberID string) (PhoneNumber, error)
	SubscribeAppFunc        func(ctx context.Context, token Secret, wabaID string, opts SubscribeOptions) error
	ListSubscribedAppsFunc  func(ctx context.Context, token Secret, wabaID string) ([]SubscribedApp, error)
	UnsubscribeAppFunc      func(ctx context.Context, token Secret, wabaID string) error
	GetAppSubscriptionsFunc func(ctx context.Context, app App) ([]AppSubscription, error)
	SetAppSubscriptionFunc  func(ctx context.Context, app App, req AppSubscriptionRequest) error
	RequestContactsSyncFunc func(ctx context.Context, token Secret, phoneNumberID string) (SyncRequest, error)
	RequestHistorySyncFunc  func(ctx context.Context, token Secret, phoneNumberID string) (SyncRequest, error)

	mu    sync.Mutex
	calls []FakeCall
}

var _ Client = (*Fake)(nil)

// Calls returns a copy of every recorded call, in order.
func (f *Fake) Calls() []FakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]FakeCall(nil), f.calls...)
}

// Count returns how many times method (a Call constant) was called.
func (f *Fake) Count(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if c.Method == method {
			n++
		}
	}
	return n
}

// Reset forgets the recorded calls.
func (f *Fake) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = nil
}

func (f *Fake) record(method, target string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, FakeCall{Method: method, Target: target})
}

func notImplemented(method string) error {
	return fmt.Errorf("graph fake: cannot %s: %w", method, ErrNotImplemented)
}

func (f *Fake) ExchangeCode(ctx context.Context, app App, code Secret) (Secret, error) {
	f.record(CallExchangeCode, app.ID)
	if f.ExchangeCodeFunc == nil {
		return "", notImplemented(CallExchangeCode)
	}
	return f.ExchangeCodeFunc(ctx, app, code)
}

func (f *Fake) GetPhoneNumber(ctx context.Context, token Secret, phoneNumberID string) (PhoneNumber, error) {
	f.record(CallGetPhoneNumber, phoneNumberID)
	if f.GetPhoneNumberFunc == nil {
		return PhoneNumber{}, notImplemented(CallGetPhoneNumber)
	}
	return f.GetPhoneNumberFunc(ctx, token, phoneNumberID)
}

func (f *Fake) SubscribeApp(ctx context.Context, token Secret, wabaID string, opts SubscribeOptions) error {
	f.record(CallSubscribeApp, wabaID)
	if f.SubscribeAppFunc == nil {
		return notImplemented(CallSubscribeApp)
	}
	return f.SubscribeAppFunc(ctx, token, wabaID, opts)
}

func (f *Fake) ListSubscribedApps(ctx context.Context, token Secret, wabaID string) ([]SubscribedApp, error) {
	f.record(CallListSubscribedApps, wabaID)
	if f.ListSubscribedAppsFunc == nil {
		return nil, notImplemented(CallListSubscribedApps)
	}
	return f.ListSubscribedAppsFunc(ctx, token, wabaID)
}

func (f *Fake) UnsubscribeApp(ctx context.Context, token Secret, wabaID string) error {
	f.record(CallUnsubscribeApp, wabaID)
	if f.UnsubscribeAppFunc == nil {
		return notImplemented(CallUnsubscribeApp)
	}
	return f.UnsubscribeAppFunc(ctx, token, wabaID)
}

func (f *Fake) GetAppSubscriptions(ctx context.Context, app App) ([]AppSubscription, error) {
	f.record(CallGetAppSubscriptions, app.ID)
	if f.GetAppSubscriptionsFunc == nil {
		return nil, notImplemented(CallGetAppSubscriptions)
	}
	return f.GetAppSubscriptionsFunc(ctx, app)
}

func (f *Fake) SetAppSubscription(ctx context.Context, app App, req AppSubscriptionRequest) error {
	f.record(CallSetAppSubscription, app.ID)
	if f.SetAppSubscriptionFunc == nil {
		return notImplemented(CallSetAppSubscription)
	}
	return f.SetAppSubscriptionFunc(ctx, app, req)
}

func (f *Fake) RequestContactsSync(ctx context.Context, token Secret, phoneNumberID string) (SyncRequest, error) {
	f.record(CallRequestContactsSync, phoneNumberID)
	if f.RequestContactsSyncFunc == nil {
		return SyncRequest{}, notImplemented(CallRequestContactsSync)
	}
	return f.RequestContactsSyncFunc(ctx, token, phoneNumberID)
}

func (f *Fake) RequestHistorySync(ctx context.Context, token Secret, phoneNumberID string) (SyncRequest, error) {
	f.record(CallRequestHistorySync, phoneNumberID)
	if f.RequestHistorySyncFunc == nil {
		return SyncRequest{}, notImplemented(CallRequestHistorySync)
	}
	return f.RequestHistorySyncFunc(ctx, token, phoneNumberID)
}
