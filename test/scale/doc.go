// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

// Package scale holds coex-operator's scale test and benchmark: many CoexNumbers applied at
// once against a real kube-apiserver and etcd (internal/controlplane) and the in-process Meta
// simulator (internal/graphsim), with the reconcilers running in a manager in the same process.
//
//   - TestApply200WithRestart proves the core promise: 200 numbers applied at once all reach
//     their sync requests, and Meta's record shows exactly one contacts and one history request
//     per number, although the manager is stopped in the middle (answers lost in flight) and a
//     fresh one takes over.
//   - BenchmarkApply1000 applies 1,000 numbers and prints the seconds until all are requested,
//     the Graph calls per number, the process's peak memory and the steady-state Graph traffic,
//     each beside its goal. Run it with `make bench`.
package scale
