// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package ingest

import (
	"strconv"

	"github.com/coex-operator/coex-operator/internal/receiver/internal/receivertest"
)

// The shared fixtures (receivertest), by the names these tests have always used.
const (
	testNS  = receivertest.NS
	testApp = receivertest.App
)

var (
	readTestdata = receivertest.ReadTestdata
	recordBodies = receivertest.RecordBodies
	newTestStore = receivertest.NewStore
	newTestClock = receivertest.NewClock
	itoa         = strconv.Itoa
)
