#!/usr/bin/env bash
# System test (ctest label `system`, issue 30): the .deb under a real systemd.
# A cached Debian 12 tree (debian_tree.sh) is booted with systemd-nspawn on a
# throwaway overlay, the package is installed with `apt-get install
# ./vigil_*.deb`, and the checks run, each reported PASS or FAIL:
#   0 units     systemd-analyze security <= 2.0 for both; Documentation= installed
#   1 ready     start reaches active only after READY=1; /ready answers at once
#   2 watchdog  a stalled engine stops the pings; systemd restarts it
#   3 reload    a changed rule file is applied; a broken config fails reload
#   4 watch     vigil-watch sees TargetDown when vigild stops
#   5 state     silences, captures and the outbox survive a restart
#   6 upgrade   a newer version: changed conffiles kept, state kept, units restarted
#   7 purge     remove stops the units; purge leaves only the user's own files
# usage: systemd_test.sh DEB_DIR     (exit 0 pass, 1 fail, 77 skipped + why)
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
DEB_DIR=$(cd "${1:?usage: systemd_test.sh DEB_DIR}" && pwd)
LOGS=$DEB_DIR/system-test
T0=$(date +%s.%N)
skip() { echo "SKIP: $*"; exit 77; }
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}'; }
say() { printf '[%6ss] %s\n' "$(since "$T0")" "$*"; }

# --- What the machine must allow ------------------------------------------
[[ $(id -u) == 0 ]] || skip "needs root (systemd-nspawn and an overlay mount)"
for c in systemd-nspawn nsenter debootstrap python3; do
  command -v "$c" >/dev/null || skip "$c is not installed (scripts/deps.sh --test installs systemd-container, debootstrap)"
done
DEB=$(ls "$DEB_DIR"/vigil_*_amd64.deb 2>/dev/null | head -1)
[[ -n $DEB ]] || { echo "FAIL: no vigil_*_amd64.deb in $DEB_DIR (packaging/build-deb.sh)"; exit 1; }

TREE=$("$HERE/debian_tree.sh" "$DEB")
rc=$?
((rc == 77)) && skip "no Debian 12 tree (see debian_tree.sh's message above)"
((rc == 0)) || { echo "FAIL: debian_tree.sh exited $rc"; exit 1; }
say "tree $TREE"
CACHE=$(dirname "$TREE")
exec 8>"$CACHE/lock"
flock -s 8   # the tree is the overlay's lower layer: nobody updates it meanwhile

RUN=$(mktemp -d /var/tmp/vigil-systest.XXXXXX)
mkdir -p "$RUN"/{upper,work,root,pkg} "$LOGS"
rm -f "$LOGS"/*
cp "$DEB" "$RUN/pkg/"
NSPAWN=
cleanup() {
  if [[ -n ${INIT:-} ]]; then
    nsenter -t "$INIT" -a journalctl -b --no-pager >"$LOGS/journal.txt" 2>&1
    # A throwaway container: killing its PID 1 ends every process in it at
    # once (a clean poweroff took ~20 s), and nspawn exits.
    kill -KILL "$INIT" 2>/dev/null
  fi
  if [[ -n $NSPAWN ]]; then
    for _ in $(seq 50); do kill -0 "$NSPAWN" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$NSPAWN" 2>/dev/null
    wait "$NSPAWN" 2>/dev/null
  fi
  umount "$RUN/root" 2>/dev/null || umount -l "$RUN/root" 2>/dev/null
  rm -rf "$RUN"
}
trap cleanup EXIT
trap 'exit 1' TERM INT   # ctest's timeout, Ctrl-C: still power off and unmount
mount -t overlay overlay -o "lowerdir=$TREE,upperdir=$RUN/upper,workdir=$RUN/work" "$RUN/root" ||
  skip "the kernel refused an overlay mount over $TREE"
ROOT=$RUN/root

# --private-network: the container has its own loopback, so its ports cannot
# collide with the host's or another run's. --keep-unit --register=no: there is
# no systemd on the host (docs: tests/system/README.md).
systemd-nspawn -q --register=no --keep-unit --private-network -D "$ROOT" --bind-ro="$RUN/pkg:/pkg" \
  /bin/sh -c 'exec /lib/systemd/systemd' >"$LOGS/console.txt" 2>&1 &
NSPAWN=$!
# The container's init: nspawn's `systemd` child (or grandchild, as nspawn
# versions differ in how many processes they fork).
find_init() {
  local c
  { pgrep -x -P "$NSPAWN" systemd; for c in $(pgrep -P "$NSPAWN"); do pgrep -x -P "$c" systemd; done; } | head -1
}
cx() { nsenter -t "$INIT" -a "$@"; }
INIT= state=
for _ in $(seq 240); do
  INIT=$(find_init)
  if [[ -n $INIT ]]; then
    state=$(cx systemctl is-system-running 2>/dev/null)
    [[ $state == running || $state == degraded ]] && break
  fi
  kill -0 "$NSPAWN" 2>/dev/null || break
  sleep 0.25
done
if [[ $state != running && $state != degraded ]]; then
  tail -5 "$LOGS/console.txt"
  INIT=
  skip "the container's systemd did not boot with systemd-nspawn here (state: ${state:-none}; console: $LOGS/console.txt)"
fi
say "booted: $state"

# --- Helpers ----------------------------------------------------------------
declare -A RESULT
FAILED=0
pass() { RESULT[$1]="PASS: $2"; say "PASS $1: $2"; }
fail() { RESULT[$1]="FAIL: $2"; FAILED=1; say "FAIL $1: $2"; }
prop() { cx systemctl show -p "$2" --value "$1"; }
# http URL [curl args...]: the body; the status code in $CODE.
http() {
  local url=$1; shift
  local out
  out=$(cx curl -s -m 5 -w '\n%{http_code}' "$@" "$url")
  CODE=${out##*$'\n'}
  BODY=${out%$'\n'*}
  [[ $CODE == 200 || $CODE == 202 ]]
}
TOKEN=systest-admin-token
admin() { http "$@" -H "Authorization: Bearer $TOKEN"; }
# wait_for SECONDS CMD...: true once CMD succeeds.
wait_for() {
  local end=$(($(date +%s) + $1)); shift
  while (($(date +%s) < end)); do "$@" && return 0; sleep 0.25; done
  return 1
}
py() { python3 -c "$1"; }
V=http://127.0.0.1:8000
W=http://127.0.0.1:9400

# --- Install ------------------------------------------------------------------
before=$RUN/files.before
(cd "$ROOT" && find . -xdev -not -type d | sort) >"$before"
if ! cx sh -c 'cd /pkg && DEBIAN_FRONTEND=noninteractive apt-get install -y -q ./vigil_*.deb' >"$LOGS/install.txt" 2>&1; then
  tail -20 "$LOGS/install.txt"
  echo "FAIL: apt-get install ./vigil_*.deb failed (log: $LOGS/install.txt)"
  exit 1
fi
say "installed $(basename "$DEB"); vigild $(prop vigild ActiveState), vigil-watch $(prop vigil-watch UnitFileState)"
cx dpkg -L vigil >"$LOGS/files.txt"
cx cat /var/lib/dpkg/info/vigil.conffiles >"$RUN/conffiles"

# --- 0 units: hardening and documentation, as installed ------------------------
scores=
units_ok=1
for u in vigild vigil-watch; do
  sc=$(cx systemd-analyze security --no-pager "$u.service" 2>/dev/null | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p')
  scores+="$u ${sc:-?} "
  awk -v x="${sc:-99}" 'BEGIN {exit !(x <= 2.0)}' || units_ok=0
  for d in $(prop "$u" Documentation | tr -d '"'); do
    case $d in
      man:*) page=${d#man:}; name=${page%(*}; sect=${page#*(}; sect=${sect%)}
             [[ -e $ROOT/usr/share/man/man$sect/$name.$sect.gz ]] || { units_ok=0; scores+="missing $d "; } ;;
      file://*) [[ -e $ROOT${d#file://} ]] || { units_ok=0; scores+="missing $d "; } ;;
      *) units_ok=0; scores+="not installed: $d " ;;
    esac
  done
done
if ((units_ok)); then
  pass units "systemd-analyze security: ${scores}(<= 2.0); every Documentation= target is installed"
else
  fail units "systemd-analyze security / Documentation=: $scores"
fi

# vigilctl runs the engine through /usr/lib/vigil/vigilctl-engine, found
# from its own path: the installed layout must hold it.
if gen=$(cx vigilctl generate --prompt-ids 1,2,3 --max-tokens 2 2>&1) && grep -q '"output_ids"' <<<"$gen"; then
  pass cli "vigilctl generate ran the built-in model through /usr/lib/vigil/vigilctl-engine"
else
  fail cli "vigilctl generate: $(head -c 300 <<<"$gen")"
fi

# The operator's configuration: an admin token, notifications to a webhook
# that refuses connections (so they wait in the outbox), and a 1 s group_wait.
echo "$TOKEN" >"$ROOT/etc/vigil/admin_token"
chmod 0644 "$ROOT/etc/vigil/admin_token"
cp "$ROOT/etc/vigil/vigil.yaml" "$RUN/vigil.yaml.orig"
sed -i -e 's|^  # admin_token_file: /etc/vigil/admin_token|  admin_token_file: /etc/vigil/admin_token|' \
  -e 's|^  group_wait: 10s|  group_wait: 1s|' \
  -e 's|^  default_receiver: log|  default_receiver: deadhook\n  receivers:\n    - {name: deadhook, type: webhook, url: "http://127.0.0.1:9/hook"}|' \
  "$ROOT/etc/vigil/vigil.yaml"
cp "$ROOT/etc/vigil/vigil.yaml" "$RUN/vigil.yaml.user"
cx systemctl stop vigild

# --- 1 ready --------------------------------------------------------------------
# Sampling ActiveState then /ready: "active" followed by a failed /ready would
# mean systemd called it started before vigild served.
sample_log=$RUN/samples
cx sh -c 'while :; do s=$(systemctl show -p ActiveState --value vigild); r=$(curl -s -o /dev/null -m 1 -w %{http_code} http://127.0.0.1:8000/ready); echo "$s $r"; sleep 0.05; done' >"$sample_log" 2>/dev/null &
SAMPLER=$!
t1=$(date +%s.%N)
cx systemctl start vigild
start_rc=$?
t2=$(date +%s.%N)
http $V/ready
ready_code=$CODE
# The dashboard and the tokenizer come from /usr/share/vigil (found beside
# the binary): the page answers and /tokenize works.
http $V/; ui_code=$CODE
http $V/tokenize -X POST -d '{"prompt":"Hello world"}'; tok_code=$CODE
kill "$SAMPLER" 2>/dev/null; wait "$SAMPLER" 2>/dev/null
bad=$(grep -c '^active [^2]' "$sample_log")
seen=$(cut -d' ' -f1 "$sample_log" | uniq | tr '\n' ' ')
t_start=$(prop vigild ExecMainStartTimestampMonotonic); t_active=$(prop vigild ActiveEnterTimestampMonotonic)
if ((start_rc == 0)) && [[ $ready_code == 200 && $(prop vigild SubState) == running && $bad == 0 ]] &&
   [[ $ui_code == 200 && $tok_code == 200 ]] &&
   ((t_active > t_start)); then
  pass ready "systemctl start took $(awk -v a="$t1" -v b="$t2" 'BEGIN {printf "%.2f", b - a}')s; states seen: $seen; /ready 200 at once; active $(( (t_active - t_start) / 1000 )) ms after ExecStart; dashboard / and /tokenize 200"
else
  fail ready "start rc=$start_rc, /ready $ready_code, / $ui_code, /tokenize $tok_code, SubState $(prop vigild SubState), samples active-but-not-ready: $bad, states: $seen"
fi

# --- 2 watchdog -------------------------------------------------------------------
mkdir -p "$ROOT/etc/systemd/system/vigild.service.d"
printf '[Service]\nWatchdogSec=6s\nRestartSec=1s\n' >"$ROOT/etc/systemd/system/vigild.service.d/50-systest.conf"
sed -e 's|^  state_dir: /var/lib/vigil|  state_dir: /var/lib/vigil\n  engine_stall_timeout: 2s|' \
  -e 's|^  enable_prefix_caching: true|  enable_prefix_caching: true\n  faults:\n    stall_step: 20s|' \
  "$RUN/vigil.yaml.user" >"$ROOT/etc/vigil/vigil.yaml"
cx systemctl daemon-reload
n0=$(prop vigild NRestarts)
cursor=$(cx journalctl -n0 --show-cursor --no-pager | sed -n 's/^-- cursor: //p')
cx systemctl restart vigild
stuck_status=
restarted() {
  local st; st=$(prop vigild StatusText)
  [[ $st == *"engine loop stuck"* ]] && stuck_status=$st
  (($(prop vigild NRestarts) > n0))
}
if wait_for 60 restarted; then
  jr=$(cx journalctl -u vigild --after-cursor="$cursor" --no-pager)
  if grep -q "Watchdog timeout" <<<"$jr" && grep -q "engine.faults.stall_step" <<<"$jr"; then
    pass watchdog "NRestarts $n0 -> $(prop vigild NRestarts); journal: \"$(grep -m1 -o 'Watchdog timeout[^!]*' <<<"$jr")\"; STATUS before: \"${stuck_status:-not sampled}\""
  else
    fail watchdog "restarted, but the journal lacks the watchdog timeout or the stall"
  fi
else
  fail watchdog "NRestarts stayed $n0 for 60 s (state $(prop vigild ActiveState))"
fi
rm -rf "$ROOT/etc/systemd/system/vigild.service.d"
cp "$RUN/vigil.yaml.user" "$ROOT/etc/vigil/vigil.yaml"
cx systemctl daemon-reload
cx systemctl restart vigild
wait_for 30 http $V/ready || say "vigild not ready again after the watchdog check"

# --- 3 reload -----------------------------------------------------------------------
cat >>"$ROOT/etc/vigil/rules/classic.yaml" <<'RULE'
      - alert: SysTestReloaded
        expr: requests_running >= 0
        labels: {severity: warning}
        annotations:
          summary: "system test: the changed rule file was applied"
RULE
pid0=$(prop vigild MainPID)
cx systemctl reload vigild
r1=$?
http $V/api/v1/rules
if ((r1 == 0)) && grep -q SysTestReloaded <<<"$BODY" && [[ $(prop vigild MainPID) == "$pid0" ]]; then
  printf 'server:\n  port: [not a port\n' >"$ROOT/etc/vigil/vigil.yaml"
  cx systemctl reload vigild 2>"$RUN/reload.err"
  r2=$?
  http $V/ready; ready=$CODE
  http $V/api/v1/rules; rules=$BODY
  if ((r2 != 0)) && [[ $ready == 200 && $(prop vigild ActiveState) == active && $(prop vigild MainPID) == "$pid0" ]] &&
     grep -q SysTestReloaded <<<"$rules"; then
    pass reload "changed classic.yaml: SysTestReloaded in /api/v1/rules (same PID); broken vigil.yaml: reload exited $r2, still active, /ready 200, rules kept"
  else
    fail reload "broken config: reload rc=$r2 (want non-zero), /ready $ready, $(prop vigild ActiveState)"
  fi
else
  fail reload "changed rule file: reload rc=$r1, SysTestReloaded in /api/v1/rules: $(grep -c SysTestReloaded <<<"$BODY")"
fi
cp "$RUN/vigil.yaml.user" "$ROOT/etc/vigil/vigil.yaml"

# --- 4 watch ------------------------------------------------------------------------
cx systemctl start vigil-watch
target_up() { http $W/api/v1/targets && py 'import json,sys; t=json.load(sys.stdin)["data"]; sys.exit(0 if t and t[0]["up"] is True else 1)' <<<"$BODY"; }
target_down_firing() { http $W/api/v1/alerts && py 'import json,sys; a=json.load(sys.stdin)["data"]["alerts"]; sys.exit(0 if any("TargetDown" in json.dumps(x.get("labels",{})) and x.get("state")=="firing" for x in a) else 1)' <<<"$BODY"; }
if [[ $(prop vigil-watch ActiveState) == active ]] && wait_for 30 target_up; then
  # cgroup v1 hosts give no MemoryCurrent; the sidecar's RSS shows what MemoryMax must hold.
  rss=$(cx sh -c "awk '/^VmRSS/ {print int(\$2 / 1024)}' /proc/$(prop vigil-watch MainPID)/status")
  mem="RSS ${rss:-?} MiB, MemoryCurrent $(prop vigil-watch MemoryCurrent), MemoryMax $(prop vigil-watch MemoryMax)"
  cx systemctl stop vigild
  t_stop=$(date +%s)
  if wait_for 90 target_down_firing; then
    pass watch "target 127.0.0.1:8000 up, then TargetDown firing $(($(date +%s) - t_stop)) s after vigild stopped (rule for: 30s); vigil-watch: $mem"
  else
    fail watch "no firing TargetDown on vigil-watch 90 s after vigild stopped: $(head -c 300 <<<"$BODY")"
  fi
  cx systemctl start vigild
else
  fail watch "vigil-watch $(prop vigil-watch ActiveState), target never up: $(head -c 300 <<<"$BODY")"
fi

# --- 5 state --------------------------------------------------------------------------
wait_for 30 http $V/ready
ends=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)
admin $V/api/v1/silences -X POST -d "{\"matchers\":[{\"name\":\"alertname\",\"value\":\"SysTestSilenced\",\"isRegex\":false}],\"endsAt\":\"$ends\",\"createdBy\":\"systest\",\"comment\":\"survives restart\"}"
sil=$(py 'import json,sys; print(json.load(sys.stdin)["silenceID"])' <<<"$BODY" 2>/dev/null)
admin $V/api/v1/captures -X POST -d '{"duration":"1s","reason":"systest"}'
cap=$(py 'import json,sys; print(json.load(sys.stdin)["id"])' <<<"$BODY" 2>/dev/null)
capture_done() { admin $V/api/v1/captures && grep -q '"complete"' <<<"$BODY"; }
pending_key() { admin "$V/api/v1/notifications?state=pending" && py 'import json,sys; n=json.load(sys.stdin)["data"]; k=[x["idempotencyKey"] for x in n if "SysTestReloaded" in json.dumps(x)]; print(k[0]) if k else sys.exit(1)' <<<"$BODY"; }
wait_for 30 capture_done
key=$(wait_for 30 pending_key >/dev/null && pending_key)
if [[ -n $sil && -n $cap && -n $key ]]; then
  cx systemctl restart vigild
  wait_for 30 http $V/ready
  admin $V/api/v1/silences; s_ok=$(grep -c "$sil" <<<"$BODY")
  admin $V/api/v1/captures; c_ok=$(grep -c "$cap" <<<"$BODY")
  admin "$V/api/v1/notifications?state=pending"; n_ok=$(grep -c "$key" <<<"$BODY")
  files=$(cx ls /var/lib/private/vigil /var/lib/private/vigil/captures 2>&1 | tr '\n' ' ')
  if ((s_ok > 0 && c_ok > 0 && n_ok > 0)) && [[ -L $ROOT/var/lib/vigil ]]; then
    pass state "after systemctl restart: silence $sil, capture $cap, pending notification $key all still there; StateDirectory: $files"
  else
    fail state "after restart: silence $s_ok, capture $c_ok, outbox $n_ok; $files"
  fi
else
  fail state "could not set up: silence '${sil}', capture '${cap}', pending notification '${key}': $(head -c 300 <<<"$BODY")"
fi

# --- 6 upgrade --------------------------------------------------------------------------
# The same package as version +systest1 with new defaults in two conffiles:
# vigil.yaml, which the user changed (kept, the new one beside it as
# .dpkg-dist), and rules/inhibit.yaml, which they did not (replaced).
up=$RUN/upgrade
dpkg-deb -R "$DEB" "$up"
sed -i 's/^Version: .*/&+systest1/' "$up/DEBIAN/control"
echo "# new default (systest upgrade)" >>"$up/etc/vigil/vigil.yaml"
echo "# new default (systest upgrade)" >>"$up/etc/vigil/rules/inhibit.yaml"
dpkg-deb -Znone -b "$up" "$RUN/pkg/upgrade.deb" >/dev/null
pid_v=$(prop vigild MainPID); pid_w=$(prop vigil-watch MainPID)
cx sh -c 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold /pkg/upgrade.deb' >"$LOGS/upgrade.txt" 2>&1
u_rc=$?
wait_for 30 http $V/ready
admin $V/api/v1/silences; s_ok=$(grep -c "${sil:-none}" <<<"$BODY")
version=$(cx dpkg-query -W -f='${Version}' vigil)
if ((u_rc == 0)) && [[ $version == *+systest1 ]] && cmp -s "$ROOT/etc/vigil/vigil.yaml" "$RUN/vigil.yaml.user" &&
   grep -q "systest upgrade" "$ROOT/etc/vigil/vigil.yaml.dpkg-dist" && grep -q "systest upgrade" "$ROOT/etc/vigil/rules/inhibit.yaml" &&
   [[ $(prop vigild MainPID) != "$pid_v" && $(prop vigil-watch MainPID) != "$pid_w" && $(prop vigil-watch MainPID) != 0 ]] &&
   ((s_ok > 0)); then
  pass upgrade "to $version: changed vigil.yaml kept (new one as .dpkg-dist), unchanged inhibit.yaml replaced, vigild and the running vigil-watch restarted, silence kept"
else
  fail upgrade "rc=$u_rc version=$version vigil.yaml kept: $(cmp -s "$ROOT/etc/vigil/vigil.yaml" "$RUN/vigil.yaml.user" && echo yes || echo no), .dpkg-dist: $(ls "$ROOT"/etc/vigil/*.dpkg-* 2>/dev/null | wc -l), vigild PID $pid_v -> $(prop vigild MainPID), vigil-watch PID $pid_w -> $(prop vigil-watch MainPID), silence kept: $s_ok"
fi

# --- 7 remove and purge -----------------------------------------------------------------
# The user's own changes so far: vigil.yaml and rules/classic.yaml (changed
# conffiles) and admin_token (a file of theirs).
cx sh -c 'DEBIAN_FRONTEND=noninteractive apt-get remove -y -q vigil' >"$LOGS/remove.txt" 2>&1
r_rc=$?
procs=$(cx pgrep -c -x vigild)
units="$(prop vigild ActiveState)/$(prop vigil-watch ActiveState)"
kept=$(cd "$ROOT" && for f in $(cat "$RUN/conffiles"); do [[ -e .$f ]] && echo "$f"; done | wc -l)
cx sh -c 'DEBIAN_FRONTEND=noninteractive apt-get purge -y -q vigil' >"$LOGS/purge.txt" 2>&1
p_rc=$?
(cd "$ROOT" && find . -xdev -not -type d | sort) >"$RUN/files.after"
# Left behind: every file not there before the install, less what the system
# itself writes (journal, apt and dpkg's records, systemd's own state).
comm -13 "$before" "$RUN/files.after" |
  grep -Ev '^\./(var/log/|var/lib/dpkg/|var/lib/apt/|var/cache/|etc/ld\.so\.cache$|var/lib/systemd/(random-seed|catalog/|timers/|timesync/)|run/|tmp/|var/tmp/)' >"$LOGS/left.txt"
left_pkg=$(grep -Ev '^\./etc/vigil/admin_token$' "$LOGS/left.txt")
dirs=$(cd "$ROOT" && ls -d etc/vigil var/lib/vigil var/lib/private/vigil var/lib/vigil-watch usr/share/vigil usr/share/doc/vigil 2>/dev/null | tr '\n' ' ')
if ((r_rc == 0 && p_rc == 0)) && [[ $procs == 0 && $units == inactive/inactive && -z $left_pkg ]] &&
   grep -q '^\./etc/vigil/admin_token$' "$LOGS/left.txt"; then
  pass purge "remove: units $units, no vigild process, $kept of $(wc -l <"$RUN/conffiles") conffiles kept; purge: nothing left but the user's own /etc/vigil/admin_token; dirs left: ${dirs:-none but /etc/vigil}"
else
  fail purge "remove rc=$r_rc units $units vigild processes $procs; purge rc=$p_rc; left: $(head -c 400 <<<"$left_pkg")"
fi

echo
echo "== system test: $(basename "$DEB") in a booted Debian 12 container ($(since "$T0") s)"
for c in units cli ready watchdog reload watch state upgrade purge; do printf '%-9s %s\n' "$c" "${RESULT[$c]:-FAIL: not run}"; done
((FAILED == 0)) && [[ ${#RESULT[@]} == 9 ]]
