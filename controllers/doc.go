// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

// Package controllers holds coex-operator's reconcilers, one file per concern, each owning its
// conditions (see ../shared/DESIGN.md and STYLE.md). The reconcilers land in later steps; this
// file carries the RBAC the manager needs, generated into config/rbac/role.yaml by
// `make manifests`.
package controllers

// The manager reads and updates both kinds and writes their status; the finalizer guards
// deletion of a CoexNumber.
// +kubebuilder:rbac:groups=whatsapp.coex.dev,resources=coexnumbers;metaapps,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=whatsapp.coex.dev,resources=coexnumbers/status;metaapps/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=whatsapp.coex.dev,resources=coexnumbers/finalizers,verbs=update

// Secrets: watched as metadata only (a change wakes the objects that name the Secret; no
// Secret data is listed or cached) and read one by one when a value is needed: the app
// secret, verify token, access token, signup code and relay keys. Created, never changed:
// the token Secret an exchanged signup code is written to (owned by its CoexNumber).
// Kubernetes has no metadata-only verb: list and watch are what a metadata watch needs.
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create

// In the operator's namespace only: the receiver's credentials Secret, kept by the leader
// (created with the create above, then updated), and a short-lived token of the receiver's
// own ServiceAccount, requested by every replica for its receiver container.
// +kubebuilder:rbac:groups="",namespace=system,resources=secrets,resourceNames=coex-receiver-credentials,verbs=update
// +kubebuilder:rbac:groups="",namespace=system,resources=serviceaccounts/token,resourceNames=coex-receiver,verbs=create

// Events for every transition, through the events.k8s.io API.
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Leader election needs Leases only in the operator's own namespace: a namespaced Role in
// config/rbac/leader_election_role.yaml, not this ClusterRole.

// With --metrics-secure the metrics endpoint authenticates and authorizes its callers.
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create
