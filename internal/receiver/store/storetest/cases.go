// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package storetest

// cases run on one instance.
var cases = []testCase{
	{"AppendSeqSurvivesReopen", appendSeqSurvivesReopen},
	{"ConcurrentAppends", concurrentAppends},
	{"ClaimOrderAndLimits", claimOrderAndLimits},
	{"ApplyCommitsAndRemoves", applyCommitsAndRemoves},
	{"FailedApplyCommitsNothing", failedApplyCommitsNothing},
	{"ReleaseGivesBack", releaseGivesBack},
	{"PipelinedClaims", pipelinedClaims},
	{"Dedup", dedup},
	{"NumberSavedOnCommit", numberSavedOnCommit},
	{"NumberNewUID", numberNewUID},
	{"Touched", touched},
	{"OutboxOrderPeekAck", outboxOrderPeekAck},
	{"OutboxLongRuns", outboxLongRuns},
	{"LeaseExclusive", leaseExclusive},
	{"DeadLetters", deadLetters},
	{"PruneBodies", pruneBodies},
	{"CountsAndNumbers", countsAndNumbers},
	{"Depths", depths},
	{"Signals", signals},
}
