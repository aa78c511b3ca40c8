// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graphsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// page is a listing page as a client reads it.
type page struct {
	Data   []json.RawMessage `json:"data"`
	Paging *struct {
		Cursors  struct{ Before, After string } `json:"cursors"`
		Next     string                         `json:"next"`
		Previous string                         `json:"previous"`
	} `json:"paging"`
}

// getPage GETs a listing path or an absolute link the simulator gave.
func (e *env) getPage(t *testing.T, pathOrURL, token string) page {
	t.Helper()
	path := strings.TrimPrefix(pathOrURL, e.graph.URL)
	if path == pathOrURL && strings.Contains(pathOrURL, "://") {
		t.Fatalf("link %q is not on the simulator's host %s", pathOrURL, e.graph.URL)
	}
	r := e.call(http.MethodGet, path, token, nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, r.status, r.raw)
	}
	var p page
	must(t, json.Unmarshal(r.raw, &p))
	return p
}

// ids reads the listed ids: an app's id, or a subscription's object.
func ids(t *testing.T, p page) []string {
	t.Helper()
	var out []string
	for _, raw := range p.Data {
		var v struct {
			API struct {
				ID string `json:"id"`
			} `json:"whatsapp_business_api_data"`
			Object string `json:"object"`
		}
		must(t, json.Unmarshal(raw, &v))
		out = append(out, v.API.ID+v.Object)
	}
	return out
}

// walk follows paging.next from path and returns every page's ids.
func (e *env) walk(t *testing.T, path, token string) [][]string {
	t.Helper()
	var pages [][]string
	for link := path; link != ""; {
		p := e.getPage(t, link, token)
		pages = append(pages, ids(t, p))
		link = ""
		if p.Paging != nil {
			link = p.Paging.Next
		}
		if len(pages) > 100 {
			t.Fatal("paging.next never ends")
		}
	}
	return pages
}

func TestListingsArePaged(t *testing.T) {
	cases := map[string]struct {
		pageSize  int    // Options.ListPageSize; 0 for the default
		query     string // added to the first call
		extra     int    // entries beyond the fixture's one
		wantPages []int  // entries per page
	}{
		"one page":                   {extra: 3, wantPages: []int{4}},
		"default size is Graph's 25": {extra: 30, wantPages: []int{25, 6}},
		"exactly one full page":      {extra: 24, wantPages: []int{25}},
		"configured page size":       {pageSize: 2, extra: 4, wantPages: []int{2, 2, 1}},
		"the call's limit wins":      {query: "?limit=3", extra: 5, wantPages: []int{3, 3}},
		"a page per entry":           {pageSize: 1, extra: 2, wantPages: []int{1, 1, 1}},
	}
	for name, tc := range cases {
		t.Run("subscribed_apps/"+name, func(t *testing.T) {
			e := newEnv(t, Options{ListPageSize: tc.pageSize}, small())
			for i := range tc.extra {
				id := fmt.Sprintf("5%03d", i)
				must(t, e.sim.AddApp(AppSpec{ID: id, Secret: "s"}))
				must(t, e.sim.SubscribeAppToWABA(id, tWABA, ""))
			}
			checkPages(t, e.walk(t, "/v23.0/"+tWABA+"/subscribed_apps"+tc.query, e.token), tc.wantPages)
		})
		t.Run("subscriptions/"+name, func(t *testing.T) {
			e := newEnv(t, Options{ListPageSize: tc.pageSize}, small())
			// Graph's other objects, which only this test's back door adds.
			e.sim.mu.Lock()
			for i := range tc.extra {
				e.sim.apps[tApp].subs[fmt.Sprintf("object%03d", i)] = &appSubscription{callbackURL: e.rcv.URL}
			}
			e.sim.mu.Unlock()
			checkPages(t, e.walk(t, "/v23.0/"+tApp+"/subscriptions"+tc.query, tApp+"|"+tSecret), tc.wantPages)
		})
	}
}

// checkPages checks the page sizes and that every entry came once, in order.
func checkPages(t *testing.T, pages [][]string, want []int) {
	t.Helper()
	var sizes []int
	var all []string
	for _, p := range pages {
		sizes = append(sizes, len(p))
		all = append(all, p...)
	}
	if fmt.Sprint(sizes) != fmt.Sprint(want) {
		t.Errorf("page sizes %v, want %v", sizes, want)
	}
	for i := 1; i < len(all); i++ {
		if all[i] <= all[i-1] {
			t.Errorf("entry %q after %q: repeated or out of order", all[i], all[i-1])
		}
	}
}

func TestPagingCursors(t *testing.T) {
	e := newEnv(t, Options{ListPageSize: 2}, small())
	for i := range 4 {
		id := fmt.Sprintf("5%03d", i)
		must(t, e.sim.AddApp(AppSpec{ID: id, Secret: "s"}))
		must(t, e.sim.SubscribeAppToWABA(id, tWABA, ""))
	}
	base := "/v23.0/" + tWABA + "/subscribed_apps"
	first := e.getPage(t, base, e.token)
	if first.Paging == nil || first.Paging.Next == "" || first.Paging.Previous != "" {
		t.Fatalf("first page's paging %+v: want a next link and no previous", first.Paging)
	}
	second := e.getPage(t, first.Paging.Next, e.token)
	byAfter := e.getPage(t, base+"?after="+first.Paging.Cursors.After, e.token)
	if fmt.Sprint(ids(t, second)) != fmt.Sprint(ids(t, byAfter)) {
		t.Errorf("next gave %v, after=<cursor> gave %v: want the same page", ids(t, second), ids(t, byAfter))
	}
	back := e.getPage(t, second.Paging.Previous, e.token)
	if fmt.Sprint(ids(t, back)) != fmt.Sprint(ids(t, first)) {
		t.Errorf("previous gave %v, want the first page %v", ids(t, back), ids(t, first))
	}
	last := e.getPage(t, second.Paging.Next, e.token)
	if len(last.Data) != 1 || last.Paging.Next != "" {
		t.Errorf("last page %d entries, next %q: want 1 and no next", len(last.Data), last.Paging.Next)
	}
	if end := e.getPage(t, base+"?after="+last.Paging.Cursors.After, e.token); len(end.Data) != 0 || end.Paging != nil {
		t.Errorf("past the end: %+v, want an empty page without paging", end)
	}
	for _, q := range []string{"?after=!!!", "?before=", "?limit=0", "?limit=x"} {
		expectError(t, e.call(http.MethodGet, base+q, e.token, nil), http.StatusBadRequest, 100)
	}
}
