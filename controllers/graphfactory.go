// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"sync"

	whatsappv1alpha1 "github.com/coex-operator/coex-operator/api/v1alpha1"
	"github.com/coex-operator/coex-operator/internal/graph"
)

// GraphFactory returns the Graph API client for a MetaApp: its base URL, API version and
// per-app token bucket. Tests return a graph.Fake.
type GraphFactory interface {
	For(app *whatsappv1alpha1.MetaApp) graph.Client
}

// GraphFactoryFunc adapts a function to GraphFactory.
type GraphFactoryFunc func(app *whatsappv1alpha1.MetaApp) graph.Client

// For calls f.
func (f GraphFactoryFunc) For(app *whatsappv1alpha1.MetaApp) graph.Client { return f(app) }

// HTTPGraphFactory builds one graph.HTTPClient per Meta app and endpoint, and keeps it while
// the MetaApp's appID, graphBaseURL and graphAPIVersion stay the same. Tokens are passed per
// call, so a rotated Secret needs no new client. All clients share one set of token buckets.
type HTTPGraphFactory struct {
	// Base is copied into every client; BaseURL, APIVersion and AppID are set per MetaApp.
	Base graph.Options

	mu      sync.Mutex
	clients map[graphKey]*graph.HTTPClient
}

type graphKey struct{ appID, baseURL, version string }

// NewHTTPGraphFactory returns a factory whose clients share limiters (rps requests per
// second per Meta app, with burst).
func NewHTTPGraphFactory(base graph.Options, rps float64, burst int) *HTTPGraphFactory {
	if base.Limiters == nil {
		base.Limiters = graph.NewLimiters(rps, burst)
	}
	return &HTTPGraphFactory{Base: base, clients: map[graphKey]*graph.HTTPClient{}}
}

// For returns the client of app.
func (f *HTTPGraphFactory) For(app *whatsappv1alpha1.MetaApp) graph.Client {
	key := graphKey{app.Spec.AppID, app.Spec.GraphBaseURL, app.Spec.GraphAPIVersion}
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.clients[key]; ok {
		return c
	}
	opts := f.Base
	opts.AppID, opts.BaseURL, opts.APIVersion = key.appID, key.baseURL, key.version
	c := graph.New(opts)
	f.clients[key] = c
	return c
}
