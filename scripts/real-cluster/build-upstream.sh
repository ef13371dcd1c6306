#!/usr/bin/env bash
# Builds the upstream programs the real-cluster harness runs (kube-apiserver, kubectl, etcd,
# snapshot-controller, the Go csi-snapshotter, csi-sanity) from the Go modules pinned under
# test/real-cluster/go/, and hostpathplugin (csi-driver-host-path), into a cache folder outside the
# work tree. The folder is keyed by a hash of the modules' go.mod/go.sum, of our own Go sources and
# of hostpathplugin's source, so a second run builds nothing.
#
# hostpathplugin comes from the folder named by HOSTPATH_SOURCE (relative paths are taken from the
# repository root; .ci/run sets it when ../shared/third-party/csi-driver-host-path exists), or else
# from the public module github.com/kubernetes-csi/csi-driver-host-path at HOSTPATH_VERSION.
#
# Also builds the snapshot-controller of the v1alpha1 group snapshot era from test/real-cluster/go-v1alpha1
# (its own cache key). Prints one JSON line on stdout: {"binDir": ..., "crdDir": ...,
# "snapshotterDir": ..., "key": ..., "hostpathOrigin": ..., "v1alpha1": {"snapshotController": ...,
# "crdDir": ...}}. Progress goes to stderr. Exit 3 means the Go toolchain is missing.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
modules_dir="$repo_root/test/real-cluster/go"
modules=(kubernetes snapshotter csi-test)
expected_binaries=(kube-apiserver kubectl etcd pki snapshot-controller csi-snapshotter csi-sanity hostpathplugin)
hostpath_module=github.com/kubernetes-csi/csi-driver-host-path
hostpath_version="${HOSTPATH_VERSION:-v1.18.0}"

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

# Hash of the go.mod, go.sum and .go files under a folder (paths relative to it).
tree_hash() {
  (cd "$1" && find . -type f \( -name go.mod -o -name go.sum -o -name '*.go' \) | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16)
}

# Where hostpathplugin's source is: a folder (HOSTPATH_SOURCE) or the module at hostpath_version.
if [[ -n "${HOSTPATH_SOURCE:-}" ]]; then
  hostpath_dir="$(cd "$repo_root" && cd "$HOSTPATH_SOURCE" 2>/dev/null && pwd)" || {
    log "HOSTPATH_SOURCE=$HOSTPATH_SOURCE is not a folder (relative paths start at $repo_root)"
    exit 1
  }
  [[ "$(sed -n 's/^module[[:space:]]*//p' "$hostpath_dir/go.mod" 2>/dev/null)" == "$hostpath_module" ]] || {
    log "HOSTPATH_SOURCE=$hostpath_dir has no go.mod of module $hostpath_module"
    exit 1
  }
  hostpath_hash="$(tree_hash "$hostpath_dir")"
  hostpath_origin="source:$hostpath_hash"
  # No tag in a plain folder: the version says which release it is meant to be and which source.
  hostpath_stamp="$hostpath_version+source.$hostpath_hash"
else
  hostpath_dir=""
  hostpath_origin="module:$hostpath_module@$hostpath_version"
  hostpath_stamp="$hostpath_version"
fi

cache_root="${REAL_CLUSTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/csi-snapshotter-ts/real-cluster}"
key="$( (tree_hash "$modules_dir"; echo "hostpathplugin $hostpath_origin") | sha256sum | cut -c1-16)"
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
  # hostpathplugin first: where its module cannot be downloaded, the build fails before the long part.
  started=$SECONDS
  if [[ -z "$hostpath_dir" ]]; then
    # "go install module@version" refuses modules whose go.mod has replace directives, as this
    # one's has; building inside the downloaded module honours them like the project's own build.
    log "downloading $hostpath_module@$hostpath_version (set HOSTPATH_SOURCE to build from a folder instead)"
    download="$(cd "$key_dir" && go mod download -json "$hostpath_module@$hostpath_version" 2>&1)" || true
    hostpath_dir="$(printf '%s\n' "$download" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
    if [[ ! -d "$hostpath_dir" ]]; then
      printf '%s\n' "$download" >&2
      log "could not download $hostpath_module@$hostpath_version; set HOSTPATH_SOURCE to a folder with its source"
      exit 1
    fi
  fi
  log "building hostpathplugin from $hostpath_dir ($hostpath_origin)"
  # The folder may be read-only: the build writes only to the staging folder and the Go caches.
  go -C "$hostpath_dir" build -mod=readonly -trimpath -ldflags "-X main.version=$hostpath_stamp" -o "$staging/" ./cmd/hostpathplugin
  log "built hostpathplugin in $((SECONDS - started))s"
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

# The snapshot-controller of the groupsnapshot.storage.k8s.io/v1alpha1 era (v8.0-8.1 schema), from
# test/real-cluster/go-v1alpha1, in a folder of its own key: changing it rebuilds nothing else.
alpha_module_dir="$repo_root/test/real-cluster/go-v1alpha1"
alpha_bin_dir="$cache_root/v1alpha1-$(tree_hash "$alpha_module_dir")/bin"
if [[ -x "$alpha_bin_dir/snapshot-controller" ]]; then
  log "v1alpha1-era snapshot-controller up to date in $alpha_bin_dir"
else
  started=$SECONDS
  log "building the v1alpha1-era snapshot-controller of test/real-cluster/go-v1alpha1"
  rm -rf "$alpha_bin_dir.partial"
  mkdir -p "$alpha_bin_dir.partial"
  alpha_version="$(go -C "$alpha_module_dir" list -mod=readonly -m -f '{{.Version}}' github.com/kubernetes-csi/external-snapshotter/v8)"
  go -C "$alpha_module_dir" build -mod=readonly -trimpath -ldflags "-X main.version=$alpha_version" -o "$alpha_bin_dir.partial/" tool
  rm -rf "$alpha_bin_dir"
  mv "$alpha_bin_dir.partial" "$alpha_bin_dir"
  log "built the v1alpha1-era snapshot-controller in $((SECONDS - started))s"
fi
# Its CRDs: those of the client module that era's controller is built with.
alpha_client_dir="$(go -C "$alpha_module_dir" mod download -json github.com/kubernetes-csi/external-snapshotter/client/v8 |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
alpha_crd_dir="$alpha_client_dir/config/crd"
[[ -d "$alpha_crd_dir" ]] || { log "CRD folder not found: $alpha_crd_dir"; exit 1; }

printf '{"binDir":"%s","crdDir":"%s","snapshotterDir":"%s","key":"%s","hostpathOrigin":"%s","v1alpha1":{"snapshotController":"%s","crdDir":"%s"}}\n' \
  "$bin_dir" "$crd_dir" "$snapshotter_dir" "$key" "$hostpath_origin" "$alpha_bin_dir/snapshot-controller" "$alpha_crd_dir"
