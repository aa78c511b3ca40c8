// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graph

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"testing"
)

func TestCallsHappyPath(t *testing.T) {
	const (
		token = Secret("EAAGbusiness")
		phone = "106540352242922"
		waba  = "102290129340398"
	)
	cases := map[string]struct {
		call     func(ctx context.Context, c Client) (any, error)
		answer   string
		method   string
		path     string
		query    url.Values
		auth     string
		wantJSON map[string]any // request body as JSON, when set
		wantForm url.Values     // request body as a form, when set
		want     any
	}{
		"ExchangeCode": {
			call: func(ctx context.Context, c Client) (any, error) {
				s, err := c.ExchangeCode(ctx, testApp, "AQBsignupcode")
				return s.Reveal(), err
			},
			answer: `{"access_token":"EAAGnewtoken","token_type":"bearer","expires_in":5183944}`,
			method: http.MethodGet, path: "/v23.0/oauth/access_token",
			query: url.Values{"client_id": {"1234567890"}, "client_secret": {"s3cr3t"}, "code": {"AQBsignupcode"}},
			want:  "EAAGnewtoken",
		},
		"GetPhoneNumber": {
			call: func(ctx context.Context, c Client) (any, error) { return c.GetPhoneNumber(ctx, token, phone) },
			answer: `{"is_on_biz_app":true,"platform_type":"CLOUD_API","id":"106540352242922",
				"verified_name":"Jasper's Market","quality_rating":"GREEN"}`,
			method: http.MethodGet, path: "/v23.0/" + phone,
			query: url.Values{"fields": {"is_on_biz_app,platform_type"}}, auth: "Bearer EAAGbusiness",
			want: PhoneNumber{ID: phone, IsOnBizApp: true, PlatformType: "CLOUD_API"},
		},
		"SubscribeApp with options": {
			call: func(ctx context.Context, c Client) (any, error) {
				return nil, c.SubscribeApp(ctx, token, waba, SubscribeOptions{
					OverrideCallbackURI: "https://hooks.example.com/waba", VerifyToken: "vtok"})
			},
			answer: `{"success":true}`,
			method: http.MethodPost, path: "/v23.0/" + waba + "/subscribed_apps", query: url.Values{},
			auth:     "Bearer EAAGbusiness",
			wantJSON: map[string]any{"override_callback_uri": "https://hooks.example.com/waba", "verify_token": "vtok"},
		},
		"SubscribeApp without options": {
			call: func(ctx context.Context, c Client) (any, error) {
				return nil, c.SubscribeApp(ctx, token, waba, SubscribeOptions{})
			},
			answer: `{"success":true}`,
			method: http.MethodPost, path: "/v23.0/" + waba + "/subscribed_apps", query: url.Values{},
			auth: "Bearer EAAGbusiness", wantJSON: map[string]any{},
		},
		"ListSubscribedApps": {
			call: func(ctx context.Context, c Client) (any, error) { return c.ListSubscribedApps(ctx, token, waba) },
			answer: `{"data":[
				{"whatsapp_business_api_data":{"id":"1234567890","link":"https://www.example.com/app","name":"Coex","category":"BUSINESS"}},
				{"whatsapp_business_api_data":{"id":"555","link":"","name":"Other"},"override_callback_uri":"https://other.example.com/hook"},
				{"override_callback_uri":"https://orphan.example.com"}
			],"paging":{"cursors":{"before":"QVFI","after":"QVFJ"}}}`,
			method: http.MethodGet, path: "/v23.0/" + waba + "/subscribed_apps", query: url.Values{},
			auth: "Bearer EAAGbusiness",
			want: []SubscribedApp{
				{AppID: "1234567890", Name: "Coex", Link: "https://www.example.com/app"},
				{AppID: "555", Name: "Other", OverrideCallbackURI: "https://other.example.com/hook"},
				{OverrideCallbackURI: "https://orphan.example.com"},
			},
		},
		"UnsubscribeApp": {
			call:   func(ctx context.Context, c Client) (any, error) { return nil, c.UnsubscribeApp(ctx, token, waba) },
			answer: `{"success":true}`,
			method: http.MethodDelete, path: "/v23.0/" + waba + "/subscribed_apps", query: url.Values{},
			auth: "Bearer EAAGbusiness",
		},
		"GetAppSubscriptions": {
			call: func(ctx context.Context, c Client) (any, error) { return c.GetAppSubscriptions(ctx, testApp) },
			answer: `{"data":[{"object":"whatsapp_business_account","callback_url":"https://hooks.example.com/meta","active":true,
				"fields":[{"name":"messages","version":"v23.0"},{"name":"history","version":"v23.0"},"account_update"]},
				{"object":"page","callback_url":"https://hooks.example.com/page","active":false,"fields":[]}]}`,
			method: http.MethodGet, path: "/v23.0/1234567890/subscriptions", query: url.Values{},
			auth: "Bearer 1234567890|s3cr3t",
			want: []AppSubscription{
				{Object: "whatsapp_business_account", CallbackURL: "https://hooks.example.com/meta", Active: true,
					Fields: []string{"messages", "history", "account_update"}},
				{Object: "page", CallbackURL: "https://hooks.example.com/page", Fields: []string{}},
			},
		},
		"SetAppSubscription": {
			call: func(ctx context.Context, c Client) (any, error) {
				return nil, c.SetAppSubscription(ctx, testApp, AppSubscriptionRequest{
					Object: "whatsapp_business_account", CallbackURL: "https://hooks.example.com/meta",
					VerifyToken: "vtok", Fields: []string{"messages", "smb_message_echoes", "history"}})
			},
			answer: `{"success":true}`,
			method: http.MethodPost, path: "/v23.0/1234567890/subscriptions", query: url.Values{},
			auth: "Bearer 1234567890|s3cr3t",
			wantForm: url.Values{"object": {"whatsapp_business_account"}, "callback_url": {"https://hooks.example.com/meta"},
				"verify_token": {"vtok"}, "fields": {"messages,smb_message_echoes,history"}},
		},
		"RequestContactsSync": {
			call:   func(ctx context.Context, c Client) (any, error) { return c.RequestContactsSync(ctx, token, phone) },
			answer: `{"messaging_product":"whatsapp","request_id":"req-contacts-1"}`,
			method: http.MethodPost, path: "/v23.0/" + phone + "/smb_app_data", query: url.Values{},
			auth:     "Bearer EAAGbusiness",
			wantJSON: map[string]any{"messaging_product": "whatsapp", "sync_type": "smb_app_state_sync"},
			want:     SyncRequest{RequestID: "req-contacts-1"},
		},
		"RequestHistorySync": {
			call:   func(ctx context.Context, c Client) (any, error) { return c.RequestHistorySync(ctx, token, phone) },
			answer: `{"messaging_product":"whatsapp","request_id":"req-history-1","extra":{"x":1}}`,
			method: http.MethodPost, path: "/v23.0/" + phone + "/smb_app_data", query: url.Values{},
			auth:     "Bearer EAAGbusiness",
			wantJSON: map[string]any{"messaging_product": "whatsapp", "sync_type": "history"},
			want:     SyncRequest{RequestID: "req-history-1"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rec := respond(ok(tc.answer))
			c, _ := testClient(t, rec, Options{})
			got, err := tc.call(context.Background(), c)
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			if tc.want != nil && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("result:\n got %#v\nwant %#v", got, tc.want)
			}
			seen := rec.Seen()
			if len(seen) != 1 {
				t.Fatalf("server saw %d requests, want 1", len(seen))
			}
			r := seen[0]
			if r.Method != tc.method || r.Path != tc.path {
				t.Errorf("request %s %s, want %s %s", r.Method, r.Path, tc.method, tc.path)
			}
			if !reflect.DeepEqual(r.Query, tc.query) {
				t.Errorf("query %v, want %v", r.Query, tc.query)
			}
			if r.Auth != tc.auth {
				t.Errorf("Authorization %q, want %q", r.Auth, tc.auth)
			}
			switch {
			case tc.wantJSON != nil:
				var body map[string]any
				if err := json.Unmarshal([]byte(r.Body), &body); err != nil {
					t.Fatalf("body %q is not JSON: %v", r.Body, err)
				}
				if !reflect.DeepEqual(body, tc.wantJSON) || r.ContentType != contentTypeJSON {
					t.Errorf("body %s (%s), want %v (%s)", r.Body, r.ContentType, tc.wantJSON, contentTypeJSON)
				}
			case tc.wantForm != nil:
				form, err := url.ParseQuery(r.Body)
				if err != nil || !reflect.DeepEqual(form, tc.wantForm) || r.ContentType != contentTypeForm {
					t.Errorf("body %q (%s), want form %v", r.Body, r.ContentType, tc.wantForm)
				}
			case r.Body != "":
				t.Errorf("body %q, want none", r.Body)
			}
		})
	}
}

func TestSuccessShapes(t *testing.T) {
	cases := map[string]struct {
		answer  string
		wantErr bool
	}{
		"success true":     {answer: `{"success":true}`},
		"bare true":        {answer: `true`},
		"empty body":       {answer: ``},
		"no success field": {answer: `{"id":"1"}`},
		"success false":    {answer: `{"success":false}`, wantErr: true},
		"not JSON":         {answer: `<html>ok</html>`, wantErr: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rec := respond(ok(tc.answer))
			c, _ := testClient(t, rec, Options{})
			err := c.UnsubscribeApp(context.Background(), "tok", "42")
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				ge := asError(t, err)
				if ge.Class != ClassPermanent || ge.HTTPStatus != http.StatusOK || len(rec.Seen()) != 1 {
					t.Errorf("got %v after %d requests, want a permanent error on HTTP 200 after 1", err, len(rec.Seen()))
				}
			}
		})
	}
}

func TestPathEscapingAndBasePath(t *testing.T) {
	rec := respond(ok(`{"id":"x"}`))
	srv, _ := testClient(t, rec, Options{})
	// A base URL with a path prefix, as behind a proxy or in the simulator.
	c := New(Options{BaseURL: srv.base.String() + "/graph/", APIVersion: "v99.0", Sleep: srv.opts.Sleep})
	if _, err := c.GetPhoneNumber(context.Background(), "tok", "a/b?c=d"); err != nil {
		t.Fatalf("GetPhoneNumber: %v", err)
	}
	if got, want := rec.Seen()[0].Path, "/graph/v99.0/a%2Fb%3Fc=d"; got != want {
		t.Errorf("path %q, want %q", got, want)
	}
}

func TestEmptyIDIsRefusedWithoutARequest(t *testing.T) {
	rec := respond(ok(`{}`))
	c, _ := testClient(t, rec, Options{})
	_, err := c.RequestHistorySync(context.Background(), "tok", "")
	if ge := asError(t, err); ge.Class != ClassPermanent {
		t.Errorf("class %v, want Permanent", ge.Class)
	}
	if n := len(rec.Seen()); n != 0 {
		t.Errorf("server saw %d requests, want 0", n)
	}
}

func TestBadBaseURL(t *testing.T) {
	c := New(Options{BaseURL: "graph.facebook.com"})
	err := c.UnsubscribeApp(context.Background(), "tok", "42")
	if ge := asError(t, err); ge.Class != ClassPermanent {
		t.Errorf("class %v, want Permanent", ge.Class)
	}
}

func TestDefaults(t *testing.T) {
	c := New(Options{})
	if c.opts.BaseURL != DefaultBaseURL || c.opts.APIVersion != DefaultAPIVersion || c.opts.HTTPClient.Timeout != DefaultTimeout {
		t.Errorf("defaults: %q %q %v", c.opts.BaseURL, c.opts.APIVersion, c.opts.HTTPClient.Timeout)
	}
	if c.opts.Retry != DefaultRetryPolicy() {
		t.Errorf("retry policy %+v, want %+v", c.opts.Retry, DefaultRetryPolicy())
	}
	if c.limiter != nil {
		t.Error("a client without Limiters has a limiter")
	}
}
