#!/usr/bin/env bash
# The README's first command: install what is missing, build podinit, and run the embedded demo
# pod (the ACS document's Job: a native sidecar and an app) under runc with `podinit run`.
# Extra arguments go to `podinit run` (e.g. --create-order reverse, or a Pod manifest).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/install-deps.sh
if ! command -v cargo >/dev/null 2>&1 && [ -f "${HOME:-/root}/.cargo/env" ]; then
    # shellcheck disable=SC1091
    . "${HOME:-/root}/.cargo/env"
fi
cargo build --release --quiet
exec target/x86_64-unknown-linux-gnu/release/podinit run "$@"
