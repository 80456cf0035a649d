#!/usr/bin/env bash
# `make deb`: packages an already built tree as vigil_<version>_amd64.deb with
# debhelper (packaging/debian/rules), without compiling again.
# usage: packaging/build-deb.sh [BUILD_DIR]   (default: build)
# Prints the .deb's path last. Needs debhelper and help2man (scripts/deps.sh --deb).
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BLD=$(cd "${1:-$SRC/build}" && pwd)
for b in daemon/vigild cli/vigilctl; do
  [[ -x $BLD/$b ]] || { echo "build-deb: $BLD/$b is not built (make build, or cmake --build $BLD --target vigild vigilctl)" >&2; exit 1; }
done

VERSION=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$BLD/CMakeCache.txt")
[[ -n $VERSION ]] || { echo "build-deb: no CMAKE_PROJECT_VERSION in $BLD/CMakeCache.txt" >&2; exit 1; }

OUT=$BLD/deb
STAGE=$OUT/src
rm -rf "$STAGE" "$OUT"/vigil_*
mkdir -p "$STAGE"
cp -r "$SRC/packaging/debian" "$STAGE/debian"

# The changelog carries the version, from the CMake project so it cannot
# drift, dated by the commit for a reproducible build.
commit=$(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo unknown)
when=$(git -C "$SRC" log -1 --format=%cD 2>/dev/null || date -R)
maint=$(sed -n 's/^Maintainer: //p' "$STAGE/debian/control")
cat >"$STAGE/debian/changelog" <<CHANGELOG
vigil ($VERSION) unstable; urgency=medium

  * Built from the Vigil source tree at commit $commit.

 -- $maint  $when
CHANGELOG

cd "$STAGE"
export VIGIL_SRC="$SRC" VIGIL_BUILD="$BLD"
# -b: binary package only; -uc -us: unsigned; -j1: debhelper's steps are cheap.
if ! dpkg-buildpackage -b -uc -us >"$OUT/build.log" 2>&1; then
  tail -30 "$OUT/build.log" >&2
  echo "build-deb: dpkg-buildpackage failed; log in $OUT/build.log" >&2
  exit 1
fi
deb=$(ls "$OUT"/vigil_"$VERSION"_*.deb)
echo "$deb"
