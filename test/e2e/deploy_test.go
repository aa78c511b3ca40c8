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
	AutomountServiceAccountToken *bool `json:"automountServiceAccountToken"`
	Spec                         struct {
		Replicas *int `json:"replicas"`
		Strategy struct {
			Type string `json:"type"`
		} `json:"strategy"`
		Template struct {
			Spec struct {
				ServiceAccountName           string `json:"serviceAccountName"`
				AutomountServiceAccountToken *bool  `json:"automountServiceAccountToken"`
				TopologySpreadConstraints    []any  `json:"topologySpreadConstraints"`
				Containers                   []struct {
					Name         string   `json:"name"`
					Command      []string `json:"command"`
					Args         []string `json:"args"`
					VolumeMounts []struct {
						Name      string `json:"name"`
						MountPath string `json:"mountPath"`
					} `json:"volumeMounts"`
					Env []struct {
						Name  string `json:"name"`
						Value string `json:"value"`
					} `json:"env"`
				} `json:"containers"`
				Volumes []struct {
					Name                  string `json:"name"`
					PersistentVolumeClaim *struct {
						ClaimName string `json:"claimName"`
					} `json:"persistentVolumeClaim"`
				} `json:"volumes"`
			} `json:"spec"`
		} `json:"template"`
	} `json:"spec"`
}

// render renders a kustomization with kubectl, by kind/name.
func render(dir string) (string, map[string]renderedObject) {
	GinkgoHelper()
	rendered := mustKubectl("kustomize", dir)
	objects := map[string]renderedObject{}
	for _, doc := range strings.Split(rendered, "\n---\n") {
		var o renderedObject
		Expect(yaml.Unmarshal([]byte(doc), &o)).To(Succeed())
		objects[o.Kind+"/"+o.Metadata.Name] = o
	}
	return rendered, objects
}

// dryRun has the API server check rendered objects (server-side dry run).
func dryRun(rendered string) string {
	GinkgoHelper()
	// A dry run of namespaced objects needs their namespace to exist.
	if _, _, err := kubectl("", "get", "namespace", "coex-system"); err != nil {
		mustKubectl("create", "namespace", "coex-system", "--save-config")
	}
	stdout, stderr, err := kubectl(rendered, "apply", "--dry-run=server", "-f", "-")
	Expect(err).NotTo(HaveOccurred(), stderr)
	return stdout
}

// mountsOf lists a container's volume mounts by name.
func mountsOf(o renderedObject, container string) []string {
	var out []string
	for _, c := range o.Spec.Template.Spec.Containers {
		if c.Name == container {
			for _, m := range c.VolumeMounts {
				out = append(out, m.Name)
			}
		}
	}
	return out
}

var _ = Describe("config/default", func() {
	It("renders with kubectl kustomize and the API server accepts it (server-side dry run)", func() {
		rendered, objects := render("config/default")
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
		Expect(*deploy.Spec.Replicas).To(Equal(1))
		Expect(deploy.Spec.Strategy.Type).To(Equal("Recreate"), "one ReadWriteOnce volume")

		// Two identities in one pod: the pod's token (the manager's) in the manager container
		// only; the receiver's own ServiceAccount never mounted by Kubernetes.
		Expect(pod.AutomountServiceAccountToken).To(HaveValue(BeFalse()))
		Expect(mountsOf(deploy, "manager")).To(ContainElements("manager-token", "receiver-kube"))
		Expect(mountsOf(deploy, "receiver")).To(ContainElement("receiver-kube"))
		Expect(mountsOf(deploy, "receiver")).NotTo(ContainElement("manager-token"))
		Expect(objects["ServiceAccount/coex-receiver"].AutomountServiceAccountToken).To(HaveValue(BeFalse()))
		Expect(objects).To(HaveKey("ClusterRoleBinding/coex-receiver-rolebinding"))
		Expect(objects["Role/coex-receiver-role"].Metadata.Namespace).To(Equal("coex-system"))

		// Least privilege: Leases only in the operator's namespace, not cluster-wide.
		for _, rule := range objects["ClusterRole/coex-manager-role"].Rules {
			Expect(rule.Resources).NotTo(ContainElement("leases"))
		}
		Expect(objects["Role/coex-leader-election-role"].Metadata.Namespace).To(Equal("coex-system"))

		stdout := dryRun(rendered)
		Expect(stdout).To(ContainSubstring("deployment.apps/coex-controller-manager created (server dry run)"))
		Expect(stdout).To(ContainSubstring("clusterrolebinding.rbac.authorization.k8s.io/coex-manager-rolebinding created (server dry run)"))
	})

	It("config/ha: N replicas on PostgreSQL, rolling, with a PodDisruptionBudget, and no volume", func() {
		rendered, objects := render("config/ha")
		deploy := objects["Deployment/coex-controller-manager"]
		Expect(*deploy.Spec.Replicas).To(Equal(2))
		Expect(deploy.Spec.Strategy.Type).To(Equal("RollingUpdate"))
		Expect(deploy.Spec.Template.Spec.TopologySpreadConstraints).NotTo(BeEmpty())
		Expect(objects).To(HaveKey("PodDisruptionBudget/coex-controller-manager"))
		Expect(objects).NotTo(HaveKey("PersistentVolumeClaim/coex-receiver-spool"))
		for _, v := range deploy.Spec.Template.Spec.Volumes {
			Expect(v.PersistentVolumeClaim).To(BeNil(), "volume %s", v.Name)
		}
		var receiverArgs []string
		for _, c := range deploy.Spec.Template.Spec.Containers {
			if c.Name == "receiver" {
				receiverArgs = c.Args
			}
			if c.Name == "manager" {
				Expect(c.Args).To(ContainElement("--leader-elect"), "the reconcilers run on the leader only")
			}
		}
		Expect(receiverArgs).To(ContainElements("--store=postgres", "--postgres-dsn-file=/var/run/coex-postgres/uri"))
		Expect(mountsOf(deploy, "receiver")).To(ConsistOf("receiver-kube", "postgres-dsn"))
		Expect(dryRun(rendered)).To(ContainSubstring("poddisruptionbudget.policy/coex-controller-manager created (server dry run)"))
	})
})
