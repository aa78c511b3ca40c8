// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"io"
	"net/http"
	"os/exec"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/coex-operator/coex-operator/test/harness"
)

// The simulator binary, run standalone as the demo and a developer would.
var _ = Describe("bin/graphsim", func() {
	It("documents how to run it standalone in --help", func() {
		session, err := gexec.Start(exec.Command(graphsimBin, "--help"), GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		Eventually(session).Should(gexec.Exit(0))
		help := string(session.Out.Contents()) + string(session.Err.Contents())
		for _, want := range []string{"-listen", "-scenario", "/_sim/numbers", "smb_app_data", "curl"} {
			Expect(help).To(ContainSubstring(want))
		}
	})

	It("serves Graph calls and its control API on --listen", func() {
		base, post := startGraphsim()
		Eventually(func() int { return post("/_sim/apps", `{"id":"1001","secret":"s3cret"}`) }).Should(Equal(http.StatusOK))
		Expect(post("/_sim/numbers", `{"app_id":"1001","waba_id":"2001","phone_number_id":"3001","scenario":{"preset":"small"}}`)).
			To(Equal(http.StatusOK))
		Expect(post("/_sim/tokens", `{"app_id":"1001","waba_ids":["2001"],"value":"demo-token"}`)).To(Equal(http.StatusOK))

		req, _ := http.NewRequest(http.MethodGet, base+"/v23.0/3001?fields=is_on_biz_app,platform_type", nil)
		req.Header.Set("Authorization", "Bearer demo-token")
		resp, err := http.DefaultClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusOK))
		Expect(string(body)).To(SatisfyAll(ContainSubstring(`"is_on_biz_app":true`), ContainSubstring(`"platform_type":"CLOUD_API"`)))

		code, calls := harness.Get(base + "/_sim/calls?name=GetPhoneNumber&phone_number_id=3001")
		Expect(code).To(Equal(http.StatusOK))
		Expect(calls).To(ContainSubstring(`"name":"GetPhoneNumber"`))
		Expect(calls).NotTo(ContainSubstring("demo-token"), "the call record never holds a token")
	})
})
