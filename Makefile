# coex-operator. `make help` lists the targets.

# Every tool is built from pinned Go modules into bin/; nothing is downloaded as a prebuilt
# binary (these machines reach only the Go module proxy).
BIN        := $(CURDIR)/bin
K8S_BIN    := $(BIN)/k8s
CONTROLLER_GEN := $(BIN)/controller-gen
# kubectl of the local API server's version, built with it (override with KUBECTL=kubectl).
KUBECTL    ?= $(K8S_BIN)/kubectl

# envtest (sigs.k8s.io/controller-runtime/pkg/envtest) runs kube-apiserver and etcd from here.
export KUBEBUILDER_ASSETS := $(K8S_BIN)

GO_TEST_FLAGS ?= -count=1
ENVTEST_BINS := $(K8S_BIN)/kube-apiserver $(K8S_BIN)/etcd $(K8S_BIN)/kubectl

.DEFAULT_GOAL := help

##@ General

.PHONY: help
help: ## Show the targets.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} \
	  /^[a-zA-Z_0-9-]+:.*?##/ { printf "  %-16s %s\n", $$1, $$2 } \
	  /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate the CRDs and RBAC from the API and controller markers.
	$(CONTROLLER_GEN) crd rbac:roleName=manager-role paths="./api/..." paths="./controllers/..." \
	  output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	$(CONTROLLER_GEN) rbac:roleName=receiver-role paths="./internal/receiver/..." output:rbac:artifacts:config=config/rbac/receiver
	go run ./hack/crd-descriptions config/crd/bases/*.yaml

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate the deepcopy functions of the API types.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: fmt
fmt: ## Run gofmt over the tree.
	gofmt -l -w $$(git ls-files --cached --others --exclude-standard '*.go')

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: test
test: envtest-bins ## Run the unit and envtest suites against a control plane built from source.
	go test $(GO_TEST_FLAGS) ./...

.PHONY: bench
bench: envtest-bins ## One table of every figure beside its goal (~5 min; BENCH_FLAGS=-quick: ~1 min, smaller sizes).
	go run ./test/bench $(BENCH_FLAGS)

.PHONY: chaos
chaos: envtest-bins ## The full chaos suite (SIGKILLs, Graph faults, relay outage, secret rotation, forged traffic), then every fuzzer for FUZZTIME.
	COEX_CHAOS=full go test -count=1 -timeout 30m -run '^TestChaos$$' -v ./test/receiver/
	$(MAKE) fuzz

FUZZTIME ?= 60s
.PHONY: fuzz
fuzz: ## Run each fuzz target for FUZZTIME (default 60s): signature check, webhook parsers, dispatcher, event encoder.
	go test ./internal/webhook/ -run '^$$' -fuzz '^FuzzVerify$$' -fuzztime $(FUZZTIME)
	go test ./internal/webhook/ -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	go test ./internal/webhook/ -run '^$$' -fuzz '^FuzzParseBody$$' -fuzztime $(FUZZTIME)
	go test ./internal/receiver/process/ -run '^$$' -fuzz '^FuzzApplyRecord$$' -fuzztime $(FUZZTIME)
	go test ./internal/receiver/event/ -run '^$$' -fuzz '^FuzzAppendString$$' -fuzztime $(FUZZTIME)

.PHONY: envtest-bins
envtest-bins: $(ENVTEST_BINS) ## Build kube-apiserver, etcd and kubectl from source into bin/k8s (cached).

$(ENVTEST_BINS) &: hack/controlplane.sh hack/controlplane/kube/go.mod hack/controlplane/etcd/go.mod
	BIN_DIR=$(K8S_BIN) ./hack/controlplane.sh

##@ Build

.PHONY: build
build: ## Build the manager, the webhook receiver, the Meta simulator and the dev tools into bin/.
	go build -o $(BIN)/manager ./cmd/manager
	go build -o $(BIN)/receiver ./cmd/receiver
	go build -o $(BIN)/graphsim ./cmd/graphsim
	go build -o $(BIN)/localcluster ./hack/localcluster

.PHONY: install
install: manifests envtest-bins ## Install the CRDs into the cluster of the current kubeconfig (KUBECONFIG).
	$(KUBECTL) apply --server-side -f config/crd/bases

.PHONY: uninstall
uninstall: envtest-bins ## Remove the CRDs, and with them every CoexNumber and MetaApp, from the cluster.
	$(KUBECTL) delete --ignore-not-found -f config/crd/bases

.PHONY: run
run: manifests ## Run the manager against the cluster of the current kubeconfig (KUBECONFIG).
	go run ./cmd/manager --health-probe-bind-address=127.0.0.1:8081 --metrics-bind-address=127.0.0.1:8080

# The image config/default names (config/manager/kustomization.yaml); make deploy swaps in IMG.
DEFAULT_IMG := ghcr.io/coex-operator/coex-operator:v0.1.0
IMG ?= $(DEFAULT_IMG)

.PHONY: docker-build
docker-build: ## Build the image holding /manager and /receiver (needs a Docker engine).
	docker build -t $(IMG) .

.PHONY: deploy
deploy: ## Apply config/default (CRDs, RBAC, the manager with its receiver) to the current cluster, with IMG.
	$(KUBECTL) kustomize config/default | sed 's|image: $(DEFAULT_IMG)|image: $(IMG)|' | $(KUBECTL) apply --server-side -f -

.PHONY: undeploy
undeploy: ## Delete what config/default created (the CRDs too: every CoexNumber and MetaApp goes with them).
	$(KUBECTL) delete --ignore-not-found -k config/default

.PHONY: demo
demo: envtest-bins build ## Local control plane + Meta simulator + the operator on the samples, shown with kubectl.
	KUBECTL=$(KUBECTL) BIN=$(BIN) ./hack/demo.sh

$(CONTROLLER_GEN): go.mod go.sum
	go build -o $@ sigs.k8s.io/controller-tools/cmd/controller-gen

.PHONY: clean
clean: ## Remove built binaries (keeps the cached control plane in bin/k8s).
	rm -f $(BIN)/manager $(BIN)/receiver $(BIN)/graphsim $(BIN)/localcluster $(CONTROLLER_GEN)
