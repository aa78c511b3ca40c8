// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

// Command crd-descriptions rewraps the descriptions controller-gen copies from Go comments
// into CRDs, so that `kubectl explain` shows flowing paragraphs instead of sentences broken
// where the Go source wrapped them (kubectl rewraps text but keeps every newline it finds).
// Paragraphs (blank-line separated) and list items stay as they are.
//
// Usage: go run ./hack/crd-descriptions config/crd/bases/*.yaml
package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"sigs.k8s.io/yaml"
)

func main() {
	for _, path := range os.Args[1:] {
		if err := rewrap(path); err != nil {
			fmt.Fprintf(os.Stderr, "crd-descriptions: %s: %v\n", path, err)
			os.Exit(1)
		}
	}
}

func rewrap(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return err
	}
	walk(doc)
	out, err := yaml.Marshal(doc)
	if err != nil {
		return err
	}
	out = append([]byte("---\n"), out...)
	if bytes.Equal(out, data) {
		return nil
	}
	return os.WriteFile(path, out, 0o644)
}

// walk rewraps every string under a "description" key. A property that is itself named
// "description" has a schema (a map) as its value, not a string, and is walked into instead.
func walk(node any) {
	switch n := node.(type) {
	case map[string]any:
		for k, v := range n {
			if s, ok := v.(string); ok && k == "description" {
				n[k] = unwrap(s)
				continue
			}
			walk(v)
		}
	case []any:
		for _, v := range n {
			walk(v)
		}
	}
}

// unwrap joins the lines of each paragraph with spaces, keeping blank lines between
// paragraphs and the line breaks before list items ("- ", "* ") and indented lines.
func unwrap(s string) string {
	lines := strings.Split(s, "\n")
	var b strings.Builder
	for i, line := range lines {
		if i > 0 {
			prev := lines[i-1]
			if line == "" || prev == "" || startsBlock(line) {
				b.WriteString("\n")
			} else {
				b.WriteString(" ")
			}
		}
		b.WriteString(line)
	}
	return b.String()
}

func startsBlock(line string) bool {
	return strings.HasPrefix(line, "- ") || strings.HasPrefix(line, "* ") || strings.HasPrefix(line, " ") ||
		strings.HasPrefix(line, "\t")
}
