// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// Call names: Error.Call, the Observer's call argument and the Fake's records.
const (
	CallExchangeCode        = "ExchangeCode"
	CallGetPhoneNumber      = "GetPhoneNumber"
	CallSubscribeApp        = "SubscribeApp"
	CallListSubscribedApps  = "ListSubscribedApps"
	CallUnsubscribeApp      = "UnsubscribeApp"
	CallGetAppSubscriptions = "GetAppSubscriptions"
	CallSetAppSubscription  = "SetAppSubscription"
	CallRequestContactsSync = "RequestContactsSync"
	CallRequestHistorySync  = "RequestHistorySync"
)

const (
	contentTypeJSON = "application/json"
	contentTypeForm = "application/x-www-form-urlencoded"
)

// ExchangeCode sends the app's id and secret and the code as query parameters, as Graph's
// OAuth endpoint wants, with no bearer token.
func (c *HTTPClient) ExchangeCode(ctx context.Context, app App, code Secret) (Secret, error) {
	var tok Secret
	err := c.do(ctx, &request{
		call: CallExchangeCode, method: http.MethodGet, path: []string{"oauth", "access_token"},
		query:   url.Values{"client_id": {app.ID}, "client_secret": {app.Secret.Reveal()}, "code": {code.Reveal()}},
		secrets: []Secret{app.Secret, code, app.AppToken()},
		decode: func(b []byte) (err error) {
			tok, err = parseAccessToken(b)
			return err
		},
	})
	return tok, err
}

// GetPhoneNumber reads the two fields of the coexistence check.
func (c *HTTPClient) GetPhoneNumber(ctx context.Context, token Secret, phoneNumberID string) (PhoneNumber, error) {
	var pn PhoneNumber
	err := c.do(ctx, &request{
		call: CallGetPhoneNumber, method: http.MethodGet, path: []string{phoneNumberID},
		query: url.Values{"fields": {"is_on_biz_app,platform_type"}},
		token: token, secrets: []Secret{token},
		decode: func(b []byte) error { return json.Unmarshal(b, &pn) },
	})
	if err == nil && pn.ID == "" {
		pn.ID = phoneNumberID
	}
	return pn, err
}

// SubscribeApp posts the options as a JSON object; with no options the object is empty.
func (c *HTTPClient) SubscribeApp(ctx context.Context, token Secret, wabaID string, opts SubscribeOptions) error {
	body := map[string]string{}
	if opts.OverrideCallbackURI != "" {
		body["override_callback_uri"] = opts.OverrideCallbackURI
	}
	if !opts.VerifyToken.IsZero() {
		body["verify_token"] = opts.VerifyToken.Reveal()
	}
	return c.do(ctx, &request{
		call: CallSubscribeApp, method: http.MethodPost, path: []string{wabaID, "subscribed_apps"},
		token: token, body: mustJSON(body), contentType: contentTypeJSON,
		secrets: []Secret{token, opts.VerifyToken},
		decode:  decodeSuccess,
	})
}

// ListSubscribedApps reads every page of the WABA's subscribed apps.
func (c *HTTPClient) ListSubscribedApps(ctx context.Context, token Secret, wabaID string) ([]SubscribedApp, error) {
	apps := []SubscribedApp{}
	err := c.list(ctx, request{
		call: CallListSubscribedApps, method: http.MethodGet, path: []string{wabaID, "subscribed_apps"},
		token: token, secrets: []Secret{token},
	}, func(data json.RawMessage) error {
		var entries []struct {
			App *struct {
				ID   string `json:"id"`
				Link string `json:"link"`
				Name string `json:"name"`
			} `json:"whatsapp_business_api_data"`
			OverrideCallbackURI string `json:"override_callback_uri"`
		}
		if err := json.Unmarshal(data, &entries); err != nil {
			return err
		}
		for _, d := range entries {
			a := SubscribedApp{OverrideCallbackURI: d.OverrideCallbackURI}
			if d.App != nil {
				a.AppID, a.Name, a.Link = d.App.ID, d.App.Name, d.App.Link
			}
			apps = append(apps, a)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return apps, nil
}

// UnsubscribeApp removes the token's app from the WABA.
func (c *HTTPClient) UnsubscribeApp(ctx context.Context, token Secret, wabaID string) error {
	return c.do(ctx, &request{
		call: CallUnsubscribeApp, method: http.MethodDelete, path: []string{wabaID, "subscribed_apps"},
		token: token, secrets: []Secret{token},
		decode: decodeSuccess,
	})
}

// GetAppSubscriptions reads every page of the app's webhook subscriptions with the app token.
func (c *HTTPClient) GetAppSubscriptions(ctx context.Context, app App) ([]AppSubscription, error) {
	subs := []AppSubscription{}
	err := c.list(ctx, request{
		call: CallGetAppSubscriptions, method: http.MethodGet, path: []string{app.ID, "subscriptions"},
		token: app.AppToken(), secrets: []Secret{app.AppToken(), app.Secret},
	}, func(data json.RawMessage) error {
		var entries []struct {
			Object      string       `json:"object"`
			CallbackURL string       `json:"callback_url"`
			Active      bool         `json:"active"`
			Fields      []fieldEntry `json:"fields"`
		}
		if err := json.Unmarshal(data, &entries); err != nil {
			return err
		}
		for _, d := range entries {
			s := AppSubscription{Object: d.Object, CallbackURL: d.CallbackURL, Active: d.Active,
				Fields: make([]string, 0, len(d.Fields))}
			for _, f := range d.Fields {
				s.Fields = append(s.Fields, string(f))
			}
			subs = append(subs, s)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return subs, nil
}

// SetAppSubscription posts a form-encoded body, as Graph documents this call:
// object, callback_url, verify_token, and fields as one comma-separated value.
func (c *HTTPClient) SetAppSubscription(ctx context.Context, app App, req AppSubscriptionRequest) error {
	form := url.Values{
		"object":       {req.Object},
		"callback_url": {req.CallbackURL},
		"verify_token": {req.VerifyToken.Reveal()},
		"fields":       {strings.Join(req.Fields, ",")},
	}
	return c.do(ctx, &request{
		call: CallSetAppSubscription, method: http.MethodPost, path: []string{app.ID, "subscriptions"},
		token: app.AppToken(), body: []byte(form.Encode()), contentType: contentTypeForm,
		secrets: []Secret{app.AppToken(), app.Secret, req.VerifyToken},
		decode:  decodeSuccess,
	})
}

// RequestContactsSync asks for the one-shot contacts sync. It is retried only when Meta
// certainly did not act (see do); any other failure comes back for the caller to settle. A
// refusal of a repeat is ClassAlreadyRequested when Meta's 4xx names it, ClassPermanent when
// it does not.
func (c *HTTPClient) RequestContactsSync(ctx context.Context, token Secret, phoneNumberID string) (SyncRequest, error) {
	return c.requestSync(ctx, CallRequestContactsSync, SyncTypeContacts, token, phoneNumberID)
}

// RequestHistorySync asks for the one-shot history sync, retried like RequestContactsSync.
func (c *HTTPClient) RequestHistorySync(ctx context.Context, token Secret, phoneNumberID string) (SyncRequest, error) {
	return c.requestSync(ctx, CallRequestHistorySync, SyncTypeHistory, token, phoneNumberID)
}

func (c *HTTPClient) requestSync(ctx context.Context, call, syncType string, token Secret, phoneNumberID string) (SyncRequest, error) {
	var sr SyncRequest
	err := c.do(ctx, &request{
		call: call, method: http.MethodPost, path: []string{phoneNumberID, "smb_app_data"},
		token: token, contentType: contentTypeJSON,
		body:    mustJSON(map[string]string{"messaging_product": "whatsapp", "sync_type": syncType}),
		secrets: []Secret{token},
		// A 2xx without a Graph error means Meta took the request, whatever the body says:
		// an answer whose request id cannot be read is still an accepted request, never an
		// error that would lead to a second ask.
		decode: func(b []byte) error {
			var resp struct {
				RequestID json.RawMessage `json:"request_id"`
			}
			if json.Unmarshal(b, &resp) == nil {
				sr.RequestID = jsonScalar(resp.RequestID)
			}
			return nil
		},
	})
	return sr, err
}

// fieldEntry is one webhook field: {"name":"history","version":"v23.0"}, or in some answers
// the bare name.
type fieldEntry string

func (f *fieldEntry) UnmarshalJSON(b []byte) error {
	var obj struct {
		Name string `json:"name"`
	}
	if len(b) > 0 && b[0] == '{' {
		if err := json.Unmarshal(b, &obj); err != nil {
			return err
		}
		*f = fieldEntry(obj.Name)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*f = fieldEntry(s)
	return nil
}

// decodeSuccess accepts {"success":true}, a bare true, or any answer without a success
// field; it refuses an explicit false.
func decodeSuccess(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || bytes.Equal(b, []byte("true")) {
		return nil
	}
	var resp struct {
		Success *bool `json:"success"`
	}
	if err := json.Unmarshal(b, &resp); err != nil {
		return err
	}
	if resp.Success != nil && !*resp.Success {
		return errors.New("cannot confirm success: Graph answered success false")
	}
	return nil
}

// mustJSON encodes a map of strings, which cannot fail.
func mustJSON(v map[string]string) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("cannot encode a map of strings: " + err.Error())
	}
	return b
}

// jsonScalar is a JSON string's value or a number's digits ("" for anything else): Graph
// sends ids as strings, but an id sent as a number is the same id.
func jsonScalar(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}
