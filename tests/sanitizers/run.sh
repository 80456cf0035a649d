#!/usr/bin/env bash
# Sanitizer build and test run (tests/sanitizers/README.md):
#   tests/sanitizers/run.sh asan|tsan BUILD_DIR [extra ctest args...]
# Configures BUILD_DIR with -DVIGIL_SANITIZE=..., builds, runs ctest on the
# unit and e2e labels (SAN_LABELS) with the sanitizers' options and this
# folder's suppressions, then fails if any process (a test, or a vigild a
# test started and killed) wrote a report: reports go to files under
# BUILD_DIR/sanitizer-logs, which are printed at the end.
set -euo pipefail
kind=${1:?asan or tsan}
build=${2:?build dir}
shift 2
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
jobs=${JOBS:-$(nproc)}
labels=${SAN_LABELS:-unit|e2e}

case "$kind" in
  asan) sanitize=address,undefined ;;
  tsan) sanitize=thread ;;
  *) echo "run.sh: asan or tsan, not '$kind'" >&2; exit 2 ;;
esac

mkdir -p "$build"
build=$(cd "$build" && pwd)
logs=$build/sanitizer-logs
rm -rf "$logs"
mkdir -p "$logs"

# Reports go to LOG.<pid> files (a vigild's stderr is a test's temp file, gone
# with it). Only reports create these files (print_suppressions=0).
common="log_path=$logs/$kind:strip_path_prefix=$root/:print_suppressions=0"
export UBSAN_OPTIONS="$common:halt_on_error=1:print_stacktrace=1:suppressions=$here/ubsan.supp"
export ASAN_OPTIONS="$common:halt_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1"
export LSAN_OPTIONS="$common:suppressions=$here/lsan.supp"
export TSAN_OPTIONS="$common:halt_on_error=0:second_deadlock_stack=1:ignore_noninstrumented_modules=1:suppressions=$here/tsan.supp"

start=$(date +%s)
# -O1: sanitizer builds are about finding bugs, and compile faster than -O2.
# -g1 (line tables): reports keep function, file and line; full -g made each
# compile a third slower and the objects 4 times bigger.
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
  -DVIGIL_SANITIZE=$sanitize -DVIGIL_BUILD_BENCH=OFF
# The build runs the test binaries (gtest_discover_tests) with the options above.
cmake --build "$build" -j "$jobs"
built=$(date +%s)
echo "== $kind: built in $(( (built - start) / 60 )) min $(( (built - start) % 60 )) s"

rc=0
(cd "$build" && ctest --output-on-failure -j "$jobs" -L "$labels" "$@") || rc=$?
done_=$(date +%s)
echo "== $kind: ctest -L '$labels' in $(( (done_ - built) / 60 )) min $(( (done_ - built) % 60 )) s (rc $rc)"

reports=$(find "$logs" -type f -size +0 | sort)
if [[ -n "$reports" ]]; then
  echo "== $kind: $(echo "$reports" | wc -l) process(es) wrote sanitizer reports:"
  for f in $reports; do
    echo "---- $f"
    cat "$f"
  done
  exit 1
fi
echo "== $kind: no sanitizer reports"
exit $rc
