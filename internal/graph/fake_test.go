// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graph

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
)

func TestFakeNotImplemented(t *testing.T) {
	f := &Fake{}
	ctx := context.Background()
	errs := map[string]error{}
	_, errs[CallExchangeCode] = f.ExchangeCode(ctx, testApp, "c")
	_, errs[CallGetPhoneNumber] = f.GetPhoneNumber(ctx, "t", "p")
	errs[CallSubscribeApp] = f.SubscribeApp(ctx, "t", "w", SubscribeOptions{})
	_, errs[CallListSubscribedApps] = f.ListSubscribedApps(ctx, "t", "w")
	errs[CallUnsubscribeApp] = f.UnsubscribeApp(ctx, "t", "w")
	_, errs[CallGetAppSubscriptions] = f.GetAppSubscriptions(ctx, testApp)
	errs[CallSetAppSubscription] = f.SetAppSubscription(ctx, testApp, AppSubscriptionRequest{})
	_, errs[CallRequestContactsSync] = f.RequestContactsSync(ctx, "t", "p")
	_, errs[CallRequestHistorySync] = f.RequestHistorySync(ctx, "t", "p")
	if len(errs) != 9 {
		t.Fatalf("checked %d methods, want 9", len(errs))
	}
	for method, err := range errs {
		if !errors.Is(err, ErrNotImplemented) {
			t.Errorf("%s: %v, want ErrNotImplemented", method, err)
		}
		if f.Count(method) != 1 {
			t.Errorf("%s recorded %d times, want 1", method, f.Count(method))
		}
	}
}

func TestFakeCallsFuncsAndRecords(t *testing.T) {
	f := &Fake{
		RequestHistorySyncFunc: func(_ context.Context, token Secret, id string) (SyncRequest, error) {
			if token.Reveal() != "tok" {
				t.Errorf("token %q", token.Reveal())
			}
			return SyncRequest{RequestID: "req-" + id}, nil
		},
		SubscribeAppFunc: func(context.Context, Secret, string, SubscribeOptions) error {
			return &Error{Class: ClassTransient}
		},
	}
	ctx := context.Background()
	sr, err := f.RequestHistorySync(ctx, "tok", "42")
	if err != nil || sr.RequestID != "req-42" {
		t.Errorf("got %+v, %v", sr, err)
	}
	if err := f.SubscribeApp(ctx, "tok", "w1", SubscribeOptions{}); !IsTransient(err) {
		t.Errorf("got %v, want the func's transient error", err)
	}
	want := []FakeCall{{Method: CallRequestHistorySync, Target: "42"}, {Method: CallSubscribeApp, Target: "w1"}}
	if got := f.Calls(); !reflect.DeepEqual(got, want) {
		t.Errorf("calls %v, want %v", got, want)
	}
	f.Reset()
	if len(f.Calls()) != 0 {
		t.Error("Reset kept calls")
	}
}

func TestFakeConcurrent(t *testing.T) {
	f := &Fake{RequestContactsSyncFunc: func(context.Context, Secret, string) (SyncRequest, error) { return SyncRequest{}, nil }}
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = f.RequestContactsSync(context.Background(), "t", "p")
		}()
	}
	wg.Wait()
	if n := f.Count(CallRequestContactsSync); n != 20 {
		t.Errorf("counted %d, want 20", n)
	}
}
