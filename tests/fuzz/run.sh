#!/usr/bin/env bash
# Runs each fuzz target in turn for FUZZ_SECONDS (or FUZZ_RUNS executions),
# one process at a time. New corpus entries go to a temp dir (the repo's
# seeds are read only); crash, leak, timeout and OOM inputs go there too.
# Exits non-zero if any target failed.
# Usage: tests/fuzz/run.sh BUILD_DIR [target ...]   (default: every target)
set -uo pipefail

build=${1:?usage: run.sh BUILD_DIR [target ...]}
shift
here=$(cd "$(dirname "$0")" && pwd)
targets=("$@")
if ((${#targets[@]} == 0)); then
  targets=(safetensors tokenizer_load tokenizer_encode config rules expr openai trace exposition silences)
fi
seconds=${FUZZ_SECONDS:-60}
work=${FUZZ_WORK_DIR:-$(mktemp -d /tmp/vigil-fuzz.XXXXXX)}

dict_for() {
  case $1 in
    exposition | expr) echo "$here/$1.dict" ;;
    config | rules) echo "$here/yaml.dict" ;;
    safetensors | tokenizer_load | openai | trace | silences) echo "$here/json.dict" ;;
  esac
}

failed=()
for t in "${targets[@]}"; do
  bin="$build/tests/fuzz/${t}_fuzz"
  [[ -x $bin ]] || { echo "fuzz: $bin missing (cmake --build $build --target fuzz_targets)"; failed+=("$t"); continue; }
  mkdir -p "$work/$t/corpus" "$work/$t/artifacts"
  # max_len fixed: a big crash seed in the corpus must not raise it for every run.
  args=(-timeout=10 -rss_limit_mb=2048 -max_len=8192 -max_total_time="$seconds" -print_final_stats=1
        -artifact_prefix="$work/$t/artifacts/")
  [[ -n ${FUZZ_RUNS:-} ]] && args+=(-runs="$FUZZ_RUNS")
  d=$(dict_for "$t")
  [[ -n $d ]] && args+=(-dict="$d")
  echo "== $t (log: $work/$t/log)"
  "$bin" "${args[@]}" "$work/$t/corpus" "$here/corpus/$t" >"$work/$t/log" 2>&1
  rc=$?
  grep -E '^Done|stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb' "$work/$t/log" | tr '\n' ' '
  echo "corpus: $(ls "$here/corpus/$t" "$work/$t/corpus" | grep -vc ':$') files"
  if ((rc != 0)); then
    echo "fuzz: $t FAILED (exit $rc); inputs in $work/$t/artifacts/:"
    ls "$work/$t/artifacts/"
    grep -E 'ERROR|SUMMARY|runtime error' "$work/$t/log" | head -5
    failed+=("$t")
  fi
done
echo "fuzz: corpora and logs in $work"
if ((${#failed[@]} > 0)); then
  echo "fuzz: FAILED: ${failed[*]}"
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets clean"
