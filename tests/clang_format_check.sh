#!/usr/bin/env bash
# Fails when a tracked C++ file differs from what clang-format makes of it
# with the root .clang-format, and names the files. Fix with:
#   git ls-files '*.cc' '*.h' | xargs clang-format -i
#   tests/clang_format_check.sh [CLANG_FORMAT]
set -euo pipefail
cf="${1:-clang-format}"
src_dir="$(cd "$(dirname "$0")/.." && pwd)"
cd "$src_dir"
command -v "$cf" >/dev/null || { echo "no $cf" >&2; exit 2; }
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files '*.cc' '*.h')
else  # an exported tree: every C++ file but build folders'
  mapfile -t files < <(find . -path './build*' -prune -o \( -name '*.cc' -o -name '*.h' \) -print | sed 's|^\./||' | sort)
fi
# One process for all files; --dry-run names each offending file:line:col.
out="$("$cf" --style=file --dry-run "${files[@]}" 2>&1 || true)"
mapfile -t bad < <(grep -oE '^[^:]+:[0-9]+:[0-9]+: (warning|error)' <<<"$out" | cut -d: -f1 | sort -u)
if ((${#bad[@]})); then
  echo "${#bad[@]} of ${#files[@]} files are not clang-formatted (run: clang-format -i FILE):" >&2
  printf '  %s\n' "${bad[@]}" >&2
  exit 1
fi
echo "all ${#files[@]} C++ files are clang-formatted"
