// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

// Package graphsim is a faithful stand-in for Meta: the Graph API calls coex-operator makes
// (../../../shared/META_API.md) with Meta's rules, and the signed webhooks Meta sends back.
// Every test, benchmark and the demo talk to it instead of Meta, so it errs on the side of
// being strict: one-shot syncs, the 24 h window, per-token access, Graph's error shapes,
// throttling and server faults, retried and duplicated webhook deliveries.
//
// A Sim serves two surfaces from one http.Handler:
//
//   - Graph: /<version>/… (any version such as v23.0, or none): oauth/access_token,
//     /<PHONE_NUMBER_ID>, /<WABA_ID>/subscribed_apps, /<APP_ID>/subscriptions,
//     /<PHONE_NUMBER_ID>/smb_app_data, /<PHONE_NUMBER_ID>/deregister. Faults apply here only.
//   - Control: /_sim/… (JSON), mirrored by the Go API: apps, tokens, numbers with scenarios,
//     the clock, on-demand webhooks, the call record, delivery stats and faults.
//
// Each recorded Graph call is named after the client method that makes it (ExchangeCode,
// GetPhoneNumber, SubscribeApp, ListSubscribedApps, UnsubscribeApp, GetAppSubscriptions,
// SetAppSubscription, RequestContactsSync, RequestHistorySync, …) so a test can assert
// "history was requested exactly once for this number". A Call also tells what became of
// it: Status is what the client got, Accepted whether it took effect at "Meta" (true for a
// lost_response fault's call that ran), Fault whether a fault came before the effect or lost
// the answer after it (FaultedBeforeEffect, AnswerLost), SyncType and RequestID for
// smb_app_data, AnsweredAt when the answer went out. Calls(CallFilter{PhoneNumberID, SyncType})
// or GET /_sim/calls?phone_number_id=…&sync_type=… lists one number's sync requests in order.
//
// Where Meta is undocumented the simulator is configurable rather than hopeful: how a
// repeated or late smb_app_data is refused (Options.RepeatSyncAnswer, the scenario file's
// repeat_sync_answer, PUT /_sim/repeat-sync-answer). Listings are paged as Graph pages them,
// cursors and absolute next links, Options.ListPageSize to a page.
//
// A number's chat history is described by a Scenario and generated deterministically and
// lazily, one chunk at a time, so a 500,000-message account never sits in memory at once.
package graphsim
