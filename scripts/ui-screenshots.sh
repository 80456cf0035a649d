#!/usr/bin/env bash
# Regenerates docs/ui-healthy.png and docs/ui-firing.png: the dashboard's
# browser test (tests/ui_e2e_test.cc) saves them when VIGIL_UI_SCREENSHOTS
# names a folder. Needs chromium and chromium-driver (scripts/deps.sh --test).
#   scripts/ui-screenshots.sh [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
cmake --build "$build" --target ui_e2e_test vigild vigilctl -j "$(nproc)"
VIGIL_UI_SCREENSHOTS="$root/docs" "$build/tests/ui_e2e_test"
ls -l "$root"/docs/ui-healthy.png "$root"/docs/ui-firing.png
