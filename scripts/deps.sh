#!/usr/bin/env bash
# The one place Vigil's build and test dependencies are listed.
# Installs only what is missing; a no-op on a machine that has them all.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  libtorch-dev                 # engine/ (Debian's CPU libtorch 1.13)
  libopenblas0-pthread         # Debian's libtorch calls libblas.so.3: OpenBLAS instead of the reference BLAS is 5-50x faster
  libyaml-cpp-dev              # config and rule files
  libspdlog-dev libfmt-dev     # logging
  nlohmann-json3-dev           # JSON everywhere
  libcli11-dev                 # vigilctl's flags and --help
  libeigen3-dev                # correlation matrix
  libcpp-httplib-dev libssl-dev zlib1g-dev  # HTTP server/client, TLS, gzip
  libboost-dev                 # Boost.Asio + Beast: vigild's event-driven front server (daemon/front_server.h)
  prometheus-cpp-dev           # /metrics
  libpcre2-dev                 # tokenizer pre-tokenizer regexes
  libsystemd-dev               # sd_notify
  libsqlite3-dev               # durable outbox
  libgtest-dev libgmock-dev libbenchmark-dev  # tests and benchmarks
  libjs-dygraphs               # the dashboard's charts, served by vigild from /usr/share/javascript
)
# Test-only peers (real Prometheus/Alertmanager/promtool) are listed apart:
# `make test` installs them, `make run` does not need them.
TEST_PACKAGES=(prometheus prometheus-alertmanager python3
  chromium chromium-driver fonts-dejavu-core  # the dashboard's tests in a real headless browser
  clang                                       # ctest thread_safety: clang's -Wthread-safety over every source
  clang-format                                # ctest clang_format: every C++ file as .clang-format has it
  debhelper help2man                          # ctest system: the .deb (packaging/)
  debootstrap systemd-container)              # ctest system: a booted Debian 12 container (tests/system/)

# `make deb` (packaging/): debhelper, man pages from --help, lintian.
DEB_PACKAGES=(debhelper help2man lintian)

# `make fuzz` (tests/fuzz): clang with libFuzzer and the sanitizer runtimes.
FUZZ_PACKAGES=(clang libclang-rt-14-dev)

want=("${PACKAGES[@]}")
if [[ "${1:-}" == "--test" ]]; then want+=("${TEST_PACKAGES[@]}"); fi
# The OpenAI Node SDK test (tests/node) needs node and npm: Debian's, unless
# some node is installed already (e.g. NodeSource's, which bundles npm).
if [[ "${1:-}" == "--test" ]]; then
  command -v node >/dev/null || want+=(nodejs)
  command -v npm >/dev/null || want+=(npm)
fi
if [[ "${1:-}" == "--fuzz" ]]; then want+=("${FUZZ_PACKAGES[@]}"); fi
if [[ "${1:-}" == "--deb" ]]; then want+=("${DEB_PACKAGES[@]}"); fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} > 0)); then
  echo "deps: installing ${missing[*]}"
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# --test: the official OpenAI Node SDK from npm, pinned by tests/node/package-lock.json.
if [[ "${1:-}" == "--test" ]]; then
  node_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/node"
  if [[ ! -f "$node_dir/node_modules/openai/package.json" ||
        "$node_dir/package-lock.json" -nt "$node_dir/node_modules/.package-lock.json" ]]; then
    echo "deps: npm ci in $node_dir (the OpenAI Node SDK)"
    (cd "$node_dir" && npm ci --no-audit --no-fund)
  fi
fi
