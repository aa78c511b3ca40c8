// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/coex-operator/coex-operator/internal/controlplane"
	"github.com/coex-operator/coex-operator/internal/receivercreds"
	"github.com/coex-operator/coex-operator/internal/receivertoken"
	"github.com/coex-operator/coex-operator/test/harness"
)

// The manager and the receiver run as the pod runs them, each under the identity config/default
// gives it, against an API server that enforces RBAC: the manager with a token of
// coex-controller-manager, the receiver with nothing but the kubeconfig and short-lived token
// of coex-receiver that the manager writes for it. A right missing from config/default fails
// the flow below; a right beyond what each needs fails the exact lists of rights.
var _ = Describe("the manager and the receiver under config/default's identities", Ordered, func() {
	const (
		opNS     = "coex-system"
		tenantNS = "tenant-a"
		appID    = "2000000000000001"
		secret   = "tenant-app-secret-e2e"
		verify   = "tenant-verify-token-e2e"
		token    = "EAAG-tenant-access-token-e2e"
		waba     = "2100000000000001"
		phone    = "2200000000000001"
	)
	var (
		cp          *controlplane.Env
		adminKC     string
		tokenDir    string
		manager     *gexec.Session
		receiver    *gexec.Session
		rcvProbes   string
		hookAddr    string
		kubectlAs   func(kubeconfig string, args ...string) (string, string, error)
		adminCtl    func(args ...string) string
		managerKC   string
		receiverKC  string
		secretsSeen []string
	)

	BeforeAll(func() {
		var err error
		// A control plane of its own: this spec installs everything config/default holds,
		// which other specs must not see.
		cp, err = controlplane.Start(controlplane.Options{})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(cp.Stop)
		dir := GinkgoT().TempDir()
		kc, err := cp.AdminKubeconfig()
		Expect(err).NotTo(HaveOccurred())
		adminKC = filepath.Join(dir, "admin")
		Expect(os.WriteFile(adminKC, kc, 0o600)).To(Succeed())
		kubectlAs = func(kubeconfig string, args ...string) (string, string, error) {
			cmd := exec.Command(cp.Kubectl(), args...)
			cmd.Dir = cp.Root
			cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			err := cmd.Run()
			return out.String(), errb.String(), err
		}
		adminCtl = func(args ...string) string {
			GinkgoHelper()
			out, stderr, err := kubectlAs(adminKC, args...)
			Expect(err).NotTo(HaveOccurred(), "kubectl %s: %s", strings.Join(args, " "), stderr)
			return out
		}

		By("applying config/default: CRDs, identities, RBAC (the Deployment stays inert: no kubelet here)")
		rendered := adminCtl("kustomize", "config/default")
		cmd := exec.Command(cp.Kubectl(), "apply", "--server-side", "-f", "-")
		cmd.Env = append(os.Environ(), "KUBECONFIG="+adminKC)
		cmd.Stdin = strings.NewReader(rendered)
		out, err := cmd.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
		adminCtl("wait", "--for=condition=Established", "--timeout=60s",
			"crd/coexnumbers.whatsapp.coex.dev", "crd/metaapps.whatsapp.coex.dev")

		By("giving the manager a token of its ServiceAccount, as the pod's projected volume does")
		managerToken := strings.TrimSpace(adminCtl("create", "token", "coex-controller-manager", "-n", opNS, "--duration=1h"))
		managerKC = filepath.Join(dir, "manager")
		writeTokenKubeconfig(cp, managerKC, managerToken)

		By("starting Meta (the simulator) with the tenant's app, token and number")
		hookAddr = freeAddr()
		callback := fmt.Sprintf("http://%s/webhooks/%s/acme", hookAddr, tenantNS)
		base, post := startGraphsim("--retry-base", "1s")
		fields := `["messages","smb_message_echoes","smb_app_state_sync","history","account_update"]`
		Eventually(func() int {
			return post("/_sim/apps", `{"id":"`+appID+`","secret":"`+secret+`","callback_url":"`+callback+`","fields":`+fields+`}`)
		}).Should(Equal(http.StatusOK))
		Expect(post("/_sim/tokens", `{"app_id":"`+appID+`","waba_ids":["`+waba+`"],"value":"`+token+`"}`)).To(Equal(http.StatusOK))
		Expect(post("/_sim/numbers", `{"app_id":"`+appID+`","waba_id":"`+waba+`","phone_number_id":"`+phone+`","scenario":{"preset":"small"}}`)).
			To(Equal(http.StatusOK))

		By("creating the tenant's Secrets, MetaApp and CoexNumber, and a Secret nobody names")
		adminCtl("create", "namespace", tenantNS)
		tenant := fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: meta, namespace: %[1]s}
stringData: {app-secret: %[2]s, verify-token: %[3]s}
---
apiVersion: v1
kind: Secret
metadata: {name: number-token, namespace: %[1]s}
stringData: {token: %[4]s}
---
apiVersion: v1
kind: Secret
metadata: {name: unrelated, namespace: %[1]s}
stringData: {password: not-for-the-operator}
---
apiVersion: whatsapp.coex.dev/v1alpha1
kind: MetaApp
metadata: {name: acme, namespace: %[1]s}
spec:
  appID: "%[5]s"
  appSecretRef: {name: meta, key: app-secret}
  verifyTokenRef: {name: meta, key: verify-token}
  graphBaseURL: %[6]s
  callbackURL: %[7]s
---
apiVersion: whatsapp.coex.dev/v1alpha1
kind: CoexNumber
metadata: {name: support, namespace: %[1]s}
spec:
  appRef: {name: acme}
  wabaID: "%[8]s"
  phoneNumberID: "%[9]s"
  displayPhoneNumber: "+14155550199"
  tokenSecretRef: {name: number-token, key: token}
`, tenantNS, secret, verify, token, appID, base, callback, waba, phone)
		cmd = exec.Command(cp.Kubectl(), "apply", "-f", "-")
		cmd.Env = append(os.Environ(), "KUBECONFIG="+adminKC)
		cmd.Stdin = strings.NewReader(tenant)
		out, err = cmd.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))

		By("starting the manager and its receiver sidecar as the pod does")
		tokenDir = filepath.Join(dir, "receiver-kube")
		receiverKC = filepath.Join(tokenDir, receivertoken.KubeconfigFile)
		podEnv := append(os.Environ(), "POD_NAMESPACE="+opNS)
		mcmd := exec.Command(managerBin, "--kubeconfig", managerKC, "--leader-elect",
			"--metrics-bind-address", "0", "--health-probe-bind-address", freeAddr(),
			"--receiver-token-dir", tokenDir)
		mcmd.Env = podEnv
		manager, err = gexec.Start(mcmd, GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { manager.Kill().Wait() })

		rcvProbes = freeAddr()
		rcmd := exec.Command(receiverBin, "--spool-dir", filepath.Join(dir, "spool"), "--webhook-bind-address", hookAddr,
			"--metrics-bind-address", "0", "--health-probe-bind-address", rcvProbes)
		// No --kubeconfig: only what the manager wrote ($KUBECONFIG), as in the pod.
		rcmd.Env = append(slices.DeleteFunc(podEnv, func(e string) bool { return strings.HasPrefix(e, "KUBECONFIG=") }),
			"KUBECONFIG="+receiverKC)
		receiver, err = gexec.Start(rcmd, GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { receiver.Kill().Wait() })
		secretsSeen = []string{secret, verify, token, managerToken}
	})

	It("gives the receiver a kubeconfig and a token of coex-receiver, and it becomes ready", func() {
		Eventually(func() int { code, _ := harness.Get("http://" + rcvProbes + "/readyz"); return code }, 2*time.Minute).
			Should(Equal(http.StatusOK))
		who, stderr, err := kubectlAs(receiverKC, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
		Expect(err).NotTo(HaveOccurred(), stderr)
		Expect(who).To(Equal("system:serviceaccount:coex-system:coex-receiver"))
		info, err := os.Stat(filepath.Join(tokenDir, receivertoken.TokenFile))
		Expect(err).NotTo(HaveOccurred())
		Expect(info.Mode().Perm()&0o007).To(BeZero(), "the token is not readable by others")
	})

	It("syncs the number: the manager requests the syncs, the receiver verifies, keeps and applies the history", func() {
		Eventually(func() string {
			out, _, _ := kubectlAs(adminKC, "get", "coexnumber", "-n", tenantNS, "support", "-o",
				`jsonpath={.status.conditions[?(@.type=="HistorySynced")].status}`)
			return out
		}, 3*time.Minute).Should(Equal("True"))
	})

	It("projects exactly the app secret and verify token into the receiver's Secret", func() {
		out := adminCtl("get", "secret", "-n", opNS, receivercreds.DefaultSecretName, "-o", "go-template={{range $k, $v := .data}}{{$k}} {{end}}")
		Expect(strings.Fields(out)).To(ConsistOf(tenantNS+"_meta_app-secret", tenantNS+"_meta_verify-token"))
	})

	It("lets the receiver's own credentials do exactly what the receiver needs", func() {
		can := func(args ...string) string {
			out, _, _ := kubectlAs(receiverKC, append([]string{"auth", "can-i"}, args...)...)
			return strings.TrimSpace(out)
		}
		Expect(can("get", "secret/"+receivercreds.DefaultSecretName, "-n", opNS)).To(Equal("yes"))
		for _, denied := range [][]string{
			{"list", "secrets", "-A"}, {"watch", "secrets", "-A"}, {"list", "secrets", "-n", opNS}, {"watch", "secrets", "-n", opNS},
			{"get", "secret/meta", "-n", tenantNS}, {"get", "secret/coex-other", "-n", opNS},
			{"update", "secret/" + receivercreds.DefaultSecretName, "-n", opNS},
			{"create", "serviceaccounts/token", "-n", opNS}, {"get", "leases", "-n", opNS},
			{"update", "coexnumbers", "-n", tenantNS}, {"create", "coexnumbers", "-n", tenantNS},
			{"patch", "metaapps/status", "-n", tenantNS},
		} {
			Expect(can(denied...)).To(Equal("no"), "the receiver may not %v", denied)
		}
		// Every right it holds, beyond what any authenticated user has, is one it uses.
		Expect(rights(kubectlAs, receiverKC, tenantNS)).To(ConsistOf(
			"coexnumbers.whatsapp.coex.dev [get list watch]",
			"coexnumbers.whatsapp.coex.dev/status [get patch]",
			"events.events.k8s.io [create patch]",
			"metaapps.whatsapp.coex.dev [get list watch]",
		))
		Expect(rights(kubectlAs, receiverKC, opNS)).To(ContainElement(
			"secrets [" + receivercreds.DefaultSecretName + "] [get]"))
	})

	It("lets the manager read Secrets one by one and watch their metadata, but change none it did not create", func() {
		can := func(args ...string) string {
			out, _, _ := kubectlAs(managerKC, append([]string{"auth", "can-i"}, args...)...)
			return strings.TrimSpace(out)
		}
		for _, allowed := range [][]string{
			{"get", "secret/meta", "-n", tenantNS}, {"create", "secrets", "-n", tenantNS},
			{"update", "secret/" + receivercreds.DefaultSecretName, "-n", opNS},
			{"create", "serviceaccounts/coex-receiver", "--subresource=token", "-n", opNS},
		} {
			Expect(can(allowed...)).To(Equal("yes"), "the manager needs %v", allowed)
		}
		for _, denied := range [][]string{
			{"update", "secret/meta", "-n", tenantNS}, {"patch", "secret/meta", "-n", tenantNS},
			{"delete", "secret/meta", "-n", tenantNS}, {"update", "secret/other", "-n", opNS},
			{"create", "serviceaccounts/coex-controller-manager", "--subresource=token", "-n", opNS},
			{"create", "serviceaccounts/coex-receiver", "--subresource=token", "-n", tenantNS},
		} {
			Expect(can(denied...)).To(Equal("no"), "the manager may not %v", denied)
		}
	})

	It("runs a second replica: its manager is ready without the Lease and reconciles nothing, its receiver gets a token too", func() {
		holder := func() string {
			return strings.TrimSpace(adminCtl("get", "lease", "-n", opNS, "coex-operator.whatsapp.coex.dev",
				"-o", "jsonpath={.spec.holderIdentity}"))
		}
		leader := holder()
		Expect(leader).NotTo(BeEmpty())
		dir := GinkgoT().TempDir()
		probes := freeAddr()
		cmd := exec.Command(managerBin, "--kubeconfig", managerKC, "--leader-elect",
			"--metrics-bind-address", "0", "--health-probe-bind-address", probes,
			"--receiver-token-dir", dir)
		cmd.Env = append(os.Environ(), "POD_NAMESPACE="+opNS)
		second, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { second.Kill().Wait() })
		Eventually(func() int { code, _ := harness.Get("http://" + probes + "/readyz"); return code }).Should(Equal(http.StatusOK))
		Eventually(func() error {
			_, err := os.Stat(filepath.Join(dir, receivertoken.KubeconfigFile))
			return err
		}).Should(Succeed())
		Expect(manager.Err).To(gbytes.Say("reconcilers started"), "the first manager leads")
		Consistently(second.Err, 3*time.Second).ShouldNot(gbytes.Say("reconcilers started"))
		Expect(holder()).To(Equal(leader), "the Lease stays with the first manager")
	})

	It("prints no secret or token in either log", func() {
		rtoken, err := os.ReadFile(filepath.Join(tokenDir, receivertoken.TokenFile))
		Expect(err).NotTo(HaveOccurred())
		logs := string(manager.Out.Contents()) + string(manager.Err.Contents()) +
			string(receiver.Out.Contents()) + string(receiver.Err.Contents())
		Expect(logs).NotTo(BeEmpty())
		for _, s := range append(secretsSeen, string(rtoken)) {
			Expect(logs).NotTo(ContainSubstring(s))
		}
	})
})

// rights lists what kubeconfig's user may do in namespace, as "resource [names] [verbs]" (names
// only when the rule names objects), without the rules every authenticated user has.
func rights(kubectlAs func(string, ...string) (string, string, error), kubeconfig, namespace string) []string {
	GinkgoHelper()
	out, stderr, err := kubectlAs(kubeconfig, "auth", "can-i", "--list", "-n", namespace, "--no-headers")
	Expect(err).NotTo(HaveOccurred(), stderr)
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		// Columns: Resources, Non-Resource URLs, Resource Names, Verbs (blank cells are []).
		f := strings.Fields(line)
		if len(f) < 4 || f[0] == "" || strings.HasPrefix(f[0], "[") {
			continue // a non-resource URL
		}
		switch f[0] {
		case "selfsubjectreviews.authentication.k8s.io", "selfsubjectaccessreviews.authorization.k8s.io",
			"selfsubjectrulesreviews.authorization.k8s.io":
			continue // every authenticated user's
		}
		verbs := strings.Join(f[3:], " ")
		if f[2] != "[]" {
			got = append(got, f[0]+" "+f[2]+" "+verbs)
		} else {
			got = append(got, f[0]+" "+verbs)
		}
	}
	return got
}

// writeTokenKubeconfig writes a kubeconfig reaching cp's API server with a bearer token.
func writeTokenKubeconfig(cp *controlplane.Env, path, token string) {
	GinkgoHelper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["local"] = &clientcmdapi.Cluster{Server: cp.Config.Host, CertificateAuthorityData: cp.Config.CAData}
	cfg.AuthInfos["sa"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["sa"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: "sa"}
	cfg.CurrentContext = "sa"
	Expect(clientcmd.WriteToFile(*cfg, path)).To(Succeed())
}
