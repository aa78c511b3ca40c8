// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

// Package receiver is the webhook receiver sidecar (cmd/receiver): it answers Meta's callbacks
// and turns them into CoexNumber status and relayed events, losing nothing on the way.
//
// The path of a webhook:
//
//  1. Server (server.go): the handshake, a bounded body, X-Hub-Signature-256 checked against
//     the MetaApp's app secret (and the previous one for a while after a rotation), then the
//     body appended to the Spool. Meta gets its 200 only once the body is on disk.
//  2. Spool (spool.go): a bbolt file; concurrent appends share one fsynced commit.
//  3. Dispatcher (dispatch.go, normalize.go): batches of records are parsed on every core,
//     then applied in one State transaction each: whole payloads and every message, chunk,
//     thread, contact and account event de-duplicated; counts updated; normalized events
//     (event.go) appended to the number's outbox; unreadable or unmatched payloads kept as
//     dead letters. The transaction records the last spool sequence applied, so a crash
//     repeats a batch or none of it, never half.
//  4. StatusWriter (status.go): every second at most, a server-side apply of the receiver's
//     own status fields and conditions, absolute values from State.
//  5. Relay (relay.go): each number's outbox POSTed in order to its endpoint, signed, at
//     least once, until the endpoint answers 2xx.
//
// The receiver shares the manager's ServiceAccount; the markers below list what it uses.
//
// +kubebuilder:rbac:groups=whatsapp.coex.dev,resources=coexnumbers;metaapps,verbs=get;list;watch
// +kubebuilder:rbac:groups=whatsapp.coex.dev,resources=coexnumbers/status,verbs=get;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
package receiver
