// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package gitops_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/coex-operator/coex-operator/internal/controlplane"
)

var metricName = regexp.MustCompile(`coex_[a-z0-9_]+`)

// definedMetrics are the coex_* names the code registers: string literals in the files that
// define the metrics of the manager and the receiver.
func definedMetrics(t *testing.T, root string) map[string]bool {
	t.Helper()
	defined := map[string]bool{}
	for _, f := range []string{"controllers/metrics.go", "internal/receiver/app.go", "internal/receiver/ingest/metrics.go",
		"internal/receiver/process/metrics.go", "internal/receiver/project/metrics.go", "internal/receiver/relay/metrics.go"} {
		src := readFile(t, filepath.Join(root, f))
		for _, m := range regexp.MustCompile(`"(coex_[a-z0-9_]+)"`).FindAllStringSubmatch(src, -1) {
			defined[m[1]] = true
		}
	}
	if len(defined) < 10 {
		t.Fatalf("found only %d metrics in the code: %v", len(defined), defined)
	}
	return defined
}

// TestPrometheusRulesUseDefinedMetrics: every alert is complete and every metric it queries is
// one the operator exports (a renamed metric would silently disable an alert).
func TestPrometheusRulesUseDefinedMetrics(t *testing.T) {
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	defined := definedMetrics(t, root)
	var rule struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name      string            `json:"name"`
			Namespace string            `json:"namespace"`
			Labels    map[string]string `json:"labels"`
		} `json:"metadata"`
		Spec struct {
			Groups []struct {
				Name  string `json:"name"`
				Rules []struct {
					Alert       string            `json:"alert"`
					Expr        string            `json:"expr"`
					For         string            `json:"for"`
					Labels      map[string]string `json:"labels"`
					Annotations map[string]string `json:"annotations"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"spec"`
	}
	if err := yaml.UnmarshalStrict([]byte(readFile(t, filepath.Join(root, "config/prometheus/rules.yaml"))), &rule); err != nil {
		t.Fatal(err)
	}
	alerts := map[string]bool{}
	for _, g := range rule.Spec.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || r.Expr == "" || r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("incomplete alert %+v", r)
			}
			alerts[r.Alert] = true
			for _, name := range metricName.FindAllString(r.Expr, -1) {
				base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
				if !defined[name] && !defined[base] {
					t.Errorf("alert %s queries %s, which no code defines", r.Alert, name)
				}
			}
		}
	}
	// What the issue asks alerts for.
	for _, a := range []string{"CoexSyncDeadlineApproaching", "CoexNumbersStalled", "CoexNumbersOffboarded",
		"CoexWebhookSignatureFailures", "CoexReceiverSpoolBacklog", "CoexRelayBacklog"} {
		if !alerts[a] {
			t.Errorf("no alert %s", a)
		}
	}
}

// TestMetricsAreDocumented: docs/operations.md names every metric the code defines.
func TestMetricsAreDocumented(t *testing.T) {
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join(root, "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	for name := range definedMetrics(t, root) {
		if !strings.Contains(string(doc), "`"+name) {
			t.Errorf("docs/operations.md does not document %s", name)
		}
	}
}
