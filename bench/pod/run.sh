#!/usr/bin/env bash
# Pod-level benchmarks of podinit (SPEC section 5; issue 5), each side by side with its anchor in
# ONE run, reported as ratios and percentiles. Real runc pods, the release binary.
#
#   bash bench/pod/run.sh            # full run (~3 min on 2 vCPU), markdown on stdout
#   QUICK=1 bash bench/pod/run.sh    # smoke run (small N), same table
#
# Sample counts: HOOK_N (300), GATE_N (30), POD_REPS (30), POD_N (4), IDLE_S (10),
# SIZES (1,4,16,64), CURVE_REPS (5 pods per size); SECTIONS=hooks,gate,podstart,idle,curve
# picks sections (not in the default list: decomp, one container's cost piece by piece,
# DECOMP_REPS each; claimcurve, the supervisor's CPU by pod size when the inits claim, SIZES,
# CLAIM_REPS each, CLAIM_ANCHOR=PATH another build alternating with this one); NO_HOOKS=1 adds `inject --no-hooks` variants to podstart (issue 13).
# Needs root, runc, ip, strace, cc (static glibc), python3, /bin/busybox (busybox-static).
# Raw results: $KEEP_RESULTS (default: not kept) gets results.json.
# Everything it makes lives in one work dir with its own runc --root and netns; it is removed
# on exit, also on Ctrl-C or failure (containers deleted -f, supervisors killed, netns deleted).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

[ "$(id -u)" = 0 ] || { echo "bench/pod/run.sh: needs root (runc)" >&2; exit 1; }
for tool in runc ip strace cc timeout; do
    command -v "$tool" >/dev/null || { echo "bench/pod/run.sh: $tool not found" >&2; exit 1; }
done
[ -x /bin/busybox ] || { echo "bench/pod/run.sh: /bin/busybox missing (apt-get install busybox-static)" >&2; exit 1; }
# The system python: a version manager's shim costs 100+ ms per start (only started once here,
# but keep the same interpreter as the integration harness).
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

# The shipped binary (scripts/build-release.sh: musl where the target installs, static glibc
# otherwise), the one a sandbox runs; PODINIT_BIN=PATH measures another build.
if [ -n "${PODINIT_BIN:-}" ]; then
    PODINIT=$(realpath "$PODINIT_BIN")
else
    PODINIT=$(realpath "$(bash scripts/build-release.sh)")
fi
[ -x "$PODINIT" ] || { echo "bench/pod/run.sh: $PODINIT not built" >&2; exit 1; }

# Short path: unix socket paths (sun_path) are limited to 108 bytes.
work=$(mktemp -d /tmp/pb.XXXXXX)
cleanup() {
    set +e
    if [ -d "$work/t/runc" ]; then
        for id in $(runc --root "$work/t/runc" list -q 2>/dev/null); do
            runc --root "$work/t/runc" delete -f "$id" >/dev/null 2>&1
        done
    fi
    if [ -f "$work/pids" ]; then
        while read -r pid; do kill -9 "$pid" 2>/dev/null; done <"$work/pids"
    fi
    if [ -f "$work/netns" ]; then ip netns del "$(cat "$work/netns")" 2>/dev/null; fi
    # The private ftrace instance and the tmpfs (pod_bench.py removes them itself when it can).
    local inst
    for inst in "$work"/tracefs/instances/pb-*; do
        [ -d "$inst" ] || continue
        echo 0 >"$inst/tracing_on"
        for ev in "$inst"/events/*/*/enable; do echo 0 >"$ev"; done 2>/dev/null
        rmdir "$inst"
    done
    mountpoint -q "$work/tracefs" && umount "$work/tracefs"
    mountpoint -q "$work/t" && umount -l "$work/t"
    # Never descend into a mount left behind (a tracefs rmdir would delete trace instances).
    rm -rf --one-file-system "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cc -O2 -static -Wall -o "$work/stamp" bench/pod/stamp.c
cc -O2 -static -Wall -o "$work/hookwrap" bench/pod/hookwrap.c
cc -O2 -Wall -o "$work/cpuid" bench/pod/cpuid.c
export CPUID_BIN="$work/cpuid"
# Optional: the no-op exec without glibc's start-up (apt-get install musl-tools).
if command -v musl-gcc >/dev/null; then
    musl-gcc -O2 -static -o "$work/stamp-musl" bench/pod/stamp.c && export STAMP_MUSL="$work/stamp-musl"
fi

# CPU time the hypervisor gave to others (steal) while measuring: on a shared or nested VM it is
# the main noise source, so every report states it.
cpu_steal() { awk '/^cpu /{print $9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }
read -r steal0 total0 < <(cpu_steal)
started=$(date +%s)
"$PY" bench/pod/pod_bench.py "$work" "$PODINIT" "$work/stamp" "$work/hookwrap" "$work/results.json"
elapsed=$(( $(date +%s) - started ))
read -r steal1 total1 < <(cpu_steal)
steal_pct=$(awk -v s=$((steal1 - steal0)) -v t=$((total1 - total0)) 'BEGIN{printf "%.1f", t ? 100*s/t : 0}')
if [ -n "${KEEP_RESULTS:-}" ]; then cp "$work/results.json" "$KEEP_RESULTS"; fi

{
    echo "Run: \`bash bench/pod/run.sh\` ($(date -u +%Y-%m-%dT%H:%MZ); $(nproc) vCPU; kernel $(uname -r);"
    echo "$(runc --version | head -1); podinit $(stat -c %s "$PODINIT") bytes, git $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- src 2>/dev/null || echo '+dirty src'); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); CPU steal while measuring: ${steal_pct}%; measuring took ${elapsed}s)."
    echo
    "$PY" bench/pod/report.py "$work/results.json"
}
