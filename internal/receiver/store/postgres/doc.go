// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

// Package postgres is the store shared by any number of receivers: one PostgreSQL database.
//
// How it keeps store's promises:
//
//   - Durable before 200: Append is one autocommit INSERT, and every session runs with
//     synchronous_commit at least "on" (set per connection, so a server default of off or
//     local cannot weaken it; a stronger remote_apply is kept). With a synchronous standby
//     configured, "on" also waits for the standby, so a failover loses no acknowledged body.
//   - Exactly once: a claim is a transaction on its own connection, left open until Apply
//     commits it (fn's writes plus the DELETE of the claimed rows) or Release rolls it back.
//     A receiver that dies takes its transaction with it: rows and locks come back at once.
//   - One receiver per MetaApp, in order: a claim holds pg_advisory_xact_lock on a hash of
//     the MetaApp (tried app by app, oldest waiting first, never in a WHERE over many rows),
//     and locks its rows FOR UPDATE NOWAIT starting from the app's oldest waiting record. A
//     batch claimed while this receiver still holds an earlier one of the same app follows
//     it and is handed the app lock as the earlier one ends: it queues for the lock on its
//     own transaction, in claim order, and PostgreSQL grants a released lock to its queued
//     waiter before any other receiver's try-lock can take it (see lockWait).
//   - One relay per stream: a Lease is a session pg_try_advisory_lock on a pooled connection
//     kept until Release; Peek and Ack run on that connection, so they fail rather than run
//     unlocked once it is gone.
//   - Per-item de-duplication without a row per item: a transaction stores a stream's new
//     item keys as one seen_sets row, and a receiver keeps the streams it applied lately in
//     memory, used only while their seen_version (raised by every change, under the numbers
//     row lock) is the one it read (see seen.go). Events go to the outbox in runs of up to
//     256 per row, lz4-compressed where the server has lz4.
//   - Failover: multi-host DSNs with target_session_attrs=read-write pick the primary;
//     broken connections are dropped by the pool, a read-only error (a demoted primary)
//     resets it, and Append retries what certainly or harmlessly failed (a duplicate body is
//     dropped by its payload hash when applied).
//
// The schema is versioned (migrations/NNNN_*.sql, embedded) and migrated at Open under an
// advisory transaction lock, so receivers starting together are safe. The previous release may
// still run during a rolling update: a migration must either stay compatible with it or make
// it fail safely. 0003 replaced the tables seen and outbox, so a receiver older than it, on a
// migrated database, fails each batch and relay attempt (rolled back, nothing half-written;
// the newer receivers apply them) while it still accepts webhooks.
package postgres
