// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	"github.com/coex-operator/coex-operator/test/harness"
)

// columns returns the header cells of kubectl's table output.
func columns(table string) []string {
	header, _, _ := strings.Cut(table, "\n")
	// Column names may hold one space ("APP ID"); cells are separated by two or more.
	var cols []string
	for _, c := range strings.Split(header, "  ") {
		if c = strings.TrimSpace(c); c != "" {
			cols = append(cols, c)
		}
	}
	return cols
}

var _ = Describe("a new user's first steps", Ordered, func() {
	var (
		manager     *gexec.Session
		probes      string
		metricsAddr string
	)

	BeforeAll(func() {
		probes, metricsAddr = freeAddr(), freeAddr()
		cmd := exec.Command(managerBin,
			"--health-probe-bind-address="+probes,
			"--metrics-bind-address="+metricsAddr,
			"--leader-elect", "--leader-election-namespace=default")
		cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
		var err error
		manager, err = gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { manager.Kill() })
	})

	It("starts the manager live, but not ready while the CRDs are missing", func() {
		Eventually(func() int { code, _ := harness.Get("http://" + probes + "/healthz"); return code }).Should(Equal(http.StatusOK))
		code, body := harness.Get("http://" + probes + "/readyz?verbose")
		Expect(code).To(Equal(http.StatusInternalServerError), body)
		Expect(body).To(ContainSubstring("[-]crds failed"))
		Eventually(manager.Err).Should(gbytes.Say(`are the CRDs installed\?`))
	})

	It("installs the CRDs with kubectl, and the manager becomes ready", func() {
		Expect(mustKubectl("apply", "-f", "config/crd/bases")).To(SatisfyAll(
			ContainSubstring("coexnumbers.whatsapp.coex.dev created"),
			ContainSubstring("metaapps.whatsapp.coex.dev created")))
		mustKubectl("wait", "--for=condition=Established", "--timeout=60s",
			"crd/coexnumbers.whatsapp.coex.dev", "crd/metaapps.whatsapp.coex.dev")
		Eventually(func() int { code, _ := harness.Get("http://" + probes + "/readyz"); return code }).Should(Equal(http.StatusOK))
	})

	It("holds the leader election Lease and reports it in its metrics", func() {
		Eventually(func() string {
			out, _, _ := kubectl("", "get", "lease", "-n", "default", "coex-operator.whatsapp.coex.dev",
				"-o", "jsonpath={.spec.holderIdentity}")
			return out
		}).ShouldNot(BeEmpty())
		Eventually(func() string { _, body := harness.Get("http://" + metricsAddr + "/metrics"); return body }).Should(
			ContainSubstring(`leader_election_master_status{name="coex-operator.whatsapp.coex.dev"} 1`))
	})

	It("applies config/samples with kubectl", func() {
		Expect(mustKubectl("apply", "-f", "config/samples/")).To(SatisfyAll(
			ContainSubstring("secret/acme-meta-app created"),
			ContainSubstring("secret/acme-support-number created"),
			ContainSubstring("metaapp.whatsapp.coex.dev/acme created"),
			ContainSubstring("coexnumber.whatsapp.coex.dev/acme-support created")))
	})

	It("shows CoexNumbers with their columns, reason and message at -o wide", func() {
		table := mustKubectl("get", "coexnumbers")
		Expect(columns(table)).To(Equal([]string{"NAME", "PHONE", "PHASE", "READY", "HISTORY%", "DEADLINE", "AGE"}))
		Expect(table).To(MatchRegexp(`(?m)^acme-support\s+\+14155550123\s`))
		wide := mustKubectl("get", "coexnumbers", "-o", "wide")
		Expect(columns(wide)).To(Equal([]string{"NAME", "PHONE", "PHASE", "READY", "HISTORY%", "DEADLINE", "AGE", "REASON", "MESSAGE"}))
	})

	It("shows MetaApps with their columns", func() {
		table := mustKubectl("get", "metaapps")
		Expect(columns(table)).To(Equal([]string{"NAME", "APP ID", "READY", "MISSING", "AGE"}))
		Expect(table).To(MatchRegexp(`(?m)^acme\s+1234567890123456\s`))
	})

	It("answers to the short name coex and the category whatsapp", func() {
		Expect(mustKubectl("get", "coex", "-o", "name")).To(Equal("coexnumber.whatsapp.coex.dev/acme-support\n"))
		Expect(strings.Fields(mustKubectl("get", "whatsapp", "-o", "name"))).To(ConsistOf(
			"coexnumber.whatsapp.coex.dev/acme-support", "metaapp.whatsapp.coex.dev/acme"))
	})

	It("documents the fields in kubectl explain", func() {
		Expect(mustKubectl("explain", "coexnumber.spec.wabaID")).To(SatisfyAll(
			ContainSubstring("FIELD: wabaID <string>"),
			ContainSubstring("WhatsApp Business Account id"),
			ContainSubstring("Immutable")))
		Expect(mustKubectl("explain", "coexnumber.status.history.requestID")).To(ContainSubstring("Immutable once recorded"))
		Expect(mustKubectl("explain", "metaapp.spec.graphBaseURL")).To(ContainSubstring("loopback"))
	})

	It("drives the sample number to its sync requests against bin/graphsim, once each", sampleNumberSyncs)

	It("has invalid YAML refused by the API server, with the field named", func() {
		bad := `apiVersion: whatsapp.coex.dev/v1alpha1
kind: CoexNumber
metadata: {name: typo}
spec:
  appRef: {name: acme}
  wabaID: "102290129340398"
  phoneNumberID: "106540352242922"
  displayPhoneNumber: "+1 415 555 0123"
  tokenSecretRef: {name: acme-support-number, key: token}
`
		for _, args := range [][]string{{"apply", "-f", "-"}, {"apply", "--dry-run=server", "-f", "-"}} {
			_, stderr, err := kubectl(bad, args...)
			Expect(err).To(HaveOccurred())
			Expect(stderr).To(SatisfyAll(ContainSubstring("spec.displayPhoneNumber"), ContainSubstring("must be E.164")))
		}
		_, stderr, err := kubectl("", "get", "coexnumber", "typo")
		Expect(err).To(HaveOccurred())
		Expect(stderr).To(ContainSubstring("NotFound"))
	})

	It("refuses to change a number's wabaID", func() {
		_, stderr, err := kubectl("", "patch", "coexnumber", "acme-support", "--type=merge",
			"-p", `{"spec":{"wabaID":"999"}}`)
		Expect(err).To(HaveOccurred())
		Expect(stderr).To(ContainSubstring("wabaID is immutable"))
	})

	It("logs structured JSON and stops cleanly on SIGTERM", func() {
		manager.Signal(syscall.SIGTERM)
		Eventually(manager).Should(gexec.Exit(0))
		lines := strings.Split(strings.TrimSpace(string(manager.Err.Contents())), "\n")
		Expect(len(lines)).To(BeNumerically(">", 3))
		for _, line := range lines {
			var entry map[string]any
			Expect(json.Unmarshal([]byte(line), &entry)).To(Succeed(), "not JSON: %s", line)
			Expect(entry).To(HaveKey("level"))
			Expect(entry).To(HaveKey("msg"))
		}
	})
})
