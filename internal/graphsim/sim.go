// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graphsim

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Options configure a Sim. The zero value works: a frozen clock at the current time, no
// faults, production-like delivery delays.
type Options struct {
	// Seed makes scenarios, faults, duplicates and ids replay (default 1).
	Seed int64
	// Clock is the simulated time; default a frozen clock at the current second.
	Clock *Clock
	// Faults injected into Graph calls; changeable later with SetFaults.
	Faults Faults
	// Delivery shapes webhook delivery.
	Delivery DeliveryOptions
	// HTTPClient posts webhooks and verification handshakes; default a client that follows
	// no redirects (a redirect is a non-200 answer, as at Meta).
	HTTPClient *http.Client
	// Logger receives delivery failures and the like (default: discarded). It never gets a
	// token, a secret or a signup code.
	Logger *slog.Logger
	// CallLogLimit bounds the call record (default 100,000; older calls are dropped).
	CallLogLimit int
	// SignupCodeTTL, when set, expires unused signup codes (by the simulated clock).
	SignupCodeTTL time.Duration
	// DefaultVersion is the Graph version assumed when a path has none (default v23.0).
	DefaultVersion string
	// HandshakeTimeout bounds a callback verification (default 10s).
	HandshakeTimeout time.Duration
	// RepeatSyncAnswer is how a repeated or late smb_app_data is refused, which Meta does not
	// document (default RepeatAnswerAlready); changeable later with SetRepeatSyncAnswer. New
	// panics on a mode ParseRepeatAnswer refuses: a typo must not quietly test another answer.
	RepeatSyncAnswer RepeatAnswer
	// ListPageSize is how many entries a page of a Graph listing holds when the call sets no
	// limit (default 25, Graph's usual page size).
	ListPageSize int
	// BeforeAnswer, when set, sees each Graph call (not faulted ones) after it has taken
	// effect and before its answer is written, with the answer's status. Tests use it to
	// crash a client in the window where Meta has accepted a request and the client does
	// not know yet. The answer waits until it returns.
	BeforeAnswer func(Call)
}

// Sim is a simulated Meta: Graph endpoints, webhook emission and a control surface.
type Sim struct {
	opts   Options
	seed   uint64
	clock  *Clock
	log    *slog.Logger
	ids    idSource
	faults faultInjector
	calls  callLog
	idle   *idleTracker
	dl     *deliverer
	client *http.Client

	ctx       context.Context
	cancel    context.CancelFunc
	producers sync.WaitGroup
	closeOnce sync.Once
	handler   http.Handler

	mu      sync.Mutex
	repeat  RepeatAnswer
	apps    map[string]*app
	tokens  map[string]*grant
	wabas   map[string]*waba
	numbers map[string]*number
	codes   map[string]*signupCode
}

// New starts a simulator; Close stops its delivery workers.
func New(opts Options) *Sim {
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	if opts.Clock == nil {
		opts.Clock = NewClock(time.Now().UTC().Truncate(time.Second))
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.CallLogLimit <= 0 {
		opts.CallLogLimit = 100_000
	}
	if opts.DefaultVersion == "" {
		opts.DefaultVersion = "v23.0"
	}
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = 10 * time.Second
	}
	repeat, err := ParseRepeatAnswer(string(opts.RepeatSyncAnswer))
	if err != nil {
		panic("graphsim: Options.RepeatSyncAnswer: " + err.Error())
	}
	opts.RepeatSyncAnswer = repeat
	if opts.ListPageSize <= 0 {
		opts.ListPageSize = DefaultListPageSize
	}
	opts.Delivery.defaults()
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{
			Transport: &http.Transport{
				Proxy:               nil, // webhooks go straight to the receiver, as in tests
				MaxIdleConnsPerHost: opts.Delivery.MaxInFlight,
				IdleConnTimeout:     30 * time.Second,
			},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	s := &Sim{
		opts: opts, seed: uint64(opts.Seed), clock: opts.Clock, log: opts.Logger, client: opts.HTTPClient,
		idle: newIdleTracker(), repeat: repeat,
		apps: map[string]*app{}, tokens: map[string]*grant{}, wabas: map[string]*waba{},
		numbers: map[string]*number{}, codes: map[string]*signupCode{},
	}
	s.ids.seed = hash(s.seed, 0x1d5)
	s.faults.seed = s.seed
	s.faults.set(opts.Faults)
	s.calls.limit = opts.CallLogLimit
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.dl = newDeliverer(s.ctx, opts.Delivery, s.seed, s.client, s.idle, s.log)
	s.handler = s.routes()
	return s
}

// Handler serves the Graph API under /<version>/… and the control API under /_sim/.
func (s *Sim) Handler() http.Handler { return s.handler }

// Close stops emission and delivery; pending webhooks are dropped.
func (s *Sim) Close() {
	s.closeOnce.Do(func() {
		s.cancel()
		s.producers.Wait()
		s.dl.stop()
	})
}

// Clock is the simulated clock (Now, Set, Advance).
func (s *Sim) Clock() *Clock { return s.clock }

// WaitIdle waits until no sync is emitting and no webhook is queued or in flight (retries
// included), or ctx ends.
func (s *Sim) WaitIdle(ctx context.Context) error { return s.idle.wait(ctx) }

// Stats returns delivery counters.
func (s *Sim) Stats() Stats { return s.dl.snapshot() }

// Calls returns the recorded Graph calls matching f, oldest first.
func (s *Sim) Calls(f CallFilter) []Call { return s.calls.list(f) }

// CountCalls counts the recorded Graph calls matching f.
func (s *Sim) CountCalls(f CallFilter) int { return len(s.calls.list(f)) }

// SetFaults replaces the fault configuration (and resets scripted rules).
func (s *Sim) SetFaults(f Faults) { s.faults.set(f) }

// Faults returns the fault configuration, with scripted rules' remaining counts.
func (s *Sim) Faults() Faults { return s.faults.get() }

// startSync runs a sync's emitter in the background. The pending count rises before the
// Graph answer goes out, so WaitIdle right after an accepted request waits for the webhooks.
func (s *Sim) startSync(v numberView, syncType string) {
	if s.ctx.Err() != nil {
		return // closed
	}
	s.idle.add(1)
	s.producers.Add(1)
	go func() {
		defer s.producers.Done()
		defer s.idle.add(-1)
		if d := s.opts.Delivery.SyncDelay; d > 0 {
			t := time.NewTimer(d)
			select {
			case <-s.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		switch syncType {
		case SyncContacts:
			s.emitContacts(s.ctx, v)
		case SyncHistory:
			s.emitHistory(s.ctx, v)
		}
	}()
}
