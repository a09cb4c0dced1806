#!/usr/bin/env python3
"""The supervisor's CPU to start a pod of K containers, and the gate fan-out (issue 13 item 2).

Usage: curve.py WORK STAMP OUT.json LABEL=PODINIT [LABEL=PODINIT ...]
       curve.py --report OUT.json        (the markdown table of BENCHMARKS.md)

For each size K (SIZES, default 1,4,16,64), round after round (REPS, default 12), every binary
runs one pod, binaries rotated within a size so none always goes first. A pod is K containers:
one native sidecar `sc` (K = 1: one app) and K-1 apps, declared in an `io.podinit.pod-spec`
annotation. No runtime: each "container" is a holder process of this script (its pid is the
container's init pid) that waits on its stdin, then execs `podinit exec -- stamp ... hold`, as
`runc start` would let the held init go. Like `runc create` + `runc start` per container, in the
order bench/pod uses (apps first, all held at the gate; the sidecar last, which opens it):

  for each container: `podinit hook createRuntime` (the real hook, OCI state on stdin, the same
  binary as the supervisor), then its holder is let go.

Measured, from the supervisor's /proc/PID/schedstat (time on the CPU in ns; /proc/PID/stat's
utime + stime count 10 ms ticks, too coarse for a 1-container pod's ~2 ms):
  reg_cpu_us   supervisor CPU from just before the first registration until the last hook
               returned (K registrations, and the hellos of the inits let go meanwhile);
  start_cpu_us supervisor CPU from just before the first registration until every app has run
               its first instruction (registrations, hellos, `started` reports, the gate);
  gate_last_us the gate fan-out: the sidecar's first instruction → the last app's first
               instruction (stamp.c, CLOCK_MONOTONIC), also gate_p50_us;
  hook_us      createRuntime hook wall time (spawn → exit), median over the pod's hooks.
Then `podinit stop --grace 5` and the supervisor's exit; leftovers are SIGKILLed.

Everything lives under WORK (a tmpfs: the state dir of a sandbox is one), removed by the caller.
"""
import ctypes
import json
import os
import signal
import statistics
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36


def log(msg):
    print("curve: " + msg, file=sys.stderr, flush=True)


def cpu_ns(pid):
    with open("/proc/%d/schedstat" % pid) as f:
        return int(f.read().split()[0])


def spec_of(k):
    if k == 1:
        return ["a1"], {"restartPolicy": "Never",
                        "containers": [{"name": "a1", "image": "busybox"}]}
    names = ["sc"] + ["a%d" % i for i in range(1, k)]
    spec = {"restartPolicy": "Never",
            "initContainers": [{"name": "sc", "image": "busybox", "restartPolicy": "Always"}],
            "containers": [{"name": x, "image": "busybox"} for x in names[1:]]}
    return names, spec


def wait_until(pred, timeout, step=0.002):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


def stamps(path):
    out = {}
    try:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 3:
                    out.setdefault((parts[1], parts[2]), int(parts[0]))
    except OSError:
        pass
    return out


def up(podinit, env):
    r = subprocess.run([podinit, "status"], env=env, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return r.returncode == 0


def kill_descendants():
    """Everything reparented to this script (it is a subreaper) or still its child."""
    me = os.getpid()
    for _ in range(3):
        found = False
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % d) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == me:
                found = True
                try:
                    os.kill(int(d), signal.SIGKILL)
                except OSError:
                    pass
        while True:
            try:
                if os.waitpid(-1, os.WNOHANG) == (0, 0):
                    break
            except ChildProcessError:
                break
        if not found:
            return


def one_pod(work, seq, podinit, stamp, k):
    names, spec = spec_of(k)
    d = os.path.join(work, "p%d" % seq)
    os.makedirs(d)
    state = os.path.join(d, "state")
    env = dict(os.environ, PODINIT_SOCKET=os.path.join(d, "ctl.sock"), PODINIT_STATE_DIR=state)
    init_env = dict(env, PODINIT_SOCKET=os.path.join(state, "sock", "init.sock"))
    stampf = os.path.join(d, "stamps")
    sup = subprocess.Popen([podinit, "supervise"], env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=open(os.path.join(d, "sup.log"), "w"))
    r = {"k": k}
    try:
        if not wait_until(lambda: up(podinit, env), 10):
            raise RuntimeError("supervisor did not come up")
        text = json.dumps(spec)
        holders = {}
        for n in names:
            b = os.path.join(d, "b-" + n)
            os.makedirs(b)
            cfg = {"ociVersion": "1.0.2", "process": {"args": [stamp, stampf, n, "hold"]},
                   "root": {"path": "rootfs"},
                   # As `podinit inject` leaves a bundle: the hook need not mount the socket.
                   "mounts": [{"destination": "/.podinit/sock", "type": "bind",
                               "source": os.path.join(state, "sock"), "options": ["bind", "ro"]}],
                   "annotations": {"io.podinit.container-name": n, "io.podinit.pod": "curve",
                                   "io.podinit.pod-spec": text}}
            with open(os.path.join(b, "config.json"), "w") as f:
                json.dump(cfg, f)
            holders[n] = subprocess.Popen(
                ["/bin/sh", "-c", 'read x; exec "$@"', "holder", podinit, "exec", "--",
                 stamp, stampf, n, "hold"],
                env=init_env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                stderr=open(os.path.join(d, n + ".log"), "w"))
        order = list(reversed(names))  # apps first: all held when the sidecar starts
        hooks = []
        c0 = cpu_ns(sup.pid)
        for n in order:
            st = json.dumps({"ociVersion": "1.0.2", "id": "curve-%d-%s" % (seq, n),
                             "status": "creating", "pid": holders[n].pid,
                             "bundle": os.path.join(d, "b-" + n)})
            t0 = time.monotonic_ns()
            h = subprocess.run([podinit, "hook", "createRuntime"], input=st.encode(), env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
            hooks.append((time.monotonic_ns() - t0) / 1000)
            if h.returncode != 0:
                raise RuntimeError("hook of %s failed: %s" % (n, h.stderr.decode().strip()))
            holders[n].stdin.write(b"go\n")
            holders[n].stdin.close()
        r["reg_cpu_us"] = (cpu_ns(sup.pid) - c0) / 1000
        if not wait_until(lambda: all((n, "start") in stamps(stampf) for n in names), 30,
                          step=0.0005):
            raise RuntimeError("not every container started")
        # The last `started` report reaches the supervisor right after the app's exec.
        time.sleep(0.05)
        r["start_cpu_us"] = (cpu_ns(sup.pid) - c0) / 1000
        r["hook_us"] = statistics.median(hooks)
        st = stamps(stampf)
        if k > 1:
            gates = sorted((st[(n, "start")] - st[("sc", "start")]) / 1000 for n in names[1:])
            r["gate_first_us"] = gates[0]
            r["gate_p50_us"] = statistics.median(gates)
            r["gate_last_us"] = gates[-1]
        try:
            r["status_bytes"] = os.path.getsize(os.path.join(state, "pods", "curve",
                                                             "status.json"))
            r["journal_bytes"] = os.path.getsize(os.path.join(state, "pods", "curve",
                                                              "journal.jsonl"))
        except OSError:
            pass
        subprocess.run([podinit, "stop", "--grace", "5"], env=env, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        try:
            sup.wait(timeout=30)
        except subprocess.TimeoutExpired:
            r["stuck"] = True
        return r
    finally:
        if sup.poll() is None:
            sup.kill()
            sup.wait()
        kill_descendants()


def pct(xs, q):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    i = (len(xs) - 1) * q / 100
    lo = int(i)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (i - lo)


def report(path):
    """Markdown: per size and binary, the medians (and the interquartile range) of each pod."""
    doc = json.load(open(path))
    bins, sizes = doc["bins"], doc["sizes"]
    res = doc["results"]
    print("Pods per size and binary: %d, sizes and binaries interleaved (%.0f s in all)."
          % (doc["reps"], doc["seconds"]))
    print()
    print("| K | binary | supervisor CPU, K registrations | supervisor CPU, pod start "
          "(registrations, hellos, gate, started) | per container | createRuntime hook p50 "
          "| gate fan-out: first / p50 / last app | status.json | journal |")
    print("|---:|---|---:|---:|---:|---:|---|---:|---:|")
    for k in sizes:
        for b in bins:
            rs = res[b][str(k)]

            def col(key, scale=1000.0, unit="ms", fmt="%.1f"):
                xs = [r[key] / scale for r in rs if key in r]
                if not xs:
                    return "—"
                return (fmt + " %s [" + fmt + ", " + fmt + "]") % (
                    pct(xs, 50), unit, pct(xs, 25), pct(xs, 75))

            start = [r["start_cpu_us"] / 1000 for r in rs]
            gate = "—"
            if k > 1:
                gate = "%.1f / %.1f / %.1f ms" % tuple(
                    pct([r[x] / 1000 for r in rs], 50)
                    for x in ("gate_first_us", "gate_p50_us", "gate_last_us"))
            sb = pct([r.get("status_bytes", 0) for r in rs], 50) / 1024
            jb = pct([r.get("journal_bytes", 0) for r in rs], 50) / 1024
            print("| %d | %s | %s | %s | %.2f ms | %s | %s | %.1f kB | %.1f kB |" % (
                k, b, col("reg_cpu_us"), col("start_cpu_us"), pct(start, 50) / k,
                col("hook_us", fmt="%.2f"), gate, sb, jb))
    if len(bins) == 2:
        a, n = bins
        print()
        print("Ratio %s / %s of the medians (pod start CPU): %s." % (n, a, ", ".join(
            "K=%d %.2fx" % (k, pct([r["start_cpu_us"] for r in res[n][str(k)]], 50)
                            / pct([r["start_cpu_us"] for r in res[a][str(k)]], 50))
            for k in sizes)))


def main():
    if sys.argv[1] == "--report":
        report(sys.argv[2])
        return
    work, stamp, out_path = sys.argv[1], sys.argv[2], sys.argv[3]
    bins = [a.split("=", 1) for a in sys.argv[4:]]
    sizes = [int(x) for x in os.environ.get("SIZES", "1,4,16,64").split(",")]
    reps = int(os.environ.get("REPS", "12"))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise SystemExit("curve: cannot become a subreaper")
    results = {label: {k: [] for k in sizes} for label, _ in bins}
    seq = 0
    t_start = time.monotonic()
    for rep in range(reps):
        for k in sizes:
            turn = bins[rep % len(bins):] + bins[:rep % len(bins)]
            for label, podinit in turn:
                seq += 1
                results[label][k].append(one_pod(work, seq, podinit, stamp, k))
        log("round %d of %d done (%.0f s)" % (rep + 1, reps, time.monotonic() - t_start))
    with open(out_path, "w") as f:
        json.dump({"sizes": sizes, "reps": reps, "bins": [l for l, _ in bins],
                   "results": {l: {str(k): v for k, v in r.items()} for l, r in results.items()},
                   "seconds": time.monotonic() - t_start}, f, indent=1)


if __name__ == "__main__":
    main()
