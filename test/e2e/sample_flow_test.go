// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/coex-operator/coex-operator/test/harness"
)

// The samples' ids and placeholder credentials, as config/samples has them.
const (
	sampleAppID     = "1234567890123456"
	sampleAppSecret = "replace-with-the-app-secret"
	sampleToken     = "replace-with-an-access-token"
	sampleWABA      = "102290129340398"
	samplePhone     = "106540352242922"
	sampleCallback  = "http://127.0.0.1:18090/webhooks/default/acme"
)

// startGraphsim runs bin/graphsim on a free loopback port until the spec ends, and returns
// its base URL and a function that POSTs JSON to it, answering the status code (0 when it
// does not answer yet).
func startGraphsim(args ...string) (string, func(path, body string) int) {
	addr := freeAddr()
	session, err := gexec.Start(exec.Command(graphsimBin, append([]string{"--listen", addr}, args...)...), GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { session.Terminate().Wait() })
	base := "http://" + addr
	return base, func(path, body string) int {
		resp, err := http.Post(base+path, "application/json", strings.NewReader(body))
		if err != nil {
			return 0
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
}

// startSampleMeta runs bin/graphsim with the samples' app, token and number, and returns its
// base URL. Webhook retries are pushed out of the test's way: no receiver listens yet.
func startSampleMeta() string {
	base, post := startGraphsim("--retry-base", "1h")
	fields := `["messages","smb_message_echoes","smb_app_state_sync","history","account_update"]`
	Eventually(func() int {
		return post("/_sim/apps", `{"id":"`+sampleAppID+`","secret":"`+sampleAppSecret+`","callback_url":"`+sampleCallback+`","fields":`+fields+`}`)
	}).Should(Equal(http.StatusOK))
	Expect(post("/_sim/tokens", `{"app_id":"`+sampleAppID+`","waba_ids":["`+sampleWABA+`"],"value":"`+sampleToken+`"}`)).To(Equal(http.StatusOK))
	Expect(post("/_sim/numbers", `{"app_id":"`+sampleAppID+`","waba_id":"`+sampleWABA+`","phone_number_id":"`+samplePhone+`","scenario":{"preset":"small"}}`)).
		To(Equal(http.StatusOK))
	return base
}

// simCalls counts the successful Graph calls of one name the simulator recorded.
func simCalls(base, name string) int {
	code, body := harness.Get(base + "/_sim/calls?ok=true&name=" + name)
	Expect(code).To(Equal(http.StatusOK), body)
	var record struct {
		Count int `json:"count"`
	}
	Expect(json.Unmarshal([]byte(body), &record)).To(Succeed(), body)
	return record.Count
}

// sampleNumberSyncs points the sample MetaApp at a simulator and watches the sample number
// reach its sync requests through kubectl.
func sampleNumberSyncs() {
	base := startSampleMeta()
	mustKubectl("patch", "metaapp", "acme", "--type=merge", "-p", `{"spec":{"graphBaseURL":"`+base+`"}}`)

	// Earlier reconciles met no Graph server and are backing off: allow them time to retry.
	Eventually(func() string {
		out, _, _ := kubectl("", "get", "coexnumber", "acme-support", "-o",
			`jsonpath={.status.conditions[?(@.type=="HistorySyncRequested")].status}`)
		return out
	}, 3*time.Minute).Should(Equal("True"))
	Expect(mustKubectl("get", "coexnumber", "acme-support")).To(MatchRegexp(`(?m)^acme-support\s+\+14155550123\s+Syncing\s+False\s`))
	Eventually(func() string {
		out, _, _ := kubectl("", "get", "metaapp", "acme", "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
		return out
	}, 2*time.Minute).Should(Equal("True"))

	Expect(simCalls(base, "RequestContactsSync")).To(Equal(1))
	Expect(simCalls(base, "RequestHistorySync")).To(Equal(1))
	Expect(simCalls(base, "GetPhoneNumber")).To(BeNumerically(">=", 1))
}
