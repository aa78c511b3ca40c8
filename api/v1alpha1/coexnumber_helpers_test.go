// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package v1alpha1

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestSyncDeadline(t *testing.T) {
	created := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	signedUp := time.Date(2026, 11, 21, 18, 30, 0, 0, time.UTC)
	cases := map[string]struct {
		onboardedAt *metav1.Time
		want        time.Time
	}{
		"counts from creation when onboardedAt is unset": {
			want: created.Add(24 * time.Hour),
		},
		"counts from onboardedAt when set, even before creation": {
			onboardedAt: &metav1.Time{Time: signedUp},
			want:        time.Date(2026, 11, 22, 18, 30, 0, 0, time.UTC),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			n := &CoexNumber{
				ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.NewTime(created)},
				Spec:       CoexNumberSpec{OnboardedAt: tc.onboardedAt},
			}
			if got := n.SyncDeadline(); !got.Time.Equal(tc.want) {
				t.Errorf("SyncDeadline() = %v, want %v", got.Time, tc.want)
			}
		})
	}
}

func TestSyncSpecWants(t *testing.T) {
	yes, no := true, false
	cases := map[string]struct {
		spec                   SyncSpec
		wantContacts, wantHist bool
	}{
		"unset means both, like the schema default": {SyncSpec{}, true, true},
		"contacts only": {SyncSpec{Contacts: &yes, History: &no}, true, false},
		"history only":  {SyncSpec{Contacts: &no, History: &yes}, false, true},
		"neither":       {SyncSpec{Contacts: &no, History: &no}, false, false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := tc.spec.WantsContactsSync(); got != tc.wantContacts {
				t.Errorf("WantsContactsSync() = %v, want %v", got, tc.wantContacts)
			}
			if got := tc.spec.WantsHistorySync(); got != tc.wantHist {
				t.Errorf("WantsHistorySync() = %v, want %v", got, tc.wantHist)
			}
		})
	}
}
