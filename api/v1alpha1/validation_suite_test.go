// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package v1alpha1_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/coex-operator/coex-operator/internal/controlplane"
)

// The suite installs the generated CRDs into a real kube-apiserver and etcd (built from source
// by `make envtest-bins`) and sends objects with a plain client, which validates nothing: every
// refusal it sees comes from the API server's schema and CEL rules.

var (
	env       *controlplane.Env
	k8sClient client.Client
	ctx       = context.Background()
	samples   []*unstructured.Unstructured
)

func TestAPIValidation(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "API validation against a real kube-apiserver")
}

var _ = BeforeSuite(func() {
	var err error
	env, err = controlplane.Start(controlplane.Options{InstallCRDs: true})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(env.Stop)

	k8sClient, err = client.New(env.Config, client.Options{})
	Expect(err).NotTo(HaveOccurred())

	samples = loadSamples(filepath.Join(env.Root, "config", "samples"))
	Expect(samples).NotTo(BeEmpty())
})

// loadSamples reads every object of config/samples, as `kubectl apply -f` would.
func loadSamples(dir string) []*unstructured.Unstructured {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	Expect(err).NotTo(HaveOccurred())
	var objs []*unstructured.Unstructured
	for _, file := range files {
		f, err := os.Open(file)
		Expect(err).NotTo(HaveOccurred())
		decoder := utilyaml.NewYAMLOrJSONDecoder(f, 4096)
		for {
			obj := &unstructured.Unstructured{}
			if err := decoder.Decode(&obj.Object); err != nil {
				break
			}
			if len(obj.Object) > 0 {
				objs = append(objs, obj)
			}
		}
		Expect(f.Close()).To(Succeed())
	}
	return objs
}

// sample returns a copy of the sample of kind, renamed into namespace ns.
func sample(kind, ns string) *unstructured.Unstructured {
	for _, s := range samples {
		if s.GetKind() == kind {
			obj := s.DeepCopy()
			obj.SetNamespace(ns)
			return obj
		}
	}
	Fail("no sample of kind " + kind + " in config/samples")
	return nil
}

// newNamespace creates a namespace for one spec, so specs never see each other's objects.
func newNamespace() string {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "coex-test-"}}
	Expect(k8sClient.Create(ctx, ns)).To(Succeed())
	return ns.Name
}
