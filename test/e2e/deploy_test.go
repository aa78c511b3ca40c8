// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/yaml"
)

// renderedObject is what the checks read of a rendered manifest.
type renderedObject struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Rules []struct {
		Resources []string `json:"resources"`
	} `json:"rules"`
	Spec struct {
		Template struct {
			Spec struct {
				ServiceAccountName string `json:"serviceAccountName"`
				Containers         []struct {
					Name    string   `json:"name"`
					Command []string `json:"command"`
				} `json:"containers"`
				Volumes []struct {
					PersistentVolumeClaim *struct {
						ClaimName string `json:"claimName"`
					} `json:"persistentVolumeClaim"`
				} `json:"volumes"`
			} `json:"spec"`
		} `json:"template"`
	} `json:"spec"`
}

var _ = Describe("config/default", func() {
	It("renders with kubectl kustomize and the API server accepts it (server-side dry run)", func() {
		rendered := mustKubectl("kustomize", "config/default")
		objects := map[string]renderedObject{}
		for _, doc := range strings.Split(rendered, "\n---\n") {
			var o renderedObject
			Expect(yaml.Unmarshal([]byte(doc), &o)).To(Succeed())
			objects[o.Kind+"/"+o.Metadata.Name] = o
		}
		Expect(objects).To(HaveKey("Namespace/coex-system"))
		Expect(objects).To(HaveKey("CustomResourceDefinition/coexnumbers.whatsapp.coex.dev"))
		Expect(objects).To(HaveKey("Service/coex-webhook-receiver"))
		Expect(objects).To(HaveKey("Service/coex-metrics"))

		deploy := objects["Deployment/coex-controller-manager"]
		pod := deploy.Spec.Template.Spec
		Expect(deploy.Metadata.Namespace).To(Equal("coex-system"))
		Expect(pod.ServiceAccountName).To(Equal("coex-controller-manager"))
		Expect(pod.Containers).To(HaveLen(2), "the manager and the receiver sidecar")
		Expect(pod.Containers[0].Command).To(Equal([]string{"/manager"}))
		Expect(pod.Containers[1].Command).To(Equal([]string{"/receiver"}))
		Expect(pod.Volumes).To(ContainElement(HaveField("PersistentVolumeClaim.ClaimName", "coex-receiver-spool")))
		Expect(objects).To(HaveKey("PersistentVolumeClaim/coex-receiver-spool"))

		// Least privilege: Leases only in the operator's namespace, not cluster-wide.
		for _, rule := range objects["ClusterRole/coex-manager-role"].Rules {
			Expect(rule.Resources).NotTo(ContainElement("leases"))
		}
		Expect(objects["Role/coex-leader-election-role"].Metadata.Namespace).To(Equal("coex-system"))

		// A dry run of namespaced objects needs their namespace to exist.
		if _, _, err := kubectl("", "get", "namespace", "coex-system"); err != nil {
			mustKubectl("create", "namespace", "coex-system", "--save-config")
		}
		stdout, stderr, err := kubectl(rendered, "apply", "--dry-run=server", "-f", "-")
		Expect(err).NotTo(HaveOccurred(), stderr)
		Expect(stdout).To(ContainSubstring("deployment.apps/coex-controller-manager created (server dry run)"))
		Expect(stdout).To(ContainSubstring("clusterrolebinding.rbac.authorization.k8s.io/coex-manager-rolebinding created (server dry run)"))
	})
})
