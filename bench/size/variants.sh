#!/usr/bin/env bash
# Builds the release variants BENCHMARKS.md ("One binary under 1 MiB") compares, at the current
# commit, into OUT (default /tmp/podinit-variants), then measures them with bench/size/run.sh.
# Each is a full release build (LTO, ~1-4 min on 2 vCPU). The per-commit steps (probes without
# getaddrinfo, the hook without clap) are measured by running this at the commits before/after.
# Usage: bash bench/size/variants.sh [OUT]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
out=${1:-/tmp/podinit-variants}
mkdir -p "$out"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$out/target}
GNU=x86_64-unknown-linux-gnu MUSL=x86_64-unknown-linux-musl
one() { # NAME TARGET OPT RUSTFLAGS [cargo args]
    local name=$1 target=$2 opt=$3 flags=$4
    shift 4
    CARGO_PROFILE_RELEASE_OPT_LEVEL=$opt RUSTFLAGS="$flags" nice -n 10 \
        cargo build -q --release --locked --target "$target" "$@"
    cp "$CARGO_TARGET_DIR/$target/release/podinit" "$out/$name"
    echo "$name=$out/$name"
}
static="-C target-feature=+crt-static"
set -- \
    "$(one glibc-s $GNU s "$static")" \
    "$(one glibc-z $GNU z "$static")" \
    "$(one glibc-z-nopie $GNU z "$static -C relocation-model=static")" \
    "$(one musl-z $MUSL z "")" \
    "$(one musl-s-nopie $MUSL s "-C relocation-model=static")" \
    "$(one musl-z-nopie $MUSL z "-C relocation-model=static")" \
    "$(one release-musl $MUSL z "-C relocation-model=static" --no-default-features)" \
    "$(one release-glibc $GNU z "$static -C relocation-model=static" --no-default-features)"
bash bench/size/run.sh "$@"
