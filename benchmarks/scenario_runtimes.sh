#!/usr/bin/env bash
# Wall time of every shipped scenario with its default replications (issue 11:
# each should run in under a minute on the 2-core machine).  Usage:
#   bash benchmarks/scenario_runtimes.sh > runtimes.txt
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
for f in $(find scenarios -name '*.yaml' -not -path '*/validation/*' | sort); do
  start=$(date +%s.%N)
  .venv/bin/splitsim run "$f" --out "$out/run" --force --quiet
  end=$(date +%s.%N)
  printf '%-60s %6.1f s\n' "$f" "$(echo "$end - $start" | bc)"
done
rm -rf "$out"
