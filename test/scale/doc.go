// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

// Package scale holds coex-operator's scale test and benchmark: many CoexNumbers applied at
// once against a real kube-apiserver and etcd (internal/controlplane) and the in-process Meta
// simulator (internal/graphsim).
//
//   - TestApply200WithRestart proves the core promise: 200 numbers applied at once all reach
//     their sync requests, and Meta's record shows exactly one contacts and one history request
//     per number, although the manager (in this process, so its Graph answers can be cut) is
//     stopped in the middle with answers lost in flight and a fresh one takes over.
//   - BenchmarkApply applies -bench.numbers numbers (1,000 by default; `make bench` runs 1,000
//     and 5,000) with the manager and receiver binaries as their own processes (the receiver
//     taking the simulator's webhooks and writing status), and prints the seconds until all
//     are requested, the Graph calls per number, the manager's peak memory and the steady-state
//     Graph traffic, each beside its goal.
package scale
