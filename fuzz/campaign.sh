#!/usr/bin/env bash
# A fuzz campaign: every target (or the ones named) for MINUTES each, one after the other, one
# libFuzzer process each (no -jobs/-fork: the machine is shared), at the lowest CPU priority;
# one line per target with libFuzzer's final figures. See docs/fuzzing.md.
#   bash fuzz/campaign.sh MINUTES_PER_TARGET [TARGET...]
#   RUNS=10000000 NICE=0 bash fuzz/campaign.sh 30    # the issue's bar: 10^7 executions or 30 min
# RUNS caps each target's executions (libFuzzer -runs; default: none, the time decides); NICE is
# the targets' CPU priority (default 19: the machine is shared).
# Corpora grow in fuzz/corpus/TARGET (seeded by fuzz/seed.sh when empty), logs go to
# fuzz/logs/TARGET.log, crash inputs to fuzz/artifacts/TARGET/.
set -euo pipefail
fuzz="$(cd "$(dirname "$0")" && pwd)"
cd "$fuzz"
minutes="${1:?usage: campaign.sh MINUTES_PER_TARGET [TARGET...]}"
shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo +nightly fuzz list | grep -vx seeds)
# No sanitizer (the targets run safe Rust; ASan would halve the executions) but debug
# assertions, which also turn on overflow checks: an arithmetic overflow is a crash.
flags=(-s none --debug-assertions)
[ -d corpus ] || bash "$fuzz/seed.sh"
cargo +nightly fuzz build "${flags[@]}" >/dev/null
mkdir -p logs
echo "toolchain: $(rustc +nightly --version); cargo-fuzz: $(cargo +nightly fuzz --version 2>/dev/null || true)"
echo "started $(date -u +%FT%TZ), $minutes min per target, runs ${RUNS:-unbounded}, nice ${NICE:-19}, commit $(git rev-parse --short HEAD)"
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  before=$(find "artifacts/$t" -type f | wc -l)
  start=$(date +%s)
  # -timeout: an input that takes 10 s is a hang, reported like a crash.
  nice -n "${NICE:-19}" cargo +nightly fuzz run "${flags[@]}" "$t" "corpus/$t" -- \
    -max_total_time=$((minutes * 60)) -runs="${RUNS:--1}" -print_final_stats=1 -timeout=10 \
    -dict="$fuzz/podinit.dict" >"logs/$t.log" 2>&1 || true
  took=$(( $(date +%s) - start ))
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "logs/$t.log" | tail -1 | grep -o '[0-9]*$' || echo "?")
  last=$(grep -E '^#[0-9]+' "logs/$t.log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' <<<"$last" | grep -o '[0-9]*' || echo "?")
  ft=$(grep -o 'ft: [0-9]*' <<<"$last" | grep -o '[0-9]*' || echo "?")
  corp=$(find "corpus/$t" -type f | wc -l)
  crashes=$(( $(find "artifacts/$t" -type f | wc -l) - before ))
  printf '%-20s execs %12s  cov %6s  ft %7s  corpus %6s  crashes %d  %ds\n' \
    "$t" "$execs" "$cov" "$ft" "$corp" "$crashes" "$took"
done
echo "finished $(date -u +%FT%TZ)"
