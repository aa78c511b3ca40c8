// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

// Command graphsim runs the Meta simulator (internal/graphsim) standalone: Graph API calls
// with Meta's rules and signed webhooks, for the demo and for trying the operator by hand.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/coex-operator/coex-operator/internal/graphsim"
)

const usageHead = `graphsim: a simulated Meta Graph API and webhook sender for WhatsApp Coexistence numbers.

It serves, on --listen:
  Graph API  /<version>/... (any version such as v23.0, or none), with Meta's rules:
    GET  /oauth/access_token?client_id&client_secret&code   signup code exchange (single use)
    GET  /<PHONE_NUMBER_ID>?fields=is_on_biz_app,platform_type
    POST|GET|DELETE /<WABA_ID>/subscribed_apps
    GET|POST /<APP_ID>/subscriptions                           app token "<APP_ID>|<APP_SECRET>";
                                                               POST verifies the callback first
    POST /<PHONE_NUMBER_ID>/smb_app_data                       contacts/history sync: once per type,
                                                               within 24 h of onboarding; the refusal
                                                               of a repeat: --repeat-sync-answer
  After an accepted sync it POSTs signed webhooks (X-Hub-Signature-256) to the subscribed
  callback: contacts, history in phases with out-of-order chunks, media follow-ups.
  Control API /_sim/... (JSON, never faulted):
`

const usageTail = `
Examples (default address):
  curl -s -XPOST localhost:18080/_sim/apps -d '{"id":"1001","secret":"s3cret"}'
  curl -s -XPOST localhost:18080/_sim/numbers \
       -d '{"app_id":"1001","waba_id":"2001","phone_number_id":"3001","scenario":{"preset":"medium"}}'
  curl -s -XPOST localhost:18080/_sim/tokens -d '{"app_id":"1001","waba_ids":["2001"],"value":"demo-token"}'
  curl -s -H 'Authorization: Bearer demo-token' 'localhost:18080/v23.0/3001?fields=is_on_biz_app,platform_type'
  curl -s -XPOST localhost:18080/_sim/clock/advance -d '{"by":"25h"}'
  curl -s -XPOST localhost:18080/_sim/numbers/3001/events -d '{"kind":"account_update","event":"PARTNER_REMOVED"}'
  curl -s 'localhost:18080/_sim/calls?name=RequestHistorySync&phone_number_id=3001'
  curl -s -XPUT localhost:18080/_sim/faults -d '{"share_429":0.1,"share_5xx":0.05,"share_lost_response":0.02,"latency":"50ms"}'
  curl -s -XPUT localhost:18080/_sim/repeat-sync-answer -d '{"repeat_sync_answer":"unknown"}'

A scenario file (--scenario, YAML or JSON) holds apps, tokens and numbers:
  seed: 7
  repeat_sync_answer: code-only
  apps:    [{id: "1001", secret: s3cret}]
  tokens:  [{app_id: "1001", waba_ids: ["2001"], value: demo-token}]
  numbers: [{app_id: "1001", waba_id: "2001", phone_number_id: "3001", signup_code: demo-code,
             scenario: {preset: heavy, country_calling_code: "234", onboarded_ago: 2h}}]
Scenario keys: preset (small|medium|heavy), seed, threads, messages, media_share, contacts_added,
contacts_removed, history_declined, country_calling_code, display_phone_number, is_on_biz_app,
platform_type, onboarded_at, onboarded_ago, messages_per_chunk, contacts_per_webhook.

Flags:
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	var u usageError
	if err != nil && !errors.Is(err, flag.ErrHelp) && !(errors.As(err, &u) && u.printed) {
		fmt.Fprintln(os.Stderr, "graphsim:", err)
	}
	os.Exit(exitCode(err))
}

// usageError is a bad command line: exit status 2, as the flag package uses. printed says
// the flag package has already shown it.
type usageError struct {
	error
	printed bool
}

func (u usageError) Unwrap() error { return u.error }

// exitCode is 0 for success or --help, 2 for a bad command line, 1 for anything else.
func exitCode(err error) int {
	var u usageError
	switch {
	case err == nil || errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &u):
		return 2
	}
	return 1
}

// run serves until ctx ends.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("graphsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:18080", "address to serve the Graph and control APIs on")
	seed := fs.Int64("seed", 1, "seed for scenarios, faults, duplicates and ids (overrides the file's)")
	scenario := fs.String("scenario", "", "scenario file (YAML or JSON): apps, tokens, numbers")
	latency := fs.Duration("latency", 0, "latency added to every Graph call")
	f429 := fs.Float64("fault-429", 0, "share (0..1) of Graph calls answered 429")
	f5xx := fs.Float64("fault-5xx", 0, "share (0..1) of Graph calls answered 500/502/503")
	fLost := fs.Float64("fault-lost-response", 0, "share (0..1) of Graph calls that take effect and then lose their answer (a 504)")
	var repeat graphsim.RepeatAnswer
	fs.TextVar(&repeat, "repeat-sync-answer", graphsim.RepeatAnswerAlready,
		"how a repeated or late smb_app_data is refused, which Meta does not document: already (says so, subcode 2593107), "+
			"code-only (subcode 2593107 on a repeat, no telling text), unknown (a bare 400 \"Invalid parameter\"); overrides the file's")
	pageSize := fs.Int("list-page-size", graphsim.DefaultListPageSize, "entries per page of subscribed_apps and subscriptions listings")
	retryAfter := fs.Duration("retry-after", time.Second, "Retry-After announced with a 429")
	dup := fs.Float64("duplicate-share", 0, "share (0..1) of delivered webhooks sent twice")
	retryBase := fs.Duration("retry-base", time.Second, "first webhook retry delay (doubles per attempt)")
	retryMax := fs.Duration("retry-max", time.Minute, "largest webhook retry delay")
	attempts := fs.Int("max-attempts", 8, "webhook delivery attempts before counting it failed")
	inFlight := fs.Int("max-in-flight", 4, "concurrent webhook deliveries")
	frozen := fs.Bool("frozen-clock", false, "keep the simulated clock still unless advanced (default: it follows wall time)")
	verbose := fs.Bool("v", false, "log at debug level")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageHead)
		for _, e := range graphsim.ControlEndpoints {
			fmt.Fprintf(fs.Output(), "    %-42s %s\n", e.Route, e.Doc)
		}
		fmt.Fprint(fs.Output(), usageTail)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err, true}
	}
	faults := graphsim.Faults{Latency: graphsim.Duration(*latency), Share429: *f429, Share5xx: *f5xx,
		ShareLostResponse: *fLost, RetryAfter: graphsim.Duration(*retryAfter)}
	if err := faults.Validate(); err != nil {
		return usageError{error: fmt.Errorf("--fault-429, --fault-5xx, --fault-lost-response: %w", err)}
	}
	if *pageSize < 1 {
		return usageError{error: fmt.Errorf("--list-page-size %d: want at least 1", *pageSize)}
	}

	var cfg graphsim.Config
	if *scenario != "" {
		var err error
		if cfg, err = graphsim.LoadConfig(*scenario); err != nil {
			return usageError{error: fmt.Errorf("--scenario: %w", err)}
		}
		if cfg.Seed != nil && !flagSet(fs, "seed") {
			*seed = *cfg.Seed
		}
	}
	if flagSet(fs, "repeat-sync-answer") || cfg.RepeatSyncAnswer == "" {
		cfg.RepeatSyncAnswer = repeat
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	start := time.Now().UTC().Truncate(time.Second)
	clock := graphsim.NewTickingClock(start)
	if *frozen {
		clock = graphsim.NewClock(start)
	}
	sim := graphsim.New(graphsim.Options{
		Seed: *seed, Clock: clock, Logger: log, Faults: faults,
		RepeatSyncAnswer: cfg.RepeatSyncAnswer, ListPageSize: *pageSize,
		Delivery: graphsim.DeliveryOptions{MaxInFlight: *inFlight, RetryBase: *retryBase, RetryMax: *retryMax,
			MaxAttempts: *attempts, DuplicateShare: *dup},
	})
	defer sim.Close()
	applied, err := sim.Apply(cfg)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	// The simulator's credentials are fake; printing them is what makes the demo scriptable.
	fmt.Fprintf(stdout, "graphsim listening on http://%s (control API: /_sim/)\n", ln.Addr())
	for _, n := range applied.Numbers {
		fmt.Fprintf(stdout, "number %s (WABA %s, %s): signup code %s, %d messages in %d threads\n",
			n.PhoneNumberID, n.WABAID, n.DisplayPhoneNumber, n.SignupCode, n.Totals.Messages, n.Totals.Threads)
	}
	for _, t := range applied.Tokens {
		fmt.Fprintf(stdout, "token for app %s, WABAs %s: %s\n", t.AppID, strings.Join(t.WABAIDs, ","), t.Token)
	}

	srv := &http.Server{Handler: sim.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
