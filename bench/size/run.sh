#!/usr/bin/env bash
# Binary size and exec cost of podinit builds against tini-static, in one run (issue 13):
#   bytes (ls -l) and the big sections (size -A); callgrind instructions of `BIN exec -- /bin/true`
#   (the init process only: callgrind does not follow the fork) and of `tini-static -s -- /bin/true` (both subreapers off PID 1);
#   posix_spawn+waitpid wall time of each, every configuration interleaved per iteration
#   (bench/init_harness.py spawn), and its ratio to tini-static's.
#
# Usage: bash bench/size/run.sh NAME=BINARY...   (SPAWN_N overrides the iterations, default 300)
# e.g.   bash bench/size/run.sh glibc=target/x86_64-unknown-linux-gnu/release/podinit \
#             musl=target/x86_64-unknown-linux-musl/release/podinit
# Builds nothing: scripts/build-release.sh (and bench/size/variants.sh) make the binaries.
# Needs: valgrind, python3, tini (apt-get install -y valgrind tini). Prints markdown.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

SPAWN_N=${SPAWN_N:-300}
TINI=${TINI:-/usr/bin/tini-static}
TRUE=/bin/true
for tool in valgrind python3 size; do
    command -v "$tool" >/dev/null || { echo "bench/size/run.sh: $tool not found" >&2; exit 1; }
done
[ -x "$TINI" ] || { echo "bench/size/run.sh: $TINI not found (apt-get install -y tini)" >&2; exit 1; }
[ $# -gt 0 ] || { echo "usage: bench/size/run.sh NAME=BINARY..." >&2; exit 2; }

# The instructions one process executes, from callgrind's summary line.
instructions() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
section() { size -A "$1" | awk -v s="$2" '$1 == s { print $2; f = 1 } END { if (!f) print 0 }'; }

tini_ins=$(instructions "$TINI" -s -- "$TRUE")
cfgs=("tini-static=$TINI -s -- $TRUE")
for nb in "$@"; do cfgs+=("${nb%%=*}=${nb#*=} exec -- $TRUE"); done
spawn=$(python3 bench/init_harness.py spawn - "$SPAWN_N" "${cfgs[@]}")
median() { printf '%s\n' "$spawn" | python3 -c '
import json, sys
for l in sys.stdin:
    o = json.loads(l)
    if o["name"] == sys.argv[1]: print(o["median_us"])' "$1"; }
tini_us=$(median tini-static)

echo "Run: \`bash bench/size/run.sh $*\` ($(date -u +%Y-%m-%dT%H:%MZ), load $(cut -d' ' -f1 /proc/loadavg), SPAWN_N=$SPAWN_N interleaved)"
echo
echo "| build | bytes | .text | .rodata | .eh_frame+hdr | .data.rel.ro | exec instructions | vs tini | spawn+exit median µs | vs tini |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
printf '| tini-static | %s | %s | %s | %s | %s | %s | 1 | %s | 1 |\n' "$(stat -c %s "$TINI")" \
    "$(section "$TINI" .text)" "$(section "$TINI" .rodata)" \
    "$(( $(section "$TINI" .eh_frame) + $(section "$TINI" .eh_frame_hdr) ))" \
    "$(section "$TINI" .data.rel.ro)" "$tini_ins" "$tini_us"
for nb in "$@"; do
    name=${nb%%=*} bin=${nb#*=}
    ins=$(instructions "$bin" exec -- "$TRUE")
    us=$(median "$name")
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$(stat -c %s "$bin")" \
        "$(section "$bin" .text)" "$(section "$bin" .rodata)" \
        "$(( $(section "$bin" .eh_frame) + $(section "$bin" .eh_frame_hdr) ))" \
        "$(section "$bin" .data.rel.ro)" "$ins" \
        "$(python3 -c "print(f'{$ins/$tini_ins:.2f}')")" "$us" \
        "$(python3 -c "print(f'{$us/$tini_us:.2f}')")"
done
