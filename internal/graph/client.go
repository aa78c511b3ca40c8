// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

// Package graph is coex-operator's only way to Meta: a client for the Graph API calls of
// ../shared/META_API.md. Client is the interface the reconcilers use; HTTPClient implements it
// over HTTP with retries, backoff and a per-app token bucket; Fake (fake.go) is a function-field
// stand-in for reconciler tests. Tokens are Secret values: they never appear in an error, a log
// line or a metric.
package graph

import "context"

// Client is every Graph API call coex-operator makes, one method per call.
type Client interface {
	// ExchangeCode trades an Embedded Signup code for a business token:
	// GET /oauth/access_token?client_id=&client_secret=&code=. Codes are single-use.
	ExchangeCode(ctx context.Context, app App, code Secret) (Secret, error)

	// GetPhoneNumber is the onboarding check:
	// GET /<phoneNumberID>?fields=is_on_biz_app,platform_type.
	GetPhoneNumber(ctx context.Context, token Secret, phoneNumberID string) (PhoneNumber, error)

	// SubscribeApp subscribes the token's app to the WABA's webhooks:
	// POST /<wabaID>/subscribed_apps.
	SubscribeApp(ctx context.Context, token Secret, wabaID string, opts SubscribeOptions) error
	// ListSubscribedApps lists the apps subscribed to the WABA: GET /<wabaID>/subscribed_apps.
	ListSubscribedApps(ctx context.Context, token Secret, wabaID string) ([]SubscribedApp, error)
	// UnsubscribeApp removes the token's app from the WABA: DELETE /<wabaID>/subscribed_apps.
	UnsubscribeApp(ctx context.Context, token Secret, wabaID string) error

	// GetAppSubscriptions reads the app's webhook fields, with the app token
	// <appID>|<appSecret>: GET /<appID>/subscriptions.
	GetAppSubscriptions(ctx context.Context, app App) ([]AppSubscription, error)
	// SetAppSubscription subscribes the app to webhook fields: POST /<appID>/subscriptions.
	SetAppSubscription(ctx context.Context, app App, req AppSubscriptionRequest) error

	// RequestContactsSync asks for the one-shot contacts sync:
	// POST /<phoneNumberID>/smb_app_data {"sync_type":"smb_app_state_sync"}.
	RequestContactsSync(ctx context.Context, token Secret, phoneNumberID string) (SyncRequest, error)
	// RequestHistorySync asks for the one-shot history sync:
	// POST /<phoneNumberID>/smb_app_data {"sync_type":"history"}.
	RequestHistorySync(ctx context.Context, token Secret, phoneNumberID string) (SyncRequest, error)
}

// App is a Meta app's identity and secret.
type App struct {
	ID     string
	Secret Secret
}

// AppToken is the app access token "<appID>|<appSecret>" used for app-level calls.
func (a App) AppToken() Secret { return Secret(a.ID + "|" + a.Secret.Reveal()) }

// PhoneNumber is what the onboarding check returns.
type PhoneNumber struct {
	ID           string `json:"id"`
	IsOnBizApp   bool   `json:"is_on_biz_app"`
	PlatformType string `json:"platform_type"`
}

// PlatformCloudAPI is the platform_type of a number onboarded to the Cloud API.
const PlatformCloudAPI = "CLOUD_API"

// IsCoexistence reports whether the number is on both the Business app and the Cloud API.
func (p PhoneNumber) IsCoexistence() bool { return p.IsOnBizApp && p.PlatformType == PlatformCloudAPI }

// SubscribeOptions are the optional fields of POST /<wabaID>/subscribed_apps.
type SubscribeOptions struct {
	// OverrideCallbackURI sends this WABA's webhooks to another URL (at most 200 characters).
	OverrideCallbackURI string
	// VerifyToken goes with OverrideCallbackURI.
	VerifyToken Secret
}

// SubscribedApp is one entry of GET /<wabaID>/subscribed_apps.
type SubscribedApp struct {
	AppID               string
	Name                string
	Link                string
	OverrideCallbackURI string
}

// AppSubscription is one object's webhook subscription of an app.
type AppSubscription struct {
	Object      string
	CallbackURL string
	Active      bool
	Fields      []string
}

// AppSubscriptionRequest is the body of POST /<appID>/subscriptions.
type AppSubscriptionRequest struct {
	Object      string // "whatsapp_business_account"
	CallbackURL string
	VerifyToken Secret
	Fields      []string
}

// SyncRequest is Meta's answer to an accepted smb_app_data call.
type SyncRequest struct {
	RequestID string
}

// Sync types of smb_app_data.
const (
	SyncTypeContacts = "smb_app_state_sync"
	SyncTypeHistory  = "history"
)
