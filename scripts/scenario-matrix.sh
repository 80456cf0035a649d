#!/usr/bin/env bash
# Runs the pathology scenarios and prints, as Markdown (the tables in
# docs/scenarios.md): the confusion matrix (scenario x pathology rule fired,
# seconds to detect, the primary diagnosis) and, with --repeat N, each
# scenario's passes out of N and its time to detect (min/median/max).
#   scripts/scenario-matrix.sh [--repeat N] [--only a,b] [BUILD_DIR]
set -euo pipefail
repeat=1
only=""
build=build
while (($#)); do
  case "$1" in
    --repeat)
      [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [--repeat N] [--only a,b] [BUILD_DIR]" >&2; exit 2; }
      repeat=$2; shift 2 ;;
    --only)
      [[ -n "${2:-}" ]] || { echo "usage: $0 [--repeat N] [--only a,b] [BUILD_DIR]" >&2; exit 2; }
      only=$2; shift 2 ;;
    *) build=$1; shift ;;
  esac
done
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for f in "$root"/etc/scenarios/*.yaml; do
  name=$(basename "$f" .yaml)
  if [[ -n "$only" && ",$only," != *",$name,"* ]]; then continue; fi
  for ((i = 1; i <= repeat; i++)); do
    rc=0
    "$build/cli/vigilctl" scenario run "$name" --scenarios "$root/etc/scenarios" --rules "$root/etc/rules" \
      --vigild "$build/daemon/vigild" --json > "$out/$name.$i.json" 2> "$out/$name.$i.err" || rc=$?
    if ((rc != 0 && rc != 1)); then  # the run itself failed (load, daemon, a crash): keep its reason
      python3 -c 'import json,sys; print(json.dumps({"scenario": sys.argv[1], "pass": False, "expected": [], "fired": {}, "primary": {}, "captures": [], "problems": [("exit %s: " % sys.argv[3]) + open(sys.argv[2]).read().strip()[-2000:]]}))' \
        "$name" "$out/$name.$i.err" "$rc" > "$out/$name.$i.json"
    fi
    echo "$name run $i: $(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("pass" if r["pass"] else "FAIL: " + "; ".join(r["problems"]))' "$out/$name.$i.json")" >&2
  done
done
python3 - "$out" "$repeat" <<'PY'
import glob, json, os, statistics, sys
out, repeat = sys.argv[1], int(sys.argv[2])
runs = {}
for p in sorted(glob.glob(os.path.join(out, "*.json"))):
    r = json.load(open(p))
    runs.setdefault(r["scenario"], []).append(r)
rules = ["KVCacheThrashing", "PrefillStarvation", "GPUUnderutilization", "OrphanedKVBlocks", "KVBlocksLeaking",
         "MemoryClimbing", "RequestsStuck", "PrefixCacheMisses", "KVPressureDrivesLatency", "EngineStalled"]
def cell(r, rule):
    f = r["fired"].get(rule)
    if f is None: return "—"
    s = ("**%.0f s**" if rule in r["expected"] else "%.0f s") % f["seconds_to_detect"]
    return s + (" (inhibited)" if f.get("only_inhibited") else "")
def primary(r):
    p = sorted(r.get("primary", {}).items(), key=lambda kv: kv[1])
    return ", ".join("%s (%.0f s)" % kv for kv in p) or "—"
print("| scenario | " + " | ".join(rules) + " | primary diagnosis | capture | verdict |")
print("|---" * (len(rules) + 4) + "|")
for name, rs in runs.items():
    r = rs[-1]
    caps = ", ".join(sorted({c["rule"] for c in r["captures"]})) or "—"
    print("| %s | %s | %s | %s | %s |" % (name, " | ".join(cell(r, x) for x in rules), primary(r), caps,
                                          "pass" if r["pass"] else "FAIL: " + "; ".join(r["problems"])))
if repeat > 1:
    print()
    print("| scenario | passes | time to detect min / median / max | failures |")
    print("|---|---|---|---|")
    for name, rs in runs.items():
        times = []
        for r in rs:
            t = [r["fired"][e]["seconds_to_detect"] for e in r["expected"] if e in r["fired"]]
            if t and len(t) == len(r["expected"]): times.append(max(t))
        span = "%.1f / %.1f / %.1f s" % (min(times), statistics.median(times), max(times)) if times else "—"
        fails = "; ".join(sorted({p for r in rs for p in r["problems"]})) or "—"
        print("| %s | %d/%d | %s | %s |" % (name, sum(r["pass"] for r in rs), len(rs), span, fails))
PY
