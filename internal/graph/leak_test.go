// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Distinctive secrets, with characters that URLs escape, so both raw and escaped echoes are
// tried. Each has an alphanumeric core; the core must appear nowhere.
var leakSecrets = struct {
	appSecret, code, token, verify Secret
	cores                          []string
}{
	appSecret: "AppSecretCoreQx7+/=",
	code:      "SignupCodeCoreZk4/+==",
	token:     "BizTokenCoreWm9|&",
	verify:    "VerifyTokCoreJp2 ?",
	cores:     []string{"AppSecretCoreQx7", "SignupCodeCoreZk4", "BizTokenCoreWm9", "VerifyTokCoreJp2"},
}

// leakCalls runs every Client method with the leak secrets.
var leakCalls = map[string]func(ctx context.Context, c Client) error{
	CallExchangeCode: func(ctx context.Context, c Client) error {
		_, err := c.ExchangeCode(ctx, App{ID: "111", Secret: leakSecrets.appSecret}, leakSecrets.code)
		return err
	},
	CallGetPhoneNumber: func(ctx context.Context, c Client) error {
		_, err := c.GetPhoneNumber(ctx, leakSecrets.token, "222")
		return err
	},
	CallSubscribeApp: func(ctx context.Context, c Client) error {
		return c.SubscribeApp(ctx, leakSecrets.token, "333", SubscribeOptions{OverrideCallbackURI: "https://h.example.com", VerifyToken: leakSecrets.verify})
	},
	CallListSubscribedApps: func(ctx context.Context, c Client) error {
		_, err := c.ListSubscribedApps(ctx, leakSecrets.token, "333")
		return err
	},
	CallUnsubscribeApp: func(ctx context.Context, c Client) error {
		return c.UnsubscribeApp(ctx, leakSecrets.token, "333")
	},
	CallGetAppSubscriptions: func(ctx context.Context, c Client) error {
		_, err := c.GetAppSubscriptions(ctx, App{ID: "111", Secret: leakSecrets.appSecret})
		return err
	},
	CallSetAppSubscription: func(ctx context.Context, c Client) error {
		return c.SetAppSubscription(ctx, App{ID: "111", Secret: leakSecrets.appSecret}, AppSubscriptionRequest{
			Object: "whatsapp_business_account", CallbackURL: "https://h.example.com", VerifyToken: leakSecrets.verify,
			Fields: []string{"history"}})
	},
	CallRequestContactsSync: func(ctx context.Context, c Client) error {
		_, err := c.RequestContactsSync(ctx, leakSecrets.token, "222")
		return err
	},
	CallRequestHistorySync: func(ctx context.Context, c Client) error {
		_, err := c.RequestHistorySync(ctx, leakSecrets.token, "222")
		return err
	},
}

// echo answers a Graph error whose every text field repeats what the request carried:
// the Authorization header, the raw and decoded query, and the body.
func echo(status int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		said := fmt.Sprintf("auth=%s rawquery=%s query=%v body=%s", r.Header.Get("Authorization"), r.URL.RawQuery, r.URL.Query(), body)
		out, _ := json.Marshal(map[string]any{"error": map[string]any{
			"message": "Invalid OAuth access token: " + said, "type": "OAuthException " + said,
			"code": 100, "fbtrace_id": said, "error_user_msg": said,
			"error_data": map[string]string{"details": said},
		}})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(out)
	}
}

// html502 answers a gateway page that quotes the request URL and the Authorization header.
func html502(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(http.StatusBadGateway)
	fmt.Fprintf(w, "<html><body>502 Bad Gateway for %s (%s)</body></html>", r.URL.String(), r.Header.Get("Authorization"))
}

// TestNoSecretLeaks runs every call against every failure and looks for the secrets in every
// way the error can be printed, along its whole chain, and in the Observer's arguments.
func TestNoSecretLeaks(t *testing.T) {
	scenarios := map[string]func(t *testing.T, o Options) (Client, context.Context){
		"echoed in a 400": func(t *testing.T, o Options) (Client, context.Context) {
			return leakServer(t, echo(400), o), context.Background()
		},
		"echoed in a retried 503": func(t *testing.T, o Options) (Client, context.Context) {
			o.Retry = RetryPolicy{MaxAttempts: 2}
			return leakServer(t, echo(503), o), context.Background()
		},
		"caller deadline while the server hangs": func(t *testing.T, o Options) (Client, context.Context) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
			t.Cleanup(cancel)
			return leakServer(t, newBlocking(t), o), ctx
		},
		"attempt timeout while the server hangs": func(t *testing.T, o Options) (Client, context.Context) {
			o.AttemptTimeout, o.Retry = 20*time.Millisecond, RetryPolicy{MaxAttempts: 2}
			return leakServer(t, newBlocking(t), o), context.Background()
		},
		"http.Client timeout while the server hangs": func(t *testing.T, o Options) (Client, context.Context) {
			o.HTTPClient, o.Retry = &http.Client{Timeout: 20 * time.Millisecond}, RetryPolicy{MaxAttempts: 1}
			return leakServer(t, newBlocking(t), o), context.Background()
		},
		"connection refused": func(t *testing.T, o Options) (Client, context.Context) {
			o.Retry = RetryPolicy{MaxAttempts: 2}
			return closedServerClient(t, o), context.Background()
		},
		"non-JSON 502": func(t *testing.T, o Options) (Client, context.Context) {
			o.Retry = RetryPolicy{MaxAttempts: 2}
			return leakServer(t, http.HandlerFunc(html502), o), context.Background()
		},
	}
	for sname, scenario := range scenarios {
		for cname, call := range leakCalls {
			t.Run(sname+"/"+cname, func(t *testing.T) {
				var mu sync.Mutex
				var observed []string
				obs := func(call, outcome string, d time.Duration) {
					mu.Lock()
					defer mu.Unlock()
					observed = append(observed, fmt.Sprint(call, outcome, d))
				}
				c, ctx := scenario(t, Options{Observer: obs})
				err := call(ctx, c)
				if err == nil {
					t.Fatal("no error")
				}
				texts := []string{err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err),
					fmt.Sprintf("%#v", err), fmt.Sprintf("%s", err), fmt.Sprintf("%q", err)}
				for e := errors.Unwrap(err); e != nil; e = errors.Unwrap(e) {
					texts = append(texts, e.Error(), fmt.Sprintf("%+v", e), fmt.Sprintf("%#v", e))
				}
				var ge *Error
				if errors.As(err, &ge) {
					texts = append(texts, fmt.Sprintf("%+v", *ge), fmt.Sprintf("%#v", *ge))
				} else {
					t.Errorf("error %v holds no *Error", err)
				}
				mu.Lock()
				texts = append(texts, observed...)
				if len(observed) == 0 {
					t.Error("the Observer saw no attempt")
				}
				mu.Unlock()
				for _, text := range texts {
					for _, core := range leakSecrets.cores {
						if strings.Contains(text, core) {
							t.Fatalf("secret %q leaked in %q", core, text)
						}
					}
				}
			})
		}
	}
}

func leakServer(t *testing.T, h http.Handler, o Options) *HTTPClient {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	clk := newFakeClock()
	o.BaseURL, o.Sleep, o.Now = srv.URL, clk.Sleep, clk.Now
	return New(o)
}

// The first scenario must really have echoed the secrets, or the test above proves nothing.
func TestLeakServerEchoes(t *testing.T) {
	c := leakServer(t, echo(400), Options{})
	err := leakCalls[CallExchangeCode](context.Background(), c)
	if !strings.Contains(asError(t, err).Message, "[redacted]") {
		t.Errorf("message %q shows no redaction: the echo server did not echo", asError(t, err).Message)
	}
}

func TestRedactorForms(t *testing.T) {
	r := newRedactor("", "a|b c", App{ID: "1", Secret: "a|b c"}.AppToken())
	in := "raw a|b c, query a%7Cb+c, path a%7Cb%20c, app 1|a|b c"
	want := "raw [redacted], query [redacted], path [redacted], app [redacted]"
	if got := r.String(in); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if r.String("") != "" || newRedactor().String("x") != "x" {
		t.Error("an empty secret must redact nothing")
	}
}

func TestStripURL(t *testing.T) {
	got := stripURL("https://user:pw@graph.example.com/v23.0/oauth/access_token?client_secret=s&code=c#frag")
	if got != "https://graph.example.com/v23.0/oauth/access_token" {
		t.Errorf("got %q", got)
	}
}
