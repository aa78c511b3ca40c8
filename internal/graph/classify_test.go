// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graph

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestErrorClasses runs realistic Graph answers through the client (without retries) and
// checks the class and the fields of the *Error.
func TestErrorClasses(t *testing.T) {
	type call func(ctx context.Context, c Client) error
	history := func(ctx context.Context, c Client) error {
		_, err := c.RequestHistorySync(ctx, "tok", "106540352242922")
		return err
	}
	contacts := func(ctx context.Context, c Client) error {
		_, err := c.RequestContactsSync(ctx, "tok", "106540352242922")
		return err
	}
	exchange := func(ctx context.Context, c Client) error {
		_, err := c.ExchangeCode(ctx, testApp, "AQBcode")
		return err
	}
	phone := func(ctx context.Context, c Client) error {
		_, err := c.GetPhoneNumber(ctx, "tok", "106540352242922")
		return err
	}
	subscribe := func(ctx context.Context, c Client) error {
		return c.SubscribeApp(ctx, "tok", "102290129340398", SubscribeOptions{})
	}
	cases := map[string]struct {
		call       call
		status     int
		header     map[string]string
		body       string
		class      Class
		code       int
		subcode    int
		retryAfter time.Duration
		msg        string // a substring of Message
	}{
		"expired session on a sync call is Auth, not WindowExpired": {
			call: history, status: 400, class: ClassAuth, code: 190, subcode: 463,
			body: `{"error":{"message":"Error validating access token: Session has expired on Tuesday, 01-Jul-25 10:00:00 PDT. The current time is Tuesday, 01-Jul-25 11:00:00 PDT.","type":"OAuthException","code":190,"error_subcode":463,"fbtrace_id":"AbCdEf123"}}`,
		},
		"invalid token on 401": {
			call: phone, status: 401, class: ClassAuth, code: 190,
			body: `{"error":{"message":"Invalid OAuth access token - Cannot parse access token","type":"OAuthException","code":190,"fbtrace_id":"A1"}}`,
		},
		"401 without a body": {call: subscribe, status: 401, class: ClassAuth},
		"subcode 467 alone": {
			call: phone, status: 400, class: ClassAuth, code: 100, subcode: 467,
			body: `{"error":{"message":"Invalid access token","type":"OAuthException","code":100,"error_subcode":467}}`,
		},
		"code 102 session key": {
			call: phone, status: 400, class: ClassAuth, code: 102,
			body: `{"error":{"message":"Session key invalid or no longer valid","type":"OAuthException","code":102}}`,
		},
		"permission 200": {
			call: subscribe, status: 403, class: ClassAuth, code: 200,
			body: `{"error":{"message":"(#200) Permissions error","type":"OAuthException","code":200,"fbtrace_id":"A2"}}`,
		},
		"permission 10": {
			call: history, status: 403, class: ClassAuth, code: 10,
			body: `{"error":{"message":"(#10) Application does not have permission for this action","type":"OAuthException","code":10,"fbtrace_id":"A3"}}`,
		},
		"missing permission 299 with 'expired' words": {
			call: contacts, status: 403, class: ClassAuth, code: 299,
			body: `{"error":{"message":"(#299) Requires whatsapp_business_management permission; the grant has expired","type":"OAuthException","code":299}}`,
		},
		"bare 403 from a proxy": {
			call: phone, status: 403, header: map[string]string{"Content-Type": "text/html"}, class: ClassAuth,
			body: `<html><body>Forbidden</body></html>`,
		},
		"history already requested (2593107)": {
			call: history, status: 400, class: ClassAlreadyRequested, code: 2593107,
			body: `{"error":{"message":"(#2593107) Sync request is not allowed","type":"OAuthException","code":2593107,"fbtrace_id":"A4"}}`,
		},
		"contacts already requested (subcode 2593107)": {
			call: contacts, status: 400, class: ClassAlreadyRequested, code: 100, subcode: 2593107,
			body: `{"error":{"message":"Invalid parameter","type":"OAuthException","code":100,"error_subcode":2593107,"fbtrace_id":"A5"}}`,
		},
		"history already requested (message)": {
			call: history, status: 400, class: ClassAlreadyRequested, code: 100, msg: "ALREADY",
			body: `{"error":{"message":"(#100) History sync has ALREADY been requested for this phone number.","type":"OAuthException","code":100}}`,
		},
		"already in error_data.details": {
			call: contacts, status: 400, class: ClassAlreadyRequested, code: 131000, msg: "already been requested",
			body: `{"error":{"message":"Something went wrong","type":"OAuthException","code":131000,"error_data":{"messaging_product":"whatsapp","details":"Contacts sync has already been requested"}}}`,
		},
		"window expired (expired)": {
			call: history, status: 400, class: ClassWindowExpired, code: 100,
			body: `{"error":{"message":"(#100) The period to request history sync has expired.","type":"OAuthException","code":100,"fbtrace_id":"A6"}}`,
		},
		"window expired (window)": {
			call: contacts, status: 400, class: ClassWindowExpired, code: 100,
			body: `{"error":{"message":"Sync window closed for this phone number","type":"OAuthException","code":100}}`,
		},
		"window expired (24 hours)": {
			call: history, status: 400, class: ClassWindowExpired, code: 131047,
			body: `{"error":{"message":"(#131047) Re-engagement message","type":"OAuthException","code":131047,"error_data":{"messaging_product":"whatsapp","details":"More than 24 hours have passed since onboarding."}}}`,
		},
		"history already requested (subcode 2593107, no telling text)": {
			call: history, status: 400, class: ClassAlreadyRequested, code: 100, subcode: 2593107,
			body: `{"error":{"message":"(#100) Invalid parameter","type":"OAuthException","code":100,"error_subcode":2593107,"fbtrace_id":"C1"}}`,
		},
		"already requested on a 409": {
			call: contacts, status: 409, class: ClassAlreadyRequested, code: 100,
			body: `{"error":{"message":"Contacts sync was already requested","type":"OAuthException","code":100}}`,
		},
		"invalid parameter on a sync call is Permanent, not done": {
			call: history, status: 400, class: ClassPermanent, code: 100,
			body: `{"error":{"message":"(#100) Invalid parameter","type":"OAuthException","code":100,"fbtrace_id":"C2"}}`,
		},
		"'already' on a 500 is Transient, not done": {
			call: history, status: 500, class: ClassTransient, code: 100,
			body: `{"error":{"message":"History sync already in progress, try again","type":"OAuthException","code":100}}`,
		},
		"'already' on a 500 without a Graph code is Transient": {
			call: contacts, status: 500, class: ClassTransient, header: map[string]string{"Content-Type": "text/plain"},
			body: `request already being processed`,
		},
		"'expired' on a 503 is Transient, not WindowExpired": {
			call: contacts, status: 503, class: ClassTransient, code: 2,
			body: `{"error":{"message":"Upstream deadline expired","type":"OAuthException","code":2,"is_transient":true}}`,
		},
		"subcode 2593107 on a 429 is Transient": {
			call: history, status: 429, class: ClassTransient, code: 100, subcode: 2593107,
			body: `{"error":{"message":"already requested","type":"OAuthException","code":100,"error_subcode":2593107}}`,
		},
		"'already' with is_transient on a 400 is Transient": {
			call: history, status: 400, class: ClassTransient, code: 100,
			body: `{"error":{"message":"A request is already running","type":"OAuthException","code":100,"is_transient":true}}`,
		},
		"'already' with a throttling code on a 400 is Transient": {
			call: contacts, status: 400, class: ClassTransient, code: 80007,
			body: `{"error":{"message":"(#80007) Rate limit already reached","type":"OAuthException","code":80007}}`,
		},
		"'window' with a throttling code on a 403 is Transient": {
			call: history, status: 403, class: ClassTransient, code: 4,
			body: `{"error":{"message":"(#4) Request limit reached for this window","type":"OAuthException","code":4}}`,
		},
		"'already' in an error object on HTTP 200 is Permanent": {
			call: history, status: 200, class: ClassPermanent, code: 100,
			body: `{"error":{"message":"already requested","type":"OAuthException","code":100}}`,
		},
		"expired signup code on a 500 is still Permanent": {
			call: exchange, status: 500, class: ClassPermanent, code: 100, subcode: 36007,
			body: `{"error":{"message":"This authorization code has expired.","type":"OAuthException","code":100,"error_subcode":36007,"is_transient":true}}`,
		},
		"'already' on a non-sync call is Permanent": {
			call: exchange, status: 400, class: ClassPermanent, code: 100, subcode: 36009,
			body: `{"error":{"message":"This authorization code has been used already.","type":"OAuthException","code":100,"error_subcode":36009,"fbtrace_id":"A7"}}`,
		},
		"expired signup code is Permanent": {
			call: exchange, status: 400, class: ClassPermanent, code: 100, subcode: 36007,
			body: `{"error":{"message":"This authorization code has expired.","type":"OAuthException","code":100,"error_subcode":36007}}`,
		},
		"429 with Retry-After seconds": {
			call: phone, status: 429, header: map[string]string{"Retry-After": "30"}, class: ClassTransient,
			code: 80007, retryAfter: 30 * time.Second,
			body: `{"error":{"message":"(#80007) Rate limit issues","type":"OAuthException","code":80007}}`,
		},
		"application request limit (4) on 403": {
			call: subscribe, status: 403, class: ClassTransient, code: 4,
			body: `{"error":{"message":"(#4) Application request limit reached","type":"OAuthException","is_transient":true,"code":4,"fbtrace_id":"A8"}}`,
		},
		"user request limit (17)": {
			call: phone, status: 400, class: ClassTransient, code: 17,
			body: `{"error":{"message":"(#17) User request limit reached","type":"OAuthException","code":17}}`,
		},
		"custom-level throttling (613)": {
			call: phone, status: 400, class: ClassTransient, code: 613,
			body: `{"error":{"message":"(#613) Calls to this api have exceeded the rate limit.","type":"OAuthException","code":613}}`,
		},
		"cloud api throughput (130429) on a sync call": {
			call: history, status: 400, class: ClassTransient, code: 130429,
			body: `{"error":{"message":"(#130429) Rate limit hit","type":"OAuthException","code":130429,"error_data":{"messaging_product":"whatsapp","details":"Cloud API message throughput has been reached."}}}`,
		},
		"spam rate limit (131048)": {
			call: contacts, status: 400, class: ClassTransient, code: 131048,
			body: `{"error":{"message":"(#131048) Spam rate limit hit","type":"OAuthException","code":131048}}`,
		},
		"pair rate limit (131056)": {
			call: phone, status: 400, class: ClassTransient, code: 131056,
			body: `{"error":{"message":"(#131056) (Business Account, Consumer Account) pair rate limit hit","type":"OAuthException","code":131056}}`,
		},
		"unexpected error (2) on 500": {
			call: phone, status: 500, class: ClassTransient, code: 2,
			body: `{"error":{"message":"An unexpected error has occurred. Please retry your request later.","type":"OAuthException","is_transient":true,"code":2,"fbtrace_id":"A9"}}`,
		},
		"unknown error (1)": {
			call: subscribe, status: 400, class: ClassTransient, code: 1, subcode: 99,
			body: `{"error":{"message":"An unknown error occurred","type":"OAuthException","code":1,"error_subcode":99}}`,
		},
		"is_transient on an otherwise permanent code": {
			call: phone, status: 400, class: ClassTransient, code: 9999,
			body: `{"error":{"message":"Temporary issue","type":"OAuthException","code":9999,"is_transient":true}}`,
		},
		"HTML 502": {
			call: history, status: 502, header: map[string]string{"Content-Type": "text/html"}, class: ClassTransient,
			body: `<html><head><title>502 Bad Gateway</title></head><body>Bad Gateway</body></html>`,
		},
		"503 with Retry-After date": {
			call: phone, status: 503, header: map[string]string{"Retry-After": "RETRYDATE"}, class: ClassTransient,
			retryAfter: 90 * time.Second, body: ``,
		},
		"invalid parameter (100)": {
			call: phone, status: 400, class: ClassPermanent, code: 100, subcode: 33,
			body: `{"error":{"message":"Unsupported get request. Object with ID '106540352242922' does not exist, cannot be loaded due to missing permissions, or does not support this operation.","type":"GraphMethodException","code":100,"error_subcode":33,"fbtrace_id":"B1"}}`,
		},
		"404 without Graph error": {call: subscribe, status: 404, class: ClassPermanent, body: `not found`},
		"string code and transient flag": {
			call: phone, status: 400, class: ClassTransient, code: 4,
			body: `{"error":{"message":"limit","code":"4","is_transient":"true"}}`,
		},
		"OAuth-style error string": {
			call: exchange, status: 400, class: ClassPermanent, msg: "invalid_request",
			body: `{"error":"invalid_request"}`,
		},
		"error object on HTTP 200": {
			call: subscribe, status: 200, class: ClassPermanent, code: 100,
			body: `{"error":{"message":"(#100) Invalid parameter","type":"OAuthException","code":100}}`,
		},
		"unknown fields are ignored": {
			call: history, status: 400, class: ClassAlreadyRequested, code: 2593107,
			body: `{"error":{"message":"x","type":"OAuthException","code":2593107,"error_user_title":"t","error_user_msg":"u","error_data":"{\"blame_field_specs\":[[\"x\"]]}","new":{"a":1}},"extra":true}`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rec := respond()
			c, clk := testClient(t, rec, Options{Retry: RetryPolicy{MaxAttempts: 1}})
			header := map[string]string{}
			for k, v := range tc.header {
				if v == "RETRYDATE" {
					v = clk.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
				}
				header[k] = v
			}
			rec.responses = []response{{status: tc.status, header: header, body: tc.body}}
			err := tc.call(context.Background(), c)
			ge := asError(t, err)
			if ge.Class != tc.class || ge.Code != tc.code || ge.Subcode != tc.subcode || ge.HTTPStatus != tc.status {
				t.Errorf("got class %v code %d/%d HTTP %d, want %v %d/%d HTTP %d (%v)",
					ge.Class, ge.Code, ge.Subcode, ge.HTTPStatus, tc.class, tc.code, tc.subcode, tc.status, err)
			}
			if ge.RetryAfter != tc.retryAfter {
				t.Errorf("RetryAfter %v, want %v", ge.RetryAfter, tc.retryAfter)
			}
			if !strings.Contains(ge.Message, tc.msg) {
				t.Errorf("Message %q does not contain %q", ge.Message, tc.msg)
			}
			if ClassOf(err) != tc.class {
				t.Errorf("ClassOf = %v, want %v", ClassOf(err), tc.class)
			}
			if !strings.HasPrefix(err.Error(), "graph ") {
				t.Errorf("Error() = %q", err.Error())
			}
		})
	}
}

func TestErrorFieldsAndText(t *testing.T) {
	rec := respond(response{status: 400, body: `{"error":{"message":"(#100) Invalid parameter","type":"OAuthException","code":100,"error_subcode":2494010,"fbtrace_id":"AzGz1"}}`})
	c, _ := testClient(t, rec, Options{})
	err := c.SubscribeApp(context.Background(), "tok", "42", SubscribeOptions{})
	ge := asError(t, err)
	if ge.Type != "OAuthException" || ge.FBTraceID != "AzGz1" || ge.Call != CallSubscribeApp {
		t.Errorf("fields: %#v", ge)
	}
	want := "graph SubscribeApp: Permanent: HTTP 400: (#100/2494010) (#100) Invalid parameter [fbtrace_id AzGz1]"
	if err.Error() != want {
		t.Errorf("Error()\n got %q\nwant %q", err.Error(), want)
	}
}

func TestClassHelpers(t *testing.T) {
	wrapped := func(c Class) error { return errors.Join(errors.New("ctx"), &Error{Class: c}) }
	if !IsTransient(wrapped(ClassTransient)) || !IsAlreadyRequested(wrapped(ClassAlreadyRequested)) ||
		!IsWindowExpired(wrapped(ClassWindowExpired)) || !IsAuth(wrapped(ClassAuth)) {
		t.Error("a helper misses a wrapped *Error")
	}
	if IsTransient(nil) || IsAuth(errors.New("x")) || !IsTransient(context.DeadlineExceeded) {
		t.Error("helpers on plain errors")
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := map[string]struct {
		v    string
		want time.Duration
	}{
		"absent":       {"", 0},
		"zero":         {"0", 0},
		"seconds":      {"7", 7 * time.Second},
		"spaces":       {" 12 ", 12 * time.Second},
		"negative":     {"-3", 0},
		"garbage":      {"soon", 0},
		"date":         {now.Add(2 * time.Minute).Format(http.TimeFormat), 2 * time.Minute},
		"past date":    {now.Add(-time.Hour).Format(http.TimeFormat), 0},
		"huge":         {"99999999999999999", maxRetryAfter},
		"far date":     {now.Add(100 * 24 * time.Hour).Format(http.TimeFormat), maxRetryAfter},
		"RFC 850 date": {"Saturday, 02-Jan-26 03:05:05 GMT", time.Minute},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := parseRetryAfter(tc.v, now); got != tc.want {
				t.Errorf("parseRetryAfter(%q) = %v, want %v", tc.v, got, tc.want)
			}
		})
	}
}
