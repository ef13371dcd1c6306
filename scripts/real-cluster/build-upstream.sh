#!/usr/bin/env bash
# Builds the upstream programs the real-cluster harness runs (kube-apiserver, kubectl, etcd,
# snapshot-controller, the Go csi-snapshotter, csi-sanity) from the Go modules pinned under
# test/real-cluster/go/, into a cache folder outside the work tree. The folder is keyed by a hash
# of the modules' go.mod/go.sum and of our own Go sources, so a second run builds nothing.
#
# Prints one JSON line on stdout: {"binDir": ..., "crdDir": ..., "snapshotterDir": ..., "key": ...}. Progress goes to
# stderr. Exit 3 means the Go toolchain is missing.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
modules_dir="$repo_root/test/real-cluster/go"
modules=(kubernetes snapshotter csi-test)
expected_binaries=(kube-apiserver kubectl etcd pki snapshot-controller csi-snapshotter csi-sanity)

if ! command -v go >/dev/null 2>&1; then
  cat >&2 <<'MSG'
real-cluster: the Go toolchain ('go') is not on PATH.
The real-cluster tests build kube-apiserver, etcd, snapshot-controller, csi-snapshotter and
csi-sanity from the Go module proxy and cannot run without it. Install Go 1.26 or newer
and run again. These tests are never skipped.
MSG
  exit 3
fi

log() { echo "real-cluster: $*" >&2; }

cache_root="${REAL_CLUSTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/csi-snapshotter-ts/real-cluster}"
key="$(cd "$modules_dir" && find . -type f \( -name go.mod -o -name go.sum -o -name '*.go' \) | LC_ALL=C sort |
  xargs sha256sum | sha256sum | cut -c1-16)"
key_dir="$cache_root/$key"
bin_dir="$key_dir/bin"
mkdir -p "$key_dir"

have_all_binaries() {
  local name
  for name in "${expected_binaries[@]}"; do [[ -x "$bin_dir/$name" ]] || return 1; done
}

module_version() { # module-folder module-path
  go -C "$modules_dir/$1" list -mod=readonly -m -f '{{.Version}}' "$2"
}

# Version strings stamped into the binaries, so that /version and --version report the release
# they were built from rather than the placeholders of an unstamped build.
ldflags_for() {
  case "$1" in
    kubernetes)
      local v; v="$(module_version kubernetes k8s.io/kubernetes)"
      local minor; minor="$(echo "$v" | cut -d. -f2)"
      echo "-X k8s.io/component-base/version.gitVersion=$v -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
      ;;
    snapshotter)
      echo "-X main.version=$(module_version snapshotter github.com/kubernetes-csi/external-snapshotter/v8)"
      ;;
    csi-test)
      echo "-X main.version=$(module_version csi-test github.com/kubernetes-csi/csi-test/v5)"
      ;;
  esac
}

# One build at a time per cache key: two test runs started together must not race on the folder.
exec 9>"$key_dir/.lock"
flock 9

if have_all_binaries; then
  log "upstream binaries up to date in $bin_dir"
else
  staging="$key_dir/bin.partial"
  rm -rf "$staging"
  mkdir -p "$staging"
  for module in "${modules[@]}"; do
    started=$SECONDS
    log "building the tools of test/real-cluster/go/$module (first run downloads modules; may take minutes)"
    # "tool" is the package pattern for every tool directive of the module's go.mod.
    go -C "$modules_dir/$module" build -mod=readonly -trimpath -ldflags "$(ldflags_for "$module")" -o "$staging/" tool
    log "built $module in $((SECONDS - started))s"
  done
  rm -rf "$bin_dir"
  mv "$staging" "$bin_dir"
  have_all_binaries || { log "build finished but binaries are missing in $bin_dir"; exit 1; }
fi

# The CRDs are read from the external-snapshotter client module in the module cache (downloaded
# again if the cache was cleaned), never from a copy in this repository.
client_dir="$(go -C "$modules_dir/snapshotter" mod download -json github.com/kubernetes-csi/external-snapshotter/client/v8 |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
crd_dir="$client_dir/config/crd"
[[ -d "$crd_dir" ]] || { log "CRD folder not found: $crd_dir"; exit 1; }

# The external-snapshotter module itself, for its deploy/ manifests (the RBAC the Go sidecar ships).
snapshotter_dir="$(go -C "$modules_dir/snapshotter" mod download -json github.com/kubernetes-csi/external-snapshotter/v8 |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[[ -d "$snapshotter_dir/deploy" ]] || { log "external-snapshotter module not found: $snapshotter_dir"; exit 1; }

printf '{"binDir":"%s","crdDir":"%s","snapshotterDir":"%s","key":"%s"}\n' "$bin_dir" "$crd_dir" "$snapshotter_dir" "$key"
