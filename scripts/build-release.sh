#!/usr/bin/env bash
# Builds the shipped podinit: one static binary, release profile (Cargo.toml: opt-level "z", LTO,
# one codegen unit, panic = "abort", stripped), non-PIE, on musl without unwind tables, without
# `podinit run` (the `run` feature: PODINIT_RELEASE_CARGO_ARGS="--features run" puts it back).
# The target is musl when rustup has it or can install it (`rustup target add
# x86_64-unknown-linux-musl`), static glibc otherwise; the line on stderr says which and why. The binary's path is the only line on stdout:
#   bin=$(bash scripts/build-release.sh)
# PODINIT_RELEASE_TARGET=glibc (or musl) forces one; CARGO_TARGET_DIR and cargo's other
# variables apply as usual. BENCHMARKS.md ("One binary under 1 MiB") has what each choice costs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

MUSL=x86_64-unknown-linux-musl
GNU=x86_64-unknown-linux-gnu
say() { echo "build-release: $*" >&2; }

musl_installed() { rustup target list --installed 2>/dev/null | grep -qx "$MUSL"; }
case "${PODINIT_RELEASE_TARGET:-auto}" in
    musl) target=$MUSL why="PODINIT_RELEASE_TARGET=musl" ;;
    glibc) target=$GNU why="PODINIT_RELEASE_TARGET=glibc" ;;
    auto)
        if ! command -v rustup >/dev/null 2>&1; then
            target=$GNU why="no rustup to install the musl target: falling back to static glibc"
        elif musl_installed; then
            target=$MUSL why="the musl target is installed"
        elif rustup target add "$MUSL" >&2 && musl_installed; then
            target=$MUSL why="the musl target was installed now"
        else
            target=$GNU why="rustup target add $MUSL failed: falling back to static glibc"
        fi
        ;;
    *) say "PODINIT_RELEASE_TARGET must be musl or glibc"; exit 2 ;;
esac

# Non-PIE: no self-relocation at start-up (half of `podinit exec`'s instructions on glibc). The
# build's RUSTFLAGS replace .cargo/config.toml's, so glibc's +crt-static is repeated here.
flags="-C relocation-model=static"
[ "$target" = "$GNU" ] && flags="$flags -C target-feature=+crt-static"
# musl: the unwind tables discarded at link time (scripts/discard-eh-frame.ld says why that is
# safe). Not on glibc: static glibc has unwinding users of its own (thread cancellation,
# backtrace()) that this was not checked against.
[ "$target" = "$MUSL" ] && flags="$flags -C link-arg=-Wl,-T,$PWD/scripts/discard-eh-frame.ld"
say "target $target ($why)"
RUSTFLAGS="$flags ${PODINIT_RELEASE_RUSTFLAGS:-}" nice -n "${NICE:-0}" \
    cargo build --release --locked --target "$target" --no-default-features \
    ${PODINIT_RELEASE_CARGO_ARGS:-} >&2
bin="${CARGO_TARGET_DIR:-target}/$target/release/podinit"
say "$bin: $(stat -c %s "$bin") bytes ($target)"
echo "$bin"
