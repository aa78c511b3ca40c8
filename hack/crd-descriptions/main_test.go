/*
Copyright 2026 The coex-operator Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

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
