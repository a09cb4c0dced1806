#!/usr/bin/env python3
"""Measures an init's own memory and its signal-forwarding latency, side by side.

Usage: init_harness.py spawn|rss|latency CHILD_BIN N NAME=CMD... (CMD is an argv, space-separated:
the whole command for spawn, the init's prefix for rss and latency, where empty means "no init").

spawn: posix_spawn + waitpid wall time of each command, interleaved per iteration (hyperfine
runs one command after the other, so load that comes and goes skews its comparison).

latency: CHILD_BIN blocks SIGTERM, writes "R" to the fd given as its argument, waits in
sigwait(), then writes its CLOCK_MONOTONIC time in ns. We record time.monotonic_ns() (the same
clock) right before kill(init_pid, SIGTERM); latency = child's receipt - our send. For the bare
row the child itself is signalled. Configurations are interleaved per iteration so that machine
noise hits them alike. Prints one JSON object per configuration.

rss: starts `CMD sleep 1`, reads the init's /proc/PID/status and smaps_rollup after 0.3 s;
N samples, medians.
"""
import json
import os
import signal
import statistics
import subprocess
import sys
import time


def configs(args):
    out = []
    for a in args:
        name, _, cmd = a.partition("=")
        out.append((name, cmd.split()))
    return out


def pct(xs, p):
    xs = sorted(xs)
    k = (len(xs) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def read_all(fd, n):
    buf = b""
    while True:
        chunk = os.read(fd, n)
        if not chunk:
            return buf
        buf += chunk
        if buf.endswith(b"\n") or len(buf) >= n:
            return buf


def one_latency(pre, child, settle):
    r, w = os.pipe()
    p = subprocess.Popen(pre + [child, str(w)], pass_fds=(w,), stdin=subprocess.DEVNULL)
    os.close(w)
    if os.read(r, 1) != b"R":
        raise SystemExit(f"{pre}: child did not get ready")
    if settle:
        time.sleep(settle)
    t0 = time.monotonic_ns()
    os.kill(p.pid, signal.SIGTERM)
    line = read_all(r, 64)
    os.close(r)
    rc = p.wait()
    if rc != 0:
        raise SystemExit(f"{pre}: exit {rc}")
    return int(line) - t0


def latency(child, n, cfgs):
    """A name ending in "@settled" waits SETTLE_S (0.2 s) after the child is ready before it
    signals, so a long-lived init's steady state is measured (podinit releases its start-up
    pages after 100 ms without events)."""
    settle_s = float(os.environ.get("SETTLE_S", "0.2"))
    samples = {name: [] for name, _ in cfgs}
    for _ in range(20):  # warm-up
        for name, pre in cfgs:
            one_latency(pre, child, 0)
    for _ in range(n):
        for name, pre in cfgs:
            settle = settle_s if name.endswith("@settled") else 0
            samples[name].append(one_latency(pre, child, settle) / 1000.0)
    for name, _ in cfgs:
        xs = samples[name]
        print(json.dumps({
            "name": name, "n": len(xs),
            "median_us": round(statistics.median(xs), 1),
            "p10_us": round(pct(xs, 10), 1),
            "p90_us": round(pct(xs, 90), 1),
        }))


def spawn(n, cfgs):
    """Wall time of posix_spawn + waitpid of each command line, interleaved per iteration."""
    samples = {name: [] for name, _ in cfgs}
    env = dict(os.environ)
    for i in range(n + 50):
        for name, argv in cfgs:
            t0 = time.perf_counter_ns()
            pid = os.posix_spawn(argv[0], argv, env)
            _, status = os.waitpid(pid, 0)
            t1 = time.perf_counter_ns()
            if status != 0:
                raise SystemExit(f"{argv}: status {status}")
            if i >= 50:  # warm-up
                samples[name].append((t1 - t0) / 1000.0)
    for name, _ in cfgs:
        xs = samples[name]
        print(json.dumps({
            "name": name, "n": len(xs),
            "median_us": round(statistics.median(xs), 1),
            "p10_us": round(pct(xs, 10), 1),
            "p90_us": round(pct(xs, 90), 1),
        }))


def status_kb(pid):
    vals = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                vals[k] = int(v.split()[0])
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                vals["Pss"] = int(line.split()[1])
    return vals


def rss(n, cfgs):
    for name, pre in cfgs:
        runs = []
        for _ in range(n):
            p = subprocess.Popen(pre + ["sleep", "1"], stdin=subprocess.DEVNULL)
            time.sleep(0.3)
            runs.append(status_kb(p.pid))
            p.wait()
        out = {"name": name, "n": n}
        for k in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "Pss"):
            out[k + "_kB"] = statistics.median(r[k] for r in runs)
        print(json.dumps(out))


if __name__ == "__main__":
    mode, child, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    cfgs = configs(sys.argv[4:])
    if mode == "latency":
        latency(child, n, cfgs)
    elif mode == "spawn":
        spawn(n, cfgs)
    else:
        rss(n, [(name, pre) for name, pre in cfgs if pre])
