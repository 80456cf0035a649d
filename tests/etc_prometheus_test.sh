#!/bin/sh
# etc/prometheus/ is current and valid: the rule and test files are what
# vigilctl exports from the default pack now, promtool accepts the config and
# passes the translated tests, amtool accepts the Alertmanager config, and
# that config carries every inhibition of etc/rules/inhibit.yaml.
set -e
vigilctl="$1"
src="$2"
cd "$src"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$vigilctl" rules export --format prometheus -o "$tmp/vigil.rules.yml" --tests-out "$tmp/vigil.rules.test.yml" \
  etc/rules/pathologies.yaml etc/rules/classic.yaml etc/rules/inhibit.yaml \
  etc/rules/tests/pathologies_test.yaml etc/rules/tests/classic_test.yaml etc/rules/tests/inhibit_test.yaml
for f in vigil.rules.yml vigil.rules.test.yml; do
  if ! diff -u "etc/prometheus/$f" "$tmp/$f"; then
    echo "etc/prometheus/$f is stale: regenerate it (docs/fleet.md, 'Regenerating')" >&2
    exit 1
  fi
done
promtool check config etc/prometheus/prometheus.yml
promtool test rules etc/prometheus/vigil.rules.test.yml
n=$(grep -c '^  - interval:' etc/prometheus/vigil.rules.test.yml)
echo "translated test cases: $n"
test "$n" -ge 5
amtool check-config etc/prometheus/alertmanager.yml
grep "source_matchers\|target_matchers" etc/rules/inhibit.yaml | sed 's/^ *//' | while read -r line; do
  grep -qF -- "$line" etc/prometheus/alertmanager.yml || { echo "alertmanager.yml lacks: $line" >&2; exit 1; }
done
