#!/usr/bin/env python3
"""The supervisor's CPU to register a pod's K containers through the createRuntime hook path.

Usage: registration.py REPS K[,K...] NAME=BINARY...   (as root: the supervisor wants it)

For each repetition, size and binary (binaries interleaved): starts `BINARY supervise` in a new
temporary directory, then for each of K containers (one native sidecar, K-1 apps, one pod) starts
a `sleep` process as the container's "init" and runs `BINARY hook createRuntime` with its OCI state
on stdin, one after the other, as runc would. The bundles carry the /.podinit/sock mount that
`podinit inject` adds, so the hook bind-mounts nothing. The supervisor's CPU (the sum of its
threads' /proc/PID/task/*/schedstat run time, ns resolution) is read once it answers a status
request and again after the last hook returned; the difference is the registrations' cost.
Prints one JSON object per (binary, K): median and min CPU ms over REPS.
"""
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def cpu_ns(pid):
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    return total


def status_ok(sock):
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(2)
        s.connect(sock)
        s.sendall(b'{"v":1,"op":"status"}\n')
        line = s.makefile().readline()
        s.close()
        return '"ok":true' in line
    except OSError:
        return False


def one(binary, k):
    d = tempfile.mkdtemp(prefix="podinit-regbench-")
    env = {"PATH": "/usr/bin:/bin", "PODINIT_SOCKET": f"{d}/ctl.sock",
           "PODINIT_STATE_DIR": f"{d}/state"}
    sup = subprocess.Popen([binary, "supervise"], env=env, stdin=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    sleeps = []
    try:
        deadline = time.monotonic() + 10
        while not status_ok(env["PODINIT_SOCKET"]):
            if time.monotonic() > deadline or sup.poll() is not None:
                raise SystemExit(f"{binary}: supervisor did not come up")
            time.sleep(0.01)
        names = ["sc"] + [f"a{i}" for i in range(1, k)] if k > 1 else ["a1"]
        spec = {"restartPolicy": "Never", "containers": [{"name": n} for n in names[1:] or names]}
        if k > 1:
            spec["initContainers"] = [{"name": "sc", "restartPolicy": "Always"}]
        before = cpu_ns(sup.pid)
        for n in names:
            b = f"{d}/b/{n}"
            os.makedirs(f"{b}/rootfs")
            with open(f"{b}/config.json", "w") as f:
                json.dump({"ociVersion": "1.0.2", "root": {"path": "rootfs"},
                           "process": {"args": ["/bin/true"]},
                           "mounts": [{"destination": "/.podinit/sock", "type": "bind",
                                       "source": f"{d}/state/sock", "options": ["rbind", "ro"]}],
                           "annotations": {"io.podinit.container-name": n,
                                           "io.podinit.pod": f"bench{k}",
                                           "io.podinit.pod-spec": json.dumps(spec)}}, f)
            p = subprocess.Popen(["sleep", "600"], stdin=subprocess.DEVNULL)
            sleeps.append(p)
            state = json.dumps({"ociVersion": "1.0.2", "id": f"reg-{os.getpid()}-{n}",
                                "status": "creating", "pid": p.pid, "bundle": b})
            r = subprocess.run([binary, "hook", "createRuntime"], input=state.encode(), env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if r.returncode != 0:
                raise SystemExit(f"{binary}: hook for {n}: {r.stderr.decode()}")
        if not status_ok(env["PODINIT_SOCKET"]):  # every registration handled
            raise SystemExit(f"{binary}: supervisor gone")
        return (cpu_ns(sup.pid) - before) / 1e6
    finally:
        sup.send_signal(signal.SIGKILL)
        sup.wait()
        for p in sleeps:
            p.kill()
            p.wait()
        shutil.rmtree(d, ignore_errors=True)


def main():
    reps, sizes = int(sys.argv[1]), [int(x) for x in sys.argv[2].split(",")]
    cfgs = [a.partition("=")[::2] for a in sys.argv[3:]]
    got = {(n, k): [] for n, _ in cfgs for k in sizes}
    for _ in range(reps):
        for k in sizes:
            for name, binary in cfgs:
                got[(name, k)].append(one(binary, k))
    for (name, k), xs in got.items():
        print(json.dumps({"name": name, "containers": k, "reps": len(xs),
                          "median_ms": round(statistics.median(xs), 1),
                          "min_ms": round(min(xs), 1)}))


if __name__ == "__main__":
    main()
