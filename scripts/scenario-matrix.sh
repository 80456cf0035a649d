#!/usr/bin/env bash
# Runs every pathology scenario and prints the confusion matrix (scenario x
# pathology rule fired, with seconds to detect) as a Markdown table, the one
# in docs/scenarios.md.   scripts/scenario-matrix.sh [BUILD_DIR]
set -euo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp -d)
for f in "$root"/etc/scenarios/*.yaml; do
  name=$(basename "$f" .yaml)
  "$build/cli/vigilctl" scenario run "$name" --scenarios "$root/etc/scenarios" --rules "$root/etc/rules" \
    --vigild "$build/daemon/vigild" --json > "$out/$name.json" || true
done
python3 - "$out" <<'PY'
import glob, json, os, sys
runs = [json.load(open(p)) for p in sorted(glob.glob(os.path.join(sys.argv[1], "*.json")))]
rules = ["KVCacheThrashing", "PrefillStarvation", "GPUUnderutilization", "OrphanedKVBlocks", "KVBlocksLeaking",
         "MemoryClimbing", "RequestsStuck", "PrefixCacheMisses", "KVPressureDrivesLatency"]
print("| scenario | " + " | ".join(rules) + " | capture | verdict |")
print("|---" * (len(rules) + 3) + "|")
for r in runs:
    cells = []
    for rule in rules:
        f = r["fired"].get(rule)
        cells.append("—" if f is None else ("**%.0f s**" if rule in r["expected"] else "%.0f s") % f["seconds_to_detect"])
    print("| %s | %s | %s | %s |" % (r["scenario"], " | ".join(cells), "yes" if r["captures"] else "—",
                                     "pass" if r["pass"] else "FAIL: " + "; ".join(r["problems"])))
PY
rm -rf "$out"
