#!/usr/bin/env bash
# Compiles every project source with clang's thread-safety analysis as an
# error (-Wthread-safety -Werror=thread-safety), with the flags the build
# uses (BUILD_DIR/compile_commands.json), syntax only. gcc builds ignore the
# GUARDED_BY/REQUIRES annotations (common/thread_annotations.h); this is
# where they are checked. Tests, benchmarks and third-party code are skipped.
#
#   tests/thread_safety_check.sh BUILD_DIR [SOURCE...]   (JOBS=N: N files at a time, default 2)
#   CLANGXX=clang++-14 ...                                (the clang to use)
# SOURCEs (paths from the source root, e.g. engine/engine.cc) check only those.
set -euo pipefail

build_dir="${1:?usage: $0 BUILD_DIR [SOURCE...]}"
shift
jobs="${JOBS:-2}"
clangxx="${CLANGXX:-clang++}"
src_dir="$(cd "$(dirname "$0")/.." && pwd)"
db="$build_dir/compile_commands.json"
[[ -f "$db" ]] || { echo "no $db (configure with CMAKE_EXPORT_COMPILE_COMMANDS)" >&2; exit 2; }
command -v "$clangxx" >/dev/null || { echo "no $clangxx" >&2; exit 2; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# One shell command per source, in $tmp/N.cmd; its file name in $tmp/N.src.
python3 - "$db" "$src_dir" "$clangxx" "$tmp" "$@" <<'EOF'
import json, os, shlex, sys
db, src, clangxx, tmp, *only = sys.argv[1:]
dirs = ("common scrape engine capture tokenizer monitor detectors rules alerts pipeline daemon cli").split()
# Flags gcc takes and clang rejects or warns about (gcc's own warnings, and
# code-generation options that mean nothing to -fsyntax-only).
gcc_only = {"-fno-gnu-unique", "-fconcepts", "-fno-semantic-interposition", "-fstack-clash-protection",
            "-Wlogical-op", "-Wduplicated-cond", "-Wduplicated-branches", "-Wuseless-cast",
            "-Wno-maybe-uninitialized", "-Wmaybe-uninitialized", "-Wno-stringop-overflow",
            "-Wno-stringop-overread", "-Wno-class-memaccess", "-Wno-psabi"}
n = 0
for e in sorted(json.load(open(db)), key=lambda e: e["file"]):
    f = os.path.realpath(os.path.join(e["directory"], e["file"]))
    rel = os.path.relpath(f, src)
    if not rel.endswith(".cc") or rel.split(os.sep)[0] not in dirs or (only and rel not in only):
        continue
    args = e["arguments"] if "arguments" in e else shlex.split(e["command"])
    out, skip = [clangxx], False
    for a in args[1:]:
        if skip:
            skip = False
        elif a == "-o":
            skip = True  # and its file
        elif a == "-c" or a in gcc_only or a.startswith("-fdiagnostics-color"):
            pass
        else:
            out.append(a)
    out += ["-fsyntax-only", "-Wthread-safety", "-Werror=thread-safety"]
    with open(f"{tmp}/{n}.cmd", "w") as fh:
        fh.write(f"cd {shlex.quote(e['directory'])} && {shlex.join(out)}\n")
    with open(f"{tmp}/{n}.src", "w") as fh:
        fh.write(rel)
    n += 1
print(f"thread-safety check: {n} sources, {os.environ.get('JOBS', '2')} at a time", flush=True)
EOF

start=$SECONDS
# Each file's output goes to N.log; a failure leaves N.failed.
ls "$tmp" | sed -n 's/\.cmd$//p' |
  xargs -P "$jobs" -I{} sh -c 'sh "$1/$2.cmd" > "$1/$2.log" 2>&1 || touch "$1/$2.failed"' _ "$tmp" {}

failed=0
for f in "$tmp"/*.failed; do
  [[ -e "$f" ]] || continue
  n="$(basename "$f" .failed)"
  echo "FAILED: $(cat "$tmp/$n.src")"
  grep -v '^$' "$tmp/$n.log" || true
  failed=$((failed + 1))
done
echo "thread-safety check: $failed failing, $((SECONDS - start)) s"
((failed == 0))
