#!/usr/bin/env bash
# Builds the envtest control plane (kube-apiserver, etcd) from source through the Go module proxy,
# because release downloads are unreachable on these machines (see TOOLCHAIN.md). Binaries land where
# setup-envtest keeps its store, so KUBEBUILDER_ASSETS can point there. Skipped when already present.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-1.36.3}"
ETCD_VERSION="${ETCD_VERSION:-3.6.8}"
STAGING_VERSION="v0.${K8S_VERSION#1.}"
DATA_HOME="${XDG_DATA_HOME:-$HOME/.local/share}"
DEST="${ENVTEST_DIR:-$DATA_HOME/kubebuilder-envtest/k8s/${K8S_VERSION}-linux-amd64}"

mkdir -p "$DEST"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if [ ! -x "$DEST/kube-apiserver" ]; then
  echo "building kube-apiserver v${K8S_VERSION} from source (a few minutes the first time)" >&2
  mod="$work/apiserver"
  mkdir -p "$mod"
  cd "$mod"
  go mod init envtest.local/apiserver >/dev/null 2>&1
  go mod edit -require "k8s.io/kubernetes@v${K8S_VERSION}"
  # k8s.io/kubernetes replaces its staging modules with local directories; point them at the published
  # versions instead. The list is read from its own go.mod so it stays right across versions.
  gomod="$(go mod download -json "k8s.io/kubernetes@v${K8S_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
  grep -oE '^\s*k8s\.io/[a-z0-9-]+ => \./staging/src/k8s\.io/[a-z0-9-]+' "$gomod" | awk '{print $1}' |
    while read -r m; do go mod edit -replace "$m=$m@${STAGING_VERSION}"; done
  printf 'package tools\n\nimport _ "k8s.io/kubernetes/cmd/kube-apiserver"\n' >tools.go
  go mod tidy >/dev/null 2>&1 || go mod tidy
  go build -o "$DEST/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
fi

if [ ! -x "$DEST/etcd" ]; then
  echo "building etcd v${ETCD_VERSION} from source" >&2
  mod="$work/etcd"
  mkdir -p "$mod"
  cd "$mod"
  go mod init envtest.local/etcd >/dev/null 2>&1
  go mod edit -require "go.etcd.io/etcd/server/v3@v${ETCD_VERSION}"
  printf 'package tools\n\nimport _ "go.etcd.io/etcd/server/v3"\n' >tools.go
  go mod tidy >/dev/null 2>&1 || go mod tidy
  go build -o "$DEST/etcd" go.etcd.io/etcd/server/v3
fi

if [ ! -x "$DEST/kubectl" ]; then
  if command -v kubectl >/dev/null 2>&1; then
    ln -sf "$(command -v kubectl)" "$DEST/kubectl"
  fi
fi
echo "$DEST"
