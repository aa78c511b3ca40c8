// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graphsim

import (
	"encoding/base64"
	"net/url"
	"sort"
	"strconv"
)

// DefaultListPageSize is Options.ListPageSize's default: Graph's usual page of 25.
const DefaultListPageSize = 25

// paging is Graph's cursor paging object. Next is only there when more entries follow, which
// is how Graph tells a client to stop.
type paging struct {
	Cursors  cursors `json:"cursors"`
	Next     string  `json:"next,omitempty"`
	Previous string  `json:"previous,omitempty"`
}

type cursors struct {
	Before string `json:"before"`
	After  string `json:"after"`
}

// pageOf picks, from sorted keys, the page the call asks for: limit (default
// Options.ListPageSize), then after= or before= cursors as Graph issues them. A cursor names a
// key rather than a position, so an entry added or removed between pages shifts nothing. The
// paging object is nil for an empty page, as Graph leaves it out then.
func (s *Sim) pageOf(q *graphRequest, keys []string) ([]string, *paging, *graphError) {
	limit := s.opts.ListPageSize
	if raw := q.params["limit"]; raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n <= 0 {
			e := errParam("Param limit must be a positive integer")
			return nil, nil, &e
		}
		limit = n
	}
	start, end := 0, len(keys)
	if c, ok := q.params["after"]; ok {
		k, err := decodeCursor(c)
		if err != nil {
			return nil, nil, err
		}
		start = sort.Search(len(keys), func(i int) bool { return keys[i] > k })
		end = min(len(keys), start+limit)
	} else if c, ok := q.params["before"]; ok {
		k, err := decodeCursor(c)
		if err != nil {
			return nil, nil, err
		}
		end = sort.Search(len(keys), func(i int) bool { return keys[i] >= k })
		start = max(0, end-limit)
	} else {
		end = min(len(keys), limit)
	}
	page := keys[start:end]
	if len(page) == 0 {
		return page, nil, nil
	}
	p := &paging{Cursors: cursors{Before: encodeCursor(page[0]), After: encodeCursor(page[len(page)-1])}}
	if end < len(keys) {
		p.Next = pageURL(q, limit, "after", p.Cursors.After)
	}
	if start > 0 {
		p.Previous = pageURL(q, limit, "before", p.Cursors.Before)
	}
	return page, p, nil
}

func encodeCursor(key string) string { return base64.RawURLEncoding.EncodeToString([]byte(key)) }

func decodeCursor(c string) (string, *graphError) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) == 0 {
		e := errParam("Param after/before is not a valid cursor")
		return "", &e
	}
	return string(b), nil
}

// pageURL is the absolute URL of the neighbouring page, on the host the client called, with
// the call's other query parameters kept, as Graph writes paging.next.
func pageURL(q *graphRequest, limit int, dir, cursor string) string {
	scheme := "http"
	if q.r.TLS != nil {
		scheme = "https"
	}
	v := q.r.URL.Query()
	v.Del("after")
	v.Del("before")
	v.Set("limit", strconv.Itoa(limit))
	v.Set(dir, cursor)
	u := url.URL{Scheme: scheme, Host: q.r.Host, Path: q.r.URL.Path, RawQuery: v.Encode()}
	return u.String()
}
