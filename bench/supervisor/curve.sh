#!/usr/bin/env bash
# The supervisor curve (issue 13 item 2): supervisor CPU to start pods of 1, 4, 16, 64 containers
# and the 64-container gate fan-out, this tree against an anchor built from another commit, in
# ONE run, interleaved. No runtime: the containers' inits are processes of the script
# (bench/supervisor/curve.py says exactly what is timed).
#
#   bash bench/supervisor/curve.sh                 # this tree vs main, 12 pods per size each
#   ANCHOR_REF=949b4e9 REPS=20 bash bench/supervisor/curve.sh
#   ANCHOR_BIN=/path/to/podinit bash bench/supervisor/curve.sh   # an anchor built already
#
# SIZES (1,4,16,64), REPS (12). Needs root (pidfds of any process, as the supervisor runs), cc
# with static glibc, python3. Markdown on stdout; raw results in $KEEP_RESULTS if set.
# Everything lives in one `mktemp -d` with a tmpfs on it, removed on exit, Ctrl-C or failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

[ "$(id -u)" = 0 ] || { echo "bench/supervisor/curve.sh: needs root" >&2; exit 1; }
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

work=$(mktemp -d /tmp/sc.XXXXXX)
cleanup() {
    set +e
    [ -n "${anchor_tree:-}" ] && git worktree remove --force "$anchor_tree" >/dev/null 2>&1
    mountpoint -q "$work/t" && umount -l "$work/t"
    rm -rf --one-file-system "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cargo build --release -q >&2
# Each binary named podinit in its own directory: podinit-NAME would be the runtime front.
mkdir -p "$work/new" "$work/old"
NEW=$work/new/podinit
cp target/x86_64-unknown-linux-gnu/release/podinit "$NEW"
new_rev=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src || echo "+dirty")

if [ -n "${ANCHOR_BIN:-}" ]; then
    ANCHOR=$ANCHOR_BIN
    anchor_rev=${ANCHOR_REV:-given}
else
    ref=${ANCHOR_REF:-main}
    anchor_rev=$(git rev-parse --short "$ref")
    anchor_tree=$work/anchor
    git worktree add --detach "$anchor_tree" "$ref" >/dev/null 2>&1
    # Its own target dir, so this tree's build stays as it is.
    (cd "$anchor_tree" && CARGO_TARGET_DIR=$work/anchor-target cargo build --release -q >&2)
    ANCHOR=$work/old/podinit
    cp "$work/anchor-target/x86_64-unknown-linux-gnu/release/podinit" "$ANCHOR"
fi

cc -O2 -static -Wall -o "$work/stamp" bench/pod/stamp.c
mkdir -p "$work/t"
mount -t tmpfs -o size=256m tmpfs "$work/t"

echo "Run: \`bash bench/supervisor/curve.sh\` ($(date -u +%Y-%m-%dT%H:%MZ); $(nproc) vCPU;" \
    "anchor $anchor_rev, new $new_rev; load average $(cut -d' ' -f1-3 /proc/loadavg))"
echo
"$PY" bench/supervisor/curve.py "$work/t" "$work/stamp" "$work/results.json" \
    "anchor-$anchor_rev=$ANCHOR" "new-$new_rev=$NEW"
"$PY" bench/supervisor/curve.py --report "$work/results.json"
[ -n "${KEEP_RESULTS:-}" ] && cp "$work/results.json" "$KEEP_RESULTS"
exit 0
