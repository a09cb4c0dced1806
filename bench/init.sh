#!/usr/bin/env bash
# podinit exec vs Debian's tini-static, side by side in one run (SPEC section 5):
#   1. spawn+exit overhead of `INIT -- /bin/true` over bare /bin/true (hyperfine, medians; and an
#      interleaved posix_spawn loop, which load that comes and goes cannot skew);
#   2. the init's own memory while it runs `sleep 1` (/proc/PID/status, smaps_rollup);
#   3. signal-forwarding latency: kill(init, SIGTERM) -> the child's sigwait() returns.
# Both inits run off PID 1 as subreapers (podinit automatically, tini with -s).
#
# Usage: bash bench/init.sh   (RUNS, SPAWN_N, LAT_N, LAT_SETTLED_N, RSS_N override the counts)
# Needs: cargo, cc, python3, hyperfine, tini (apt-get install -y hyperfine tini).
# Prints a markdown report on stdout.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

RUNS=${RUNS:-2000}
SPAWN_N=${SPAWN_N:-2000}
LAT_N=${LAT_N:-300}
LAT_SETTLED_N=${LAT_SETTLED_N:-150}
RSS_N=${RSS_N:-7}
TINI=${TINI:-/usr/bin/tini-static}
TRUE=/bin/true

for tool in hyperfine python3 cc; do
    command -v "$tool" >/dev/null || { echo "bench/init.sh: $tool not found" >&2; exit 1; }
done
[ -x "$TINI" ] || { echo "bench/init.sh: $TINI not found (apt-get install -y tini)" >&2; exit 1; }

cargo build --release -q
PODINIT=target/x86_64-unknown-linux-gnu/release/podinit
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc -O2 -static -o "$work/sigwait_child" bench/sigwait_child.c

echo "## podinit exec vs tini-static"
echo
echo "Run: \`bash bench/init.sh\` ($(date -u +%Y-%m-%dT%H:%MZ); $(nproc) vCPU; kernel $(uname -r);"
echo "podinit $(stat -c %s "$PODINIT") bytes, tini-static $(stat -c %s "$TINI") bytes, both static glibc)."
echo

# --- 1. spawn + exit ---------------------------------------------------------------------------
hyperfine -N --style none --warmup 200 --runs "$RUNS" --export-json "$work/spawn.json" \
    "$TRUE" "$PODINIT exec -- $TRUE" "$TINI -s -- $TRUE" >/dev/null 2>&1

python3 bench/init_harness.py spawn - "$SPAWN_N" \
    "bare=$TRUE" "podinit=$PODINIT exec -- $TRUE" "tini-static=$TINI -s -- $TRUE" >"$work/spawn.jsonl"

# --- 2. memory -------------------------------------------------------------------------------
python3 bench/init_harness.py rss - "$RSS_N" \
    "podinit=$PODINIT exec --" "tini-static=$TINI -s --" >"$work/rss.jsonl"

# --- 3. forwarding latency -------------------------------------------------------------------
python3 bench/init_harness.py latency "$work/sigwait_child" "$LAT_N" \
    "bare=" "podinit=$PODINIT exec --" "tini-static=$TINI -s --" >"$work/lat.jsonl"
# the same once the init has been idle 0.2 s (steady state of a long-lived init)
python3 bench/init_harness.py latency "$work/sigwait_child" "$LAT_SETTLED_N" \
    "podinit@settled=$PODINIT exec --" "tini-static@settled=$TINI -s --" >>"$work/lat.jsonl"

python3 - "$work" "$RUNS" <<'PY'
import json, sys
work, runs = sys.argv[1], sys.argv[2]
spawn = json.load(open(f"{work}/spawn.json"))["results"]
med = [r["median"] * 1e6 for r in spawn]
p90 = []
for r in spawn:
    t = sorted(r["times"]); p90.append(t[int(0.9 * (len(t) - 1))] * 1e6)
bare, pod, tini = med
print(f"### 1. spawn + exit of /bin/true (hyperfine -N, {runs} runs each, median)\n")
print("| command | median µs | p90 µs | overhead over bare µs |")
print("|---|---:|---:|---:|")
names = ["/bin/true", "podinit exec -- /bin/true", "tini-static -s -- /bin/true"]
for n, m, q in zip(names, med, p90):
    print(f"| `{n}` | {m:.0f} | {q:.0f} | {m - bare:+.0f} |")
print(f"\npodinit/tini: total {pod / tini:.2f}x, overhead {(pod - bare) / (tini - bare):.2f}x\n")

sp = {j["name"]: j for j in map(json.loads, open(f"{work}/spawn.jsonl"))}
print(f"Interleaved posix_spawn + waitpid loop (n = {sp['bare']['n']} each):\n")
print("| command | median µs | p10 µs | p90 µs | overhead over bare µs |")
print("|---|---:|---:|---:|---:|")
for n, label in (("bare", "/bin/true"), ("podinit", "podinit exec -- /bin/true"), ("tini-static", "tini-static -s -- /bin/true")):
    j = sp[n]
    print(f"| `{label}` | {j['median_us']} | {j['p10_us']} | {j['p90_us']} | {j['median_us'] - sp['bare']['median_us']:+.1f} |")
b0, p0, t0 = (sp[n]["median_us"] for n in ("bare", "podinit", "tini-static"))
print(f"\npodinit/tini: total {p0 / t0:.2f}x, overhead {(p0 - b0) / (t0 - b0):.2f}x\n")

rss = {j["name"]: j for j in map(json.loads, open(f"{work}/rss.jsonl"))}
print(f"### 2. the init's own memory while it runs `sleep 1` (median of {rss['podinit']['n']})\n")
print("| init | VmRSS kB | VmHWM kB | RssAnon kB | RssFile kB | Pss kB |")
print("|---|---:|---:|---:|---:|---:|")
for n in ("podinit", "tini-static"):
    j = rss[n]
    print(f"| {n} | {j['VmRSS_kB']:.0f} | {j['VmHWM_kB']:.0f} | {j['RssAnon_kB']:.0f} | {j['RssFile_kB']:.0f} | {j['Pss_kB']:.0f} |")
print(f"\npodinit/tini: VmRSS {rss['podinit']['VmRSS_kB'] / rss['tini-static']['VmRSS_kB']:.2f}x\n")

lat = {j["name"]: j for j in map(json.loads, open(f"{work}/lat.jsonl"))}
print("### 3. signal forwarding, kill(init, TERM) → child's sigwait returns (configurations interleaved)\n")
print("| config | n | median µs | p10 µs | p90 µs |")
print("|---|---:|---:|---:|---:|")
for n in ("bare", "podinit", "tini-static", "podinit@settled", "tini-static@settled"):
    j = lat[n]
    label = n.replace("@settled", ", signalled after 0.2 s idle")
    print(f"| {label} | {j['n']} | {j['median_us']} | {j['p10_us']} | {j['p90_us']} |")
for suffix, what in (("", "at once"), ("@settled", "after 0.2 s idle")):
    p, t = lat["podinit" + suffix], lat["tini-static" + suffix]
    print(f"\npodinit/tini, signalled {what}: median {p['median_us'] / t['median_us']:.2f}x, "
          f"p90 {p['p90_us'] / t['p90_us']:.2f}x")
PY
