// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// maxPages bounds one listing: a WABA's subscribed apps and an app's subscriptions are a
// handful, so a hundred pages means a server that never stops sending paging.next.
const maxPages = 100

// listPage is one page of a Graph edge: {"data":[…],"paging":{"cursors":{…},"next":"…"}}.
type listPage struct {
	Data   json.RawMessage `json:"data"`
	Paging struct {
		Next string `json:"next"`
	} `json:"paging"`
}

// list GETs r and then each page paging.next names, handing every page's data array to
// each, in order. Graph's rule is followed: more pages come only while paging.next is there
// (a bare cursors.after is on the last page too, and asking after it would cost a call per
// listing). Each page is one call with the retries of do. The bearer token goes only to the
// configured base URL's scheme and host: a next link elsewhere fails the listing unsent.
func (c *HTTPClient) list(ctx context.Context, r request, each func(data json.RawMessage) error) error {
	seen := map[string]bool{}
	for page := 1; ; page++ {
		var next string
		r.decode = func(b []byte) error {
			var p listPage
			if err := json.Unmarshal(b, &p); err != nil {
				return err
			}
			next = p.Paging.Next
			if len(p.Data) == 0 || string(p.Data) == "null" {
				return nil
			}
			return each(p.Data)
		}
		if err := c.do(ctx, &r); err != nil {
			return err
		}
		if next == "" {
			return nil
		}
		u, err := c.sameOrigin(next)
		switch {
		case err != nil:
			return &Error{Call: r.call, Class: ClassPermanent, Err: err}
		case page >= maxPages:
			return &Error{Call: r.call, Class: ClassPermanent,
				Err: fmt.Errorf("cannot list more than %d pages: Graph keeps sending paging.next", maxPages)}
		case seen[u]:
			return &Error{Call: r.call, Class: ClassPermanent,
				Err: errors.New("cannot follow paging.next: it names a page already read")}
		}
		seen[u] = true
		r.next = u
	}
}

// sameOrigin returns a paging.next link when it points at the base URL's scheme, host and
// port, and refuses it otherwise. The error names only the scheme and host: a next link can
// carry an access_token in its query.
func (c *HTTPClient) sameOrigin(next string) (string, error) {
	u, err := url.Parse(next)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return "", errors.New("cannot follow paging.next: it is not an absolute URL")
	}
	if !strings.EqualFold(u.Scheme, c.base.Scheme) || origin(u) != origin(c.base) {
		return "", fmt.Errorf("refusing to follow paging.next to %s://%s: the token goes only to %s://%s",
			u.Scheme, u.Hostname(), c.base.Scheme, c.base.Hostname())
	}
	u.User = nil // credentials in a link are not ours to send
	return u.String(), nil
}

// origin is a URL's host and port, the port spelled out when the scheme implies it.
func origin(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"https": "443", "http": "80"}[strings.ToLower(u.Scheme)]
	}
	return net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}
