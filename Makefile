# restore-hook-operator — every entry point a developer or CI needs. Works on a fresh machine with only Go:
# the tools (controller-gen, golangci-lint, kwok) are installed into ./bin at pinned versions, and the
# envtest control plane (kube-apiserver, etcd) is built from source (see hack/build-envtest.sh).

IMG ?= restore-hook-operator:latest

# Pinned tool versions (TOOLCHAIN.md).
CONTROLLER_TOOLS_VERSION ?= v0.21.0
GOLANGCI_LINT_VERSION ?= v2.15.0
KWOK_VERSION ?= v0.7.0
# v5.8.1 is built on sigs.k8s.io/kustomize/api v0.21.1, the version go.mod has (test/manifests renders with it).
KUSTOMIZE_VERSION ?= v5.8.1
ENVTEST_K8S_VERSION ?= 1.36.3
ENVTEST_ETCD_VERSION ?= 3.6.8
# Velero's server and its AWS object-store plugin for the test bed (test/velero, make run-local): the versions
# are the ones hack/velero/go.mod requires, so that file is the one place to bump them.
VELERO_TOOLS_DIR ?= hack/velero
VELERO_VERSION ?= $(shell awk '$$1 == "github.com/vmware-tanzu/velero" { print $$2 }' $(VELERO_TOOLS_DIR)/go.mod)
VELERO_PLUGIN_AWS_VERSION ?= $(shell awk '$$1 == "github.com/vmware-tanzu/velero-plugin-for-aws" { print $$2 }' $(VELERO_TOOLS_DIR)/go.mod)

SHELL = /usr/bin/env bash -o pipefail
.SHELLFLAGS = -ec

GOBIN_LOCAL ?= $(CURDIR)/bin
CONTROLLER_GEN ?= $(GOBIN_LOCAL)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
GOLANGCI_LINT ?= $(GOBIN_LOCAL)/golangci-lint-$(GOLANGCI_LINT_VERSION)
KWOK ?= $(GOBIN_LOCAL)/kwok-$(KWOK_VERSION)
KUSTOMIZE ?= $(GOBIN_LOCAL)/kustomize-$(KUSTOMIZE_VERSION)
VELERO ?= $(GOBIN_LOCAL)/velero-$(VELERO_VERSION)
VELERO_PLUGIN_AWS ?= $(GOBIN_LOCAL)/velero-plugin-for-aws-$(VELERO_PLUGIN_AWS_VERSION)
ENVTEST_DIR ?= $(or $(XDG_DATA_HOME),$(HOME)/.local/share)/kubebuilder-envtest/k8s/$(ENVTEST_K8S_VERSION)-linux-amd64
export KUBEBUILDER_ASSETS := $(ENVTEST_DIR)
export KWOK_BIN := $(KWOK)
export VELERO_BIN := $(VELERO)
export VELERO_PLUGIN_AWS_BIN := $(VELERO_PLUGIN_AWS)

# Tests that talk to the API server get a generous but bounded budget; the whole suite stays well under
# 30 minutes on 2 cores.
TEST_TIMEOUT ?= 25m
FUZZ_TIME ?= 20s

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-15s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

CHART_DIR ?= charts/restore-hook-operator

.PHONY: manifests
manifests: controller-gen ## Generate CRDs, RBAC and webhook configurations from the code's markers; copy the CRDs into the Helm chart.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd webhook paths="./..." output:crd:artifacts:config=config/crd/bases
	rm -f $(CHART_DIR)/crds/*.yaml
	cp config/crd/bases/*.yaml $(CHART_DIR)/crds/

.PHONY: generate
generate: controller-gen ## Generate DeepCopy methods.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./..."

.PHONY: fmt
fmt: ## Run go fmt.
	go fmt ./...

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: lint
lint: golangci-lint ## Run golangci-lint.
	$(GOLANGCI_LINT) run ./...

.PHONY: verify
verify: manifests generate ## Fail if generated files or formatting are not up to date.
	@out="$$(gofmt -l $$(git ls-files '*.go'))"; if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	@if [ -n "$$(git status --porcelain -- config api $(CHART_DIR)/crds)" ]; then \
		echo "generated files are out of date; run 'make manifests generate' and commit:"; \
		git status --porcelain -- config api $(CHART_DIR)/crds; git --no-pager diff --stat -- config api $(CHART_DIR)/crds; exit 1; fi
	@echo "generated files are up to date"

.PHONY: test
test: manifests generate vet envtest kwok velero ## Run every test: unit, fuzz seeds, envtest integration, kwok end-to-end, real Velero.
	go test ./... -run '^$$' >/dev/null # compile every test binary in parallel first
	go test ./... -count=1 -p 1 -timeout $(TEST_TIMEOUT) # then one suite at a time: each starts its own control plane
	go test ./internal/hook/ -run '^$$' -fuzz FuzzParseAnnotations -fuzztime $(FUZZ_TIME)
	go run ./cmd/local --once

.PHONY: e2e-velero
e2e-velero: manifests envtest kwok velero ## The end-to-end suite with Velero's own server in the loop (test/velero).
	CI=true go test ./test/velero/ -count=1 -timeout $(TEST_TIMEOUT) -v

# run-local drives a real Velero server unless ARGS has --simulated-velero; only then is building it skipped.
.PHONY: run-local
run-local: manifests envtest kwok $(if $(findstring --simulated-velero,$(ARGS)),,velero) ## The whole system on a local control plane with a demo (ARGS=--once exits after it; --simulated-velero without Velero's server).
	go run ./cmd/local $(ARGS)

# The benchmark is a program, not a test: make test never runs it. BENCH_ARGS="--pods 50 --repeat 1" is a quick smoke run;
# --profile writes pprof profiles of the manager and the API server beside the logs (--work-dir).
BENCH_ARGS ?= --pods 1000 --repeat 5 --json bench.json

.PHONY: bench
bench: envtest kwok ## Measure throughput against the direct-exec floor, reaction latency, memory and API load (test/bench).
	go run ./test/bench $(BENCH_ARGS)

.PHONY: helm-lint
helm-lint: manifests ## Lint the Helm chart with Helm's Go SDK (strict), with its default values and each ci/*-values.yaml.
	go run ./hack/helmlint $(CHART_DIR)

.PHONY: test-unit
test-unit: ## Run the tests that need no control plane.
	go test ./internal/... ./api/... -count=1

##@ Build

.PHONY: build
build: manifests generate ## Build the manager binary.
	go build -o bin/manager ./cmd/manager

.PHONY: plugin
plugin: ## Build the kubectl plugin as bin/kubectl-restorehooks (on PATH it is `kubectl restorehooks`).
	go build -trimpath -o $(GOBIN_LOCAL)/kubectl-restorehooks ./cmd/kubectl-restorehooks

.PHONY: plugin-dist
plugin-dist: ## At release: build the plugin's krew archives into dist/plugin/ and write their sha256 into plugins/restorehooks.yaml.
	hack/plugin-dist.sh

.PHONY: run
run: manifests generate ## Run the manager against the cluster in KUBECONFIG.
	go run ./cmd/manager

.PHONY: docker-build
docker-build: ## Build the manager image (needs a Docker engine).
	docker build -t $(IMG) .

##@ Deployment

.PHONY: install
install: manifests kustomize ## Install the CRDs into the cluster in KUBECONFIG.
	$(KUSTOMIZE) build config/crd | kubectl apply --server-side -f -

.PHONY: uninstall
uninstall: manifests kustomize ## Remove the CRDs from the cluster in KUBECONFIG.
	$(KUSTOMIZE) build config/crd | kubectl delete --ignore-not-found -f -

# The image config/manager names by default; deploy and build-installer set IMG for the build, then put
# this back, so a deploy leaves no change in the tree (make verify checks config/).
MANAGER_IMG_DEFAULT ?= controller:latest
# undeploy ignore-not-found=true tolerates objects that are already gone.
ignore-not-found ?= false

.PHONY: deploy
deploy: manifests kustomize ## Deploy the operator (CRDs, RBAC, manager, webhooks) to the cluster in KUBECONFIG; needs cert-manager there. IMG=... names the image.
	cd config/manager && $(KUSTOMIZE) edit set image controller=$(IMG)
	rc=0; $(KUSTOMIZE) build config/default | kubectl apply --server-side -f - || rc=$$?; \
	cd config/manager && $(KUSTOMIZE) edit set image controller=$(MANAGER_IMG_DEFAULT); exit $$rc

.PHONY: undeploy
undeploy: kustomize ## Remove what deploy installed (CRDs included, so every RestoreHookRun too). ignore-not-found=true tolerates missing objects.
	$(KUSTOMIZE) build config/default | kubectl delete --ignore-not-found=$(ignore-not-found) -f -

.PHONY: build-installer
build-installer: manifests generate kustomize ## Render everything deploy installs, with IMG, into dist/install.yaml.
	mkdir -p dist
	cd config/manager && $(KUSTOMIZE) edit set image controller=$(IMG)
	rc=0; $(KUSTOMIZE) build config/default > dist/install.yaml || rc=$$?; \
	cd config/manager && $(KUSTOMIZE) edit set image controller=$(MANAGER_IMG_DEFAULT); exit $$rc

##@ Tools

.PHONY: velero
velero: $(VELERO) $(VELERO_PLUGIN_AWS) ## Build Velero's server and its AWS plugin from hack/velero for the test bed (skipped when present).
$(VELERO):
	$(call go-build-velero-tool,$(VELERO),github.com/vmware-tanzu/velero/cmd/velero,-X github.com/vmware-tanzu/velero/pkg/buildinfo.Version=$(VELERO_VERSION) -X github.com/vmware-tanzu/velero/pkg/buildinfo.GitTreeState=clean)
$(VELERO_PLUGIN_AWS):
	$(call go-build-velero-tool,$(VELERO_PLUGIN_AWS),github.com/vmware-tanzu/velero-plugin-for-aws/velero-plugin-for-aws,)

.PHONY: envtest
envtest: ## Build kube-apiserver and etcd from source for envtest (skipped when present).
	@ENVTEST_DIR="$(ENVTEST_DIR)" K8S_VERSION="$(ENVTEST_K8S_VERSION)" ETCD_VERSION="$(ENVTEST_ETCD_VERSION)" hack/build-envtest.sh >/dev/null

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN)
$(CONTROLLER_GEN):
	$(call go-install-tool,$(CONTROLLER_GEN),sigs.k8s.io/controller-tools/cmd/controller-gen,$(CONTROLLER_TOOLS_VERSION))

.PHONY: golangci-lint
golangci-lint: $(GOLANGCI_LINT)
$(GOLANGCI_LINT):
	$(call go-install-tool,$(GOLANGCI_LINT),github.com/golangci/golangci-lint/v2/cmd/golangci-lint,$(GOLANGCI_LINT_VERSION))

.PHONY: kwok
kwok: $(KWOK)
$(KWOK):
	$(call go-install-tool,$(KWOK),sigs.k8s.io/kwok/cmd/kwok,$(KWOK_VERSION))

.PHONY: kustomize
kustomize: $(KUSTOMIZE)
$(KUSTOMIZE):
	$(call go-install-tool,$(KUSTOMIZE),sigs.k8s.io/kustomize/kustomize/v5,$(KUSTOMIZE_VERSION))

# go-build-velero-tool builds a package of the hack/velero tools module as $(1) with ldflags $(3). The tools module
# repeats Velero's replace directives, which `go install pkg@version` would refuse. CGO off as Velero's own
# hack/build.sh builds it; niced, since it is minutes of both cores on a cold cache. Built to a temporary name
# first, so an interrupted build never leaves a binary that a later run would take as done.
define go-build-velero-tool
@[ -f "$(1)" ] || { \
set -e; \
echo "Building $(2) into $(1) (minutes on a cold build cache)" ;\
mkdir -p $(GOBIN_LOCAL) ;\
cd $(VELERO_TOOLS_DIR) && CGO_ENABLED=0 nice -n 10 go build -trimpath -ldflags "$(3)" -o "$(1).$$$$.tmp" $(2) ;\
mv "$(1).$$$$.tmp" "$(1)" ;\
}
endef

# go-install-tool installs a Go tool at a pinned version as bin/<name>-<version>, so a version bump
# installs afresh instead of reusing a stale binary.
define go-install-tool
@[ -f "$(1)" ] || { \
set -e; \
package=$(2)@$(3) ;\
echo "Installing $${package}" ;\
mkdir -p $(GOBIN_LOCAL) ;\
rm -f "$$(echo "$(1)" | sed "s/-$(3)$$//")" ;\
GOBIN=$(GOBIN_LOCAL) go install $${package} ;\
mv "$$(echo "$(1)" | sed "s/-$(3)$$//")" $(1) ;\
}
endef
