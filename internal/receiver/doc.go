// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

// Package receiver is the webhook receiver sidecar (cmd/receiver): it answers Meta's callbacks
// and turns them into CoexNumber status and relayed events, losing nothing on the way.
//
// This package only assembles it (app.go) and answers, from the cluster, the questions its
// parts ask through small interfaces of their own (kube.go). The path of a webhook through
// the packages:
//
//  1. ingest: the handshake, a bounded body, X-Hub-Signature-256 checked against the
//     MetaApp's app secret (and the previous one for a while after a rotation; Kube is its
//     CredentialSource), then the body appended to the store's inbox. Meta gets its 200 only
//     once the body is durable.
//  2. store: one interface, two backends: store/bolt (embedded bbolt files, one receiver)
//     and store/postgres (one database, any number of receivers). No other package knows
//     which one it runs on.
//  3. process: claimed batches of records are parsed on every core, then applied in one
//     store transaction each, together with their removal from the inbox: whole payloads
//     and every message, chunk, thread, contact and account event de-duplicated (Kube, its
//     Resolver, names the CoexNumber); counts updated; normalized events (package event,
//     the tenants' document) appended to the number's outbox; unreadable or unmatched
//     payloads kept as dead letters. A crash repeats a batch or none of it, never half.
//  4. project: told by the dispatcher which numbers changed, the StatusWriter writes, every
//     second at most, a server-side apply of the receiver's own status fields and
//     conditions, absolute values from the store, and records their Kubernetes events.
//  5. relay: each number's outbox, under a lease, POSTed in order to its endpoint (Kube's
//     Endpoint), signed, at least once, until the endpoint answers 2xx.
//
// Each part registers its own metrics; Add wires them to controller-runtime's registry,
// with the two backlog gauges it measures from the store itself.
//
// The receiver faces the internet, so it has its own ServiceAccount (coex-receiver), whose
// short-lived token the manager container requests and hands it (package receivertoken);
// the pod's token, the manager's, is not mounted in the receiver container. The markers below
// are all that identity may do (config/rbac/receiver/role.yaml): read the two kinds, patch a
// number's status, record Events, and get the one Secret the manager projects the tenants'
// credentials into (package receivercreds). It may not list or watch any Secret, nor read one
// outside the operator's namespace.
//
// +kubebuilder:rbac:groups=whatsapp.coex.dev,resources=coexnumbers;metaapps,verbs=get;list;watch
// +kubebuilder:rbac:groups=whatsapp.coex.dev,resources=coexnumbers/status,verbs=get;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups="",namespace=system,resources=secrets,resourceNames=coex-receiver-credentials,verbs=get
package receiver
