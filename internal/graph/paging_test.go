// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graph

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// pager serves a listing of n entries, size per page. Each page links the next with an
// absolute URL that link builds (by default on the host called, with after=<offset>), and
// carries cursors like Graph's. fail, when set, may answer a request instead.
type pager struct {
	n, size int
	entry   func(i int) string
	link    func(r *http.Request, after int) string
	fail    func(req int) int // status to answer the req-th request (1-based) with; 0: serve

	mu    sync.Mutex
	auths []string
}

func (p *pager) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.auths = append(p.auths, r.Header.Get("Authorization"))
	req := len(p.auths)
	p.mu.Unlock()
	if p.fail != nil {
		if st := p.fail(req); st != 0 {
			w.WriteHeader(st)
			return
		}
	}
	from, _ := strconv.Atoi(r.URL.Query().Get("after"))
	to := min(p.n, from+p.size)
	var data []string
	for i := from; i < to; i++ {
		data = append(data, p.entry(i))
	}
	paging := fmt.Sprintf(`{"cursors":{"before":"b%d","after":"a%d"}`, from, to)
	if to < p.n {
		link := p.link
		if link == nil {
			link = func(r *http.Request, after int) string {
				return fmt.Sprintf("http://%s%s?limit=%d&after=%d", r.Host, r.URL.Path, p.size, after)
			}
		}
		paging += fmt.Sprintf(`,"next":%q`, link(r, to))
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"data":[%s],"paging":%s}}`, strings.Join(data, ","), paging)
}

func (p *pager) requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.auths...)
}

// listing is one of the client's paginated calls: its entries' JSON, and how to read the
// ids back from the call's result.
type listing struct {
	entry func(i int) string
	call  func(ctx context.Context, c Client) ([]string, error)
	auth  string
}

var listings = map[string]listing{
	CallListSubscribedApps: {
		entry: func(i int) string {
			return fmt.Sprintf(`{"whatsapp_business_api_data":{"id":"app%d","link":"l","name":"n"}}`, i)
		},
		call: func(ctx context.Context, c Client) ([]string, error) {
			apps, err := c.ListSubscribedApps(ctx, "EAAGbusiness", "333")
			var ids []string
			for _, a := range apps {
				ids = append(ids, a.AppID)
			}
			return ids, err
		},
		auth: "Bearer EAAGbusiness",
	},
	CallGetAppSubscriptions: {
		entry: func(i int) string {
			return fmt.Sprintf(`{"object":"obj%d","callback_url":"https://h.example.com","active":true,"fields":[]}`, i)
		},
		call: func(ctx context.Context, c Client) ([]string, error) {
			subs, err := c.GetAppSubscriptions(ctx, testApp)
			var ids []string
			for _, s := range subs {
				ids = append(ids, s.Object)
			}
			return ids, err
		},
		auth: "Bearer " + testApp.AppToken().Reveal(),
	},
}

func TestListingsReadEveryPage(t *testing.T) {
	cases := map[string]struct {
		n, size   int
		fail      func(req int) int
		wantCalls int
	}{
		"one page":                       {n: 3, size: 25, wantCalls: 1},
		"empty":                          {n: 0, size: 25, wantCalls: 1},
		"more than one page":             {n: 60, size: 25, wantCalls: 3},
		"exactly full pages":             {n: 50, size: 25, wantCalls: 2},
		"a page retried after a 503":     {n: 30, size: 25, fail: func(req int) int { return map[int]int{2: 503}[req] }, wantCalls: 3},
		"a page per entry, many entries": {n: 99, size: 1, wantCalls: 99},
	}
	for name, l := range listings {
		for cname, tc := range cases {
			t.Run(name+"/"+cname, func(t *testing.T) {
				p := &pager{n: tc.n, size: tc.size, entry: l.entry, fail: tc.fail}
				c, _ := testClient(t, p, Options{})
				ids, err := l.call(context.Background(), c)
				if err != nil {
					t.Fatal(err)
				}
				if len(ids) != tc.n {
					t.Fatalf("got %d entries, want all %d", len(ids), tc.n)
				}
				for i, id := range ids {
					if !strings.HasSuffix(id, strconv.Itoa(i)) {
						t.Fatalf("entry %d is %q: pages out of order or repeated", i, id)
					}
				}
				reqs := p.requests()
				if len(reqs) != tc.wantCalls {
					t.Errorf("%d requests, want %d", len(reqs), tc.wantCalls)
				}
				for i, a := range reqs {
					if a != l.auth {
						t.Errorf("request %d carried %q, want the call's token", i+1, a)
					}
				}
			})
		}
	}
}

func TestListingsRefuseBadNextLinks(t *testing.T) {
	foreign := &pager{n: 1, size: 1, entry: func(int) string { return `{}` }}
	foreignSrv := httptest.NewServer(foreign)
	t.Cleanup(foreignSrv.Close)
	cases := map[string]struct {
		link func(r *http.Request, after int) string
		n    int
		want string // in the error
		// wantCalls is how many requests reached our server.
		wantCalls int
	}{
		"another host": {
			link: func(*http.Request, int) string { return "https://graph.evil.example/v23.0/333/subscribed_apps?after=x" },
			n:    2, want: "refusing", wantCalls: 1,
		},
		"another port on the same host": {
			link: func(r *http.Request, after int) string { return foreignSrv.URL + r.URL.Path + "?after=1" },
			n:    2, want: "refusing", wantCalls: 1,
		},
		"this very server by another name": {
			link: func(r *http.Request, after int) string {
				return "http://localhost:" + r.Host[strings.LastIndex(r.Host, ":")+1:] + r.URL.Path + "?after=1"
			},
			n: 2, want: "refusing", wantCalls: 1,
		},
		"another scheme on the same host and port": {
			link: func(r *http.Request, after int) string { return "https://" + r.Host + r.URL.Path + "?after=1" },
			n:    2, want: "refusing", wantCalls: 1,
		},
		"a relative link": {
			link: func(r *http.Request, after int) string { return r.URL.Path + "?after=1" },
			n:    2, want: "not an absolute URL", wantCalls: 1,
		},
		"a link to a page already read": {
			link: func(r *http.Request, after int) string { return "http://" + r.Host + r.URL.Path + "?after=0" },
			n:    2, want: "already read", wantCalls: 2,
		},
		"no end": {
			link: func(r *http.Request, after int) string {
				return fmt.Sprintf("http://%s%s?after=%d", r.Host, r.URL.Path, after)
			},
			n: maxPages + 10, want: "more than 100 pages", wantCalls: maxPages,
		},
	}
	for name, l := range listings {
		for cname, tc := range cases {
			t.Run(name+"/"+cname, func(t *testing.T) {
				p := &pager{n: tc.n, size: 1, entry: l.entry, link: tc.link}
				c, _ := testClient(t, p, Options{})
				ids, err := l.call(context.Background(), c)
				ge := asError(t, err)
				if ge.Class != ClassPermanent || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("got %v (%v), want a Permanent error saying %q", err, ge.Class, tc.want)
				}
				if ids != nil {
					t.Errorf("a failed listing returned %d entries: half a list must not pass for all of it", len(ids))
				}
				if n := len(p.requests()); n != tc.wantCalls {
					t.Errorf("%d requests reached the base URL, want %d", n, tc.wantCalls)
				}
				if strings.Contains(err.Error(), "EAAG") || strings.Contains(err.Error(), testApp.Secret.Reveal()) {
					t.Errorf("error %q holds a token", err)
				}
			})
		}
	}
	if n := len(foreign.requests()); n != 0 {
		t.Errorf("the foreign server got %d requests: the token left the base URL's host", n)
	}
}
