// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package main

import "testing"

func TestUnwrap(t *testing.T) {
	cases := map[string]struct{ in, want string }{
		"joins a wrapped sentence": {
			in:   "wabaID is the WhatsApp Business Account id. Immutable: a number\nin another WABA is another CoexNumber.",
			want: "wabaID is the WhatsApp Business Account id. Immutable: a number in another WABA is another CoexNumber.",
		},
		"keeps paragraphs": {
			in:   "first line\nstill first.\n\nsecond\nparagraph.",
			want: "first line still first.\n\nsecond paragraph.",
		},
		"keeps list items and indented lines": {
			in:   "Reasons:\n- one\n- two\n  continued",
			want: "Reasons:\n- one\n- two\n  continued",
		},
		"leaves a single line alone": {in: "digits only", want: "digits only"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := unwrap(tc.in); got != tc.want {
				t.Errorf("unwrap(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestWalkRewrapsOnlyDescriptions(t *testing.T) {
	doc := map[string]any{
		"description": "a\nb",
		"properties": map[string]any{
			// A field named "description" has a schema, not a string: walked into, not rewritten.
			"description": map[string]any{"description": "c\nd", "type": "string"},
			"name":        map[string]any{"pattern": "x\ny"},
		},
		"items": []any{map[string]any{"description": "e\nf"}},
	}
	walk(doc)
	props := doc["properties"].(map[string]any)
	checks := map[string]struct{ got, want any }{
		"top":               {doc["description"], "a b"},
		"field description": {props["description"].(map[string]any)["description"], "c d"},
		"not a description": {props["name"].(map[string]any)["pattern"], "x\ny"},
		"in a list":         {doc["items"].([]any)[0].(map[string]any)["description"], "e f"},
	}
	for name, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", name, c.got, c.want)
		}
	}
}
