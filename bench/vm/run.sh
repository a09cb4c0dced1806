#!/usr/bin/env bash
# The VM sandbox side by side in ONE run (issue 10): the demo Job
#   A. `podinit run --vm` — podinit is the guest's PID 1 (podinit sandbox-init);
#   B. the same initramfs with a busybox shell /init doing the same mounts, the same move to a
#      tmpfs (switch_root) and the same `podinit run` — what PID 1 itself costs;
#   C. `podinit run` of the same pod on this host, no VM.
# Rounds are interleaved (A B C, A B C, ...). Reported per variant: boot to PID 1 (guest
# uptime when PID 1 starts), PID 1 start to the agent's start, agent run, total wall; then the
# least guest memory that ran the pod (MEMORY=0 skips it).
#
#   bash bench/vm/run.sh            # ROUNDS=5
#   ROUNDS=2 MEMORY=0 bash bench/vm/run.sh
#
# Needs root, qemu-system-x86_64, a kernel in /boot, runc, /bin/busybox. Emulation (TCG) is
# forced so every round boots the same way (KVM does not boot a guest on the development host).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
[ "$(id -u)" = 0 ] || { echo "bench/vm/run.sh: needs root" >&2; exit 1; }
ROUNDS=${ROUNDS:-5}
MEMORY=${MEMORY:-1}
cargo build --release -q >&2
PODINIT=$PWD/target/x86_64-unknown-linux-gnu/release/podinit
KERNEL=$(ls /boot/vmlinuz-*-cloud-amd64 2>/dev/null | sort -V | tail -1)
[ -n "$KERNEL" ] || { echo "bench/vm/run.sh: no cloud kernel (apt-get install linux-image-cloud-amd64)" >&2; exit 1; }
WORK=$(mktemp -d /tmp/podinit-bench-vm.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
RESULTS=$WORK/results.txt
: >"$RESULTS"

now_ms() { date +%s%3N; }

# B's initramfs: A's (built by podinit run --vm --keep in round 1) plus /init and /stage2.
make_shell_initramfs() {
    local base=$1 out=$2 extra=$WORK/shell-extra
    rm -rf "$extra"; mkdir -p "$extra"
    cat >"$extra/init" <<'SH'
#!/bin/sh
mount -t devtmpfs -o mode=0755 dev /dev
mount -t proc proc /proc
up=$(cut -d' ' -f1 /proc/uptime)
mkdir -p /newroot
mount -t tmpfs -o mode=0755 tmpfs /newroot
for e in bin sbin usr lib lib64 etc pod root var stage2; do [ -e "/$e" ] && cp -a "/$e" /newroot/; done
mkdir -p /newroot/proc /newroot/dev /newroot/sys /newroot/run /newroot/tmp
mount --move /proc /newroot/proc
mount --move /dev /newroot/dev
echo "$up" > /newroot/up
exec switch_root /newroot /bin/sh /stage2
SH
    cat >"$extra/stage2" <<'SH'
#!/bin/sh
moved=$(cut -d' ' -f1 /proc/uptime)
mount -t sysfs sysfs /sys
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
mkdir -p /dev/pts /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
hostname test
ready=$(cut -d' ' -f1 /proc/uptime)
/sbin/podinit run --keep --work-dir /run/podinit/pod /pod/* >/dev/console 2>&1
rc=$?
end=$(cut -d' ' -f1 /proc/uptime)
echo "shell-init: up=$(cat /up) moved=$moved ready=$ready end=$end rc=$rc"
sync
poweroff -f
SH
    chmod 755 "$extra/init" "$extra/stage2"
    (cd "$extra" && printf 'init\nstage2\n' | busybox cpio -o -H newc 2>/dev/null) >"$WORK/extra.cpio"
    cat "$base" "$WORK/extra.cpio" >"$out"
}

run_a() {
    local w=$WORK/a-$1 t0 t1
    t0=$(now_ms)
    "$PODINIT" run --vm --accel tcg --keep --work-dir "$w" >"$w.log" 2>&1 || { echo "A failed: $(tail -5 "$w.log")" >&2; return 1; }
    t1=$(now_ms)
    python3 - "$w/timings.json" "$((t1 - t0))" >>"$RESULTS" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
up, moved, ready = t["bootToPid1Ms"], t["pid1MovedMs"], t["pid1ReadyMs"]
print("A", up, ready - up, t["pid1ToEndMs"] - (ready - up), sys.argv[2], moved - up)
PY
    [ -f "$WORK/initramfs-a.cpio" ] || cp "$w/initramfs.cpio" "$WORK/initramfs-a.cpio"
}

run_b() {
    local t0 t1 line
    [ -f "$WORK/initramfs-b.cpio" ] || make_shell_initramfs "$WORK/initramfs-a.cpio" "$WORK/initramfs-b.cpio"
    t0=$(now_ms)
    line=$(timeout 600 qemu-system-x86_64 -M pc -accel tcg -m 256M -smp 1 -nodefaults -display none \
        -no-reboot -chardev stdio,id=c,signal=off -serial chardev:c -kernel "$KERNEL" \
        -initrd "$WORK/initramfs-b.cpio" \
        -append "console=ttyS0 quiet loglevel=3 panic=-1 rdinit=/init" </dev/null 2>&1 \
        | tr -d '\r' | tee "$WORK/b-$1.log" | grep '^shell-init:' || true)
    t1=$(now_ms)
    [ -n "$line" ] || { echo "B failed: $(tail -5 "$WORK/b-$1.log")" >&2; return 1; }
    python3 - "$line" "$((t1 - t0))" >>"$RESULTS" <<'PY'
import sys
kv = dict(p.split("=") for p in sys.argv[1].split()[1:])
assert kv["rc"] == "0", kv
up, moved, ready, end = (float(kv[k]) * 1000 for k in ("up", "moved", "ready", "end"))
print("B", int(up), int(ready - up), int(end - ready), sys.argv[2], int(moved - up))
PY
}

run_c() {
    local t0 t1
    t0=$(now_ms)
    "$PODINIT" run >"$WORK/c-$1.log" 2>&1 || { echo "C failed" >&2; return 1; }
    t1=$(now_ms)
    echo "C 0 0 $((t1 - t0)) $((t1 - t0)) 0" >>"$RESULTS"
}

for r in $(seq 1 "$ROUNDS"); do
    echo "round $r/$ROUNDS" >&2
    run_a "$r"; run_b "$r"; run_c "$r"
done

least=""
if [ "$MEMORY" = 1 ]; then
    for m in 64 80 96 128 192 256; do
        if "$PODINIT" run --vm --accel tcg --memory "${m}M" >"$WORK/mem-$m.log" 2>&1; then least=$m; break; fi
    done
fi

python3 - "$RESULTS" "$ROUNDS" "$least" "$(nproc)" "$(qemu-system-x86_64 --version | head -1)" "$KERNEL" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
def med(v, i): return statistics.median(int(r[i]) for r in rows if r[0] == v)
names = {"A": "podinit run --vm (podinit is PID 1)", "B": "shell /init, same mounts + podinit run", "C": "podinit run on the host (no VM)"}
print(f"rounds: {sys.argv[2]} interleaved · {sys.argv[4]} vCPU host · {sys.argv[5]} · {sys.argv[6]} · TCG · 256 MiB, 1 vCPU guest\n")
print("| variant | boot to PID 1 | PID 1 start → agent start | of which: the move to a tmpfs | agent run (pod) | total wall |")
print("|---|---:|---:|---:|---:|---:|")
for v in "ABC":
    if not any(r[0] == v for r in rows): continue
    cells = [f"{med(v, i) / 1000:.2f} s" for i in (1, 2, 5, 3, 4)]
    if v == "C": cells[0] = cells[1] = cells[2] = "—"
    print(f"| {names[v]} | " + " | ".join(cells) + " |")
a, b = med("A", 4), med("B", 4)
print(f"\nmedians; total wall A/B = {a / b:.3f}, A/C = {a / med('C', 4):.1f}")
print(f"PID 1's own set-up (mounts, the move to a tmpfs, re-exec): podinit {med('A', 2)} ms (move {med('A', 5)} ms), shell {med('B', 2)} ms (move {med('B', 5)} ms)")
if sys.argv[3]:
    print(f"least guest memory that ran the demo Job (of 64/80/96/128/192/256 MiB): {sys.argv[3]} MiB")
PY
