// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

// Package receiver is the webhook receiver sidecar (cmd/receiver): it answers Meta's callbacks
// and turns them into CoexNumber status and relayed events, losing nothing on the way.
//
// The path of a webhook:
//
//  1. Server (server.go): the handshake, a bounded body, X-Hub-Signature-256 checked against
//     the MetaApp's app secret (and the previous one for a while after a rotation), then the
//     body appended to the store's inbox. Meta gets its 200 only once the body is durable.
//  2. Store (store/): one interface, two backends: store/bolt (embedded bbolt files, one
//     receiver) and store/postgres (one database, any number of receivers). This package
//     never knows which one it runs on.
//  3. Dispatcher (dispatch.go, normalize.go): claimed batches of records are parsed on every
//     core, then applied in one store transaction each, together with their removal from the
//     inbox: whole payloads and every message, chunk, thread, contact and account event
//     de-duplicated; counts updated; normalized events (event.go) appended to the number's
//     outbox; unreadable or unmatched payloads kept as dead letters. A crash repeats a batch
//     or none of it, never half.
//  4. StatusWriter (status.go): every second at most, a server-side apply of the receiver's
//     own status fields and conditions, absolute values from the store.
//  5. Relay (relay.go): each number's outbox, under a lease, POSTed in order to its endpoint,
//     signed, at least once, until the endpoint answers 2xx.
//
// The receiver shares the manager's ServiceAccount; the markers below list what it uses.
//
// +kubebuilder:rbac:groups=whatsapp.coex.dev,resources=coexnumbers;metaapps,verbs=get;list;watch
// +kubebuilder:rbac:groups=whatsapp.coex.dev,resources=coexnumbers/status,verbs=get;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
package receiver
