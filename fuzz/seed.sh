#!/usr/bin/env bash
# Seed corpora for every fuzz target from testdata/ (see docs/fuzzing.md):
#   bash fuzz/seed.sh [CORPUS_DIR]      default: fuzz/corpus (git-ignored)
# Seeds are added next to whatever the corpus already holds; libFuzzer keeps what it finds there.
set -euo pipefail
fuzz="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$fuzz")"
out="${1:-$fuzz/corpus}"
cd "$fuzz"
# The seeds are made with the product's own encoders and parsers, by a binary of the fuzz
# build (the campaign's flags, so nothing is built twice).
cargo +nightly fuzz build -s none --debug-assertions seeds >/dev/null
"$fuzz/target/x86_64-unknown-linux-gnu/release/seeds" "$root" "$out"
for t in $(cargo +nightly fuzz list | grep -vx seeds); do
  printf '%-20s %4d seeds\n' "$t" "$(find "$out/$t" -type f 2>/dev/null | wc -l)"
done
