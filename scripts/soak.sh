#!/usr/bin/env bash
# A day in an hour (docs/soak.md): vigild under mixed open-loop load with
# disconnecting clients, SIGHUP reloads, a webhook that fails a share of its
# deliveries and periodic captures; samples RSS, fds, threads, KV blocks and
# the outbox, and prints their slopes after warm-up. Needs a built tree
# (`make build`) and python3.
#   scripts/soak.sh --duration 1h [--out DIR] [--rate 3] [--fail-share 0.2]
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 scripts/soak.py "$@"
