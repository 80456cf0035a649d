#!/usr/bin/env bash
# Man pages from the binaries' own --help (help2man): vigild(8) and
# vigilctl(1), the latter with every subcommand's --help.
# usage: packaging/manpages.sh BUILD_DIR OUT_DIR
set -euo pipefail
BLD=$1
OUT=$2
mkdir -p "$OUT"
version=$("$BLD/daemon/vigild" --version | awk '{print $2}')
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(date +%s)}

inc=$(mktemp)
trap 'rm -f "$inc"' EXIT
cat >"$inc" <<'INC'
[FILES]
.TP
.I /etc/vigil/vigil.yaml
vigild.service's configuration (docs: /usr/share/doc/vigil/configuration.md).
.TP
.I /etc/vigil/watch.yaml
vigil\-watch.service's: a sidecar that hosts no engine.
.TP
.I /etc/vigil/rules/
the rule pack.
.TP
.I /var/lib/vigil/
state: the alert outbox and silences (alerts.db) and captures.
[SIGNALS]
SIGHUP re-reads the configuration and the rule files; a configuration that
does not load is refused and the running one kept. SIGTERM and SIGINT stop
gracefully (in-flight requests get server.shutdown_grace).
[SEE ALSO]
.BR vigilctl (1),
.BR systemctl (1),
/usr/share/doc/vigil/install.md
INC
help2man --no-info --section=8 --version-string="$version" \
  --name="LLM inference with a built-in production monitor" \
  --include="$inc" "$BLD/daemon/vigild" >"$OUT/vigild.8"

# vigilctl: the top-level help, then each subcommand's.
{
  echo "[SUBCOMMANDS]"
  for sub in $("$BLD/cli/vigilctl" --help | awk '/^Subcommands:/ {on=1; next} on && /^  [a-z]/ {print $1} on && /^[^ ]/ {on=0}'); do
    echo ".SS \"vigilctl $sub\""
    echo ".nf"
    "$BLD/cli/vigilctl" "$sub" --help 2>&1 | sed -e 's/\\/\\e/g' -e 's/^\([.'"'"']\)/\\\&\1/'
    echo ".fi"
  done
  echo "[SEE ALSO]"
  echo ".BR vigild (8)"
} >"$inc"
help2man --no-info --section=1 --version-string="$version" \
  --name="command-line client and offline tools for Vigil" \
  --include="$inc" "$BLD/cli/vigilctl" >"$OUT/vigilctl.1"
