// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graphsim

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"sync/atomic"
)

// mix is splitmix64's finalizer: a cheap, well-spread 64-bit hash step. Everything random in
// the simulator (scenarios, faults, duplicates) derives from it so a seed replays exactly.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// hash combines values into one well-spread 64-bit number.
func hash(vals ...uint64) uint64 {
	h := uint64(0x9e3779b97f4a7c15)
	for _, v := range vals {
		h = mix(h ^ (v + 0x9e3779b97f4a7c15))
	}
	return h
}

// unit maps a hash to [0, 1).
func unit(h uint64) float64 { return float64(h>>11) / (1 << 53) }

// strHash hashes a string (ids, bodies) for use with hash.
func strHash(s string) uint64 {
	f := fnv.New64a()
	f.Write([]byte(s))
	return f.Sum64()
}

// idSource hands out unique, reproducible identifiers: a counter makes them unique, the seed
// makes them look random and differ between simulators.
type idSource struct {
	seed uint64
	n    atomic.Uint64
}

func (s *idSource) next() (uint64, uint64) {
	n := s.n.Add(1)
	return n, hash(s.seed, n)
}

// traceID is a unique fbtrace_id in the short base64 shape Meta uses.
func (s *idSource) traceID() string {
	n, h := s.next()
	var b [12]byte
	binary.BigEndian.PutUint64(b[:8], h)
	binary.BigEndian.PutUint32(b[8:], uint32(n))
	return "A" + base64.RawURLEncoding.EncodeToString(b[:])
}

// token is a business access token shaped like Meta's ("EAA…").
func (s *idSource) token() string {
	n, h := s.next()
	return fmt.Sprintf("EAASim%dZD%016x%016x", n, h, mix(h))
}

// signupCode is an Embedded Signup authorization code ("AQ…").
func (s *idSource) signupCode() string {
	n, h := s.next()
	return fmt.Sprintf("AQSim%d%016x", n, h)
}

// requestID is the request_id of an accepted smb_app_data call.
func (s *idSource) requestID() string {
	n, h := s.next()
	return fmt.Sprintf("%d%012d", 1_000_000+n, h%1_000_000_000_000)
}

// challenge is a webhook verification challenge; Meta sends a random integer.
func (s *idSource) challenge() string {
	_, h := s.next()
	return fmt.Sprintf("%d", 1_000_000_000+h%1_000_000_000)
}
