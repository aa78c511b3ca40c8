#!/usr/bin/env bash
# Builds a real control plane from the Go module proxy: kube-apiserver and kubectl v1.36.3 from
# k8s.io/kubernetes, and etcd v3.6.16, into $BIN_DIR (default bin/k8s). There is no prebuilt
# envtest tarball to download on these machines, so we compile the same binaries envtest would
# fetch. The versions are pinned by the two throwaway modules in hack/controlplane/{kube,etcd}.
#
# Idempotent: a binary already built for the pinned version is kept, so the second run takes
# a second. A stamp file per binary records the version it was built from.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
BIN_DIR=${BIN_DIR:-$root/bin/k8s}
KUBE_VERSION=v1.36.3
ETCD_VERSION=v3.6.16

mkdir -p "$BIN_DIR"

# kube_ldflags stamps the version the binaries report (`kubectl version`, /version) the way
# Kubernetes' own hack/lib/version.sh does; without it they would claim v0.0.0-master.
kube_ldflags() {
  local minor=${KUBE_VERSION#v1.}; minor=${minor%%.*}
  local pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    printf -- '-X %s.gitVersion=%s -X %s.gitMajor=1 -X %s.gitMinor=%s -X %s.gitTreeState=clean ' \
      "$pkg" "$KUBE_VERSION" "$pkg" "$pkg" "$minor" "$pkg"
  done
  printf -- '-s -w'
}

# build NAME VERSION MODULE_DIR PACKAGE [LDFLAGS]
build() {
  local name=$1 version=$2 moddir=$3 pkg=$4 ldflags=${5:--s -w}
  local out="$BIN_DIR/$name" stamp="$BIN_DIR/.$name.version"
  if [[ -x $out && -f $stamp && $(cat "$stamp") == "$version" ]]; then
    return 0
  fi
  echo ">> building $name $version (first run only; cached in $BIN_DIR)" >&2
  local start=$SECONDS
  (cd "$moddir" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$out.tmp" "$pkg")
  mv "$out.tmp" "$out"
  echo "$version" >"$stamp"
  echo ">> built $name in $((SECONDS - start))s" >&2
}

build etcd "$ETCD_VERSION" "$here/controlplane/etcd" go.etcd.io/etcd/server/v3
build kube-apiserver "$KUBE_VERSION" "$here/controlplane/kube" k8s.io/kubernetes/cmd/kube-apiserver "$(kube_ldflags)"
build kubectl "$KUBE_VERSION" "$here/controlplane/kube" k8s.io/kubernetes/cmd/kubectl "$(kube_ldflags)"
