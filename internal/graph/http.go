// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graph

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/time/rate"
)

// maxResponseBytes bounds how much of a response is read; Graph's answers are small.
const maxResponseBytes = 1 << 20

// userAgent names the operator to Meta.
const userAgent = "coex-operator"

// HTTPClient is the Client over Graph's HTTP API, with retries of transient errors and the
// per-app token bucket of Options.Limiters. It is safe for concurrent use. Build one per Meta
// app (Options.AppID).
type HTTPClient struct {
	opts    Options
	base    *url.URL
	baseErr error
	limiter *rate.Limiter
}

var _ Client = (*HTTPClient)(nil)

// New returns an HTTPClient; see Options for the defaults. A malformed BaseURL is reported
// by every call rather than here, so New keeps its simple signature.
func New(opts Options) *HTTPClient {
	opts = opts.withDefaults()
	c := &HTTPClient{opts: opts}
	c.base, c.baseErr = url.Parse(strings.TrimRight(opts.BaseURL, "/"))
	if c.baseErr == nil && (c.base.Scheme == "" || c.base.Host == "") {
		c.baseErr = fmt.Errorf("cannot use base URL %q: want scheme://host", stripURL(opts.BaseURL))
	}
	if opts.Limiters != nil {
		c.limiter = opts.Limiters.For(opts.AppID)
	}
	return c
}

// request is one Graph call, enough to send it again on a retry.
type request struct {
	call        string
	method      string
	path        []string // unescaped segments after the version, such as {phoneNumberID, "smb_app_data"}
	query       url.Values
	token       Secret // bearer token; none when zero
	body        []byte
	contentType string
	// secrets are every secret the call handles, to redact from whatever comes back.
	secrets []Secret
	// decode reads a successful response body; a failure is a permanent error.
	decode func(body []byte) error
	// next, when set, is the whole URL of a listing's next page (already checked to be on the
	// base URL's host), used instead of path and query.
	next string
}

// url returns the request's URL: base, version, then the path segments, each escaped so an
// ID can never add a segment or a query.
func (c *HTTPClient) url(r *request) string {
	if r.next != "" {
		return r.next
	}
	segs := append([]string{c.opts.APIVersion}, r.path...)
	esc := make([]string, len(segs))
	for i, s := range segs {
		esc[i] = url.PathEscape(s)
	}
	u := *c.base
	u.Path = c.base.Path + "/" + strings.Join(segs, "/")
	u.RawPath = c.base.EscapedPath() + "/" + strings.Join(esc, "/")
	u.RawQuery = r.query.Encode()
	return u.String()
}

// attempt sends r once and returns nil or the *Error it failed with, already redacted.
func (c *HTTPClient) attempt(ctx context.Context, r *request) *Error {
	red := newRedactor(r.secrets...)
	e := c.send(ctx, r)
	if e != nil {
		red.apply(e)
	}
	return e
}

func (c *HTTPClient) send(ctx context.Context, r *request) *Error {
	actx := ctx
	if c.opts.AttemptTimeout > 0 {
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeout(ctx, c.opts.AttemptTimeout)
		defer cancel()
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(actx, r.method, c.url(r), body)
	if err != nil {
		return &Error{Call: r.call, Class: ClassPermanent, Err: fmt.Errorf("cannot build request: %w", err)}
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	if !r.token.IsZero() {
		req.Header.Set("Authorization", "Bearer "+r.token.Reveal())
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}

	resp, err := c.opts.HTTPClient.Do(req)
	if err != nil {
		return c.transportError(ctx, r.call, err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return c.transportError(ctx, r.call, fmt.Errorf("cannot read the HTTP %d response: %w", resp.StatusCode, err))
	}
	if e := responseError(r.call, resp.StatusCode, resp.Header, data, c.opts.Now()); e != nil {
		return e
	}
	if r.decode != nil {
		if err := r.decode(data); err != nil {
			return &Error{Call: r.call, HTTPStatus: resp.StatusCode, Class: ClassPermanent,
				Message: "cannot decode the response: " + err.Error()}
		}
	}
	return nil
}

// transportError is a failure without a response. When the caller's context is done, that is
// the whole story and the call must stop; anything else (an attempt timeout, a refused or
// reset connection, an EOF) is worth another try.
func (c *HTTPClient) transportError(ctx context.Context, call string, err error) *Error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return &Error{Call: call, Class: ClassTransient, Err: ctxErr}
	}
	return &Error{Call: call, Class: ClassTransient, Err: err}
}
