#!/usr/bin/env bash
# Builds (once) and caches a bootable Debian 12 tree for the system test:
# debootstrap --variant=minbase with systemd, then, given a .deb, the
# packages its Depends and Recommends name, so that `apt-get install ./vigil_*.deb` inside
# the booted container needs no network. The cache lives outside the clone
# (CI runs in fresh clones on the same machine): VIGIL_SYSTEST_CACHE,
# default /var/cache/vigil-systest. The mirror is read from the host's apt
# sources at run time.
#
# usage: debian_tree.sh [DEB]    prints the tree's path on success
# exit 0 ok, 77 cannot (no debootstrap, no mirror and no cache), else failure.
set -euo pipefail

CACHE=${VIGIL_SYSTEST_CACHE:-/var/cache/vigil-systest}
TREE=$CACHE/bookworm
DEB=${1:-}
mkdir -p "$CACHE"
exec 9>"$CACHE/lock"
flock 9   # concurrent CI runs share the cache

log() { echo "debian_tree: $*" >&2; }

mirror() {
  local f=/etc/apt/sources.list.d/debian.sources
  if [[ -r $f ]]; then
    awk '/^URIs:/ {print $2; exit}' "$f"
  elif [[ -r /etc/apt/sources.list ]]; then
    awk '$1 == "deb" && $0 !~ /security/ {print $2; exit}' /etc/apt/sources.list
  fi
}

if [[ ! -e $TREE/.complete ]]; then
  command -v debootstrap >/dev/null || { log "SKIP: debootstrap is not installed (scripts/deps.sh --test)"; exit 77; }
  m=$(mirror)
  [[ -n $m ]] || { log "SKIP: no Debian mirror in /etc/apt/sources.list.d/debian.sources"; exit 77; }
  rm -rf "$TREE" "$TREE.new"
  log "debootstrap bookworm from $m (once; cached in $TREE)"
  if ! debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,curl,ca-certificates \
      bookworm "$TREE.new" "$m" >"$CACHE/debootstrap.log" 2>&1; then
    tail -5 "$CACHE/debootstrap.log" >&2
    log "SKIP: debootstrap failed (mirror unreachable?); log in $CACHE/debootstrap.log"
    rm -rf "$TREE.new"
    exit 77
  fi
  # The same sources as the host (bookworm-updates, security) for the dependencies.
  rm -f "$TREE.new/etc/apt/sources.list"
  cp /etc/apt/sources.list.d/debian.sources "$TREE.new/etc/apt/sources.list.d/" 2>/dev/null || true
  # A machine-id is made at each boot; an empty file keeps the tree "not first boot".
  : >"$TREE.new/etc/machine-id"
  mv "$TREE.new" "$TREE"
  touch "$TREE/.complete"
fi

if [[ -n $DEB ]]; then
  # The package's dependencies and recommendations (first alternative of each, versions as the
  # mirror has them), installed into the cached tree when any is missing.
  # A stamp of the last Depends/Recommends installed: virtual names
  # (libspdlog1.10-fmt9) are not in dpkg's status, so it, not dpkg-query, says "done".
  want=$(dpkg-deb -f "$DEB" Depends Recommends)
  if [[ -e $TREE/.deps && $(cat "$TREE/.deps") == "$want" ]]; then echo "$TREE"; exit 0; fi
  mapfile -t deps < <(dpkg-deb -f "$DEB" Depends Recommends | sed 's/^[A-Za-z]*: //' | tr ',\n' '\n\n' | sed -e 's/|.*//' -e 's/(.*)//' -e 's/[[:space:]]//g' | grep -v '^$')
  missing=()
  for p in "${deps[@]}"; do
    dpkg-query --admindir="$TREE/var/lib/dpkg" -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    log "installing into the cached tree: ${missing[*]}"
    if ! systemd-nspawn -q --register=no --keep-unit -D "$TREE" /bin/sh -c \
        "export DEBIAN_FRONTEND=noninteractive; apt-get update -q && apt-get install -y -q --no-install-recommends ${missing[*]} && apt-get clean" \
        >"$CACHE/deps.log" 2>&1; then
      tail -5 "$CACHE/deps.log" >&2
      log "SKIP: could not install the package's dependencies into the tree; log in $CACHE/deps.log"
      exit 77
    fi
  fi
  printf '%s' "$want" >"$TREE/.deps"
fi
echo "$TREE"
