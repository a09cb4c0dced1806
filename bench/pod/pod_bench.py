#!/usr/bin/env python3
"""Pod-level benchmarks of podinit (SPEC section 5), side by side with their anchors in one run.

Usage: pod_bench.py WORK PODINIT STAMP HOOKWRAP RESULTS.json   (run by bench/pod/run.sh)

Real runc containers of real pods, created one after the other by this process (a serial
agent and the container inits' subreaper, like integration/pod/agent.py), next to a real
`podinit supervise`. Every container runs `stamp` (stamp.c): it writes CLOCK_MONOTONIC
nanoseconds of its first instruction and of the events measured (SIGTERM received, last line
before exit) to a shared file; this process reads the same clock (time.monotonic_ns). The
kernel's own timestamps of the same events come from a private ftrace instance (`Tracer`:
exec, exit, SIGTERM generated), which the stamps' scheduling noise does not reach. The shell
variant of the gate/teardown pod uses busybox `adjtimex` (CLOCK_REALTIME µs) like the
integration harness's `tlog`.

Where things live: a tmpfs mounted on WORK/t (bundles, rootfs, runc --root, state dirs: a
sandbox's /run/podinit is a tmpfs), WORK/d for the "state dir on disk" variants (WORK's own
filesystem), one network namespace for every pod. Cleanup (also on SIGTERM): containers
deleted -f, supervisors killed, ftrace instance removed, tmpfs and tracefs unmounted; run.sh
repeats it from the files in WORK if this process dies.

Sections (all results in one JSON document):
  hooks     hook invocation, process start to exit (posix_spawn + waitpid), interleaved per
            iteration with the anchor /bin/true spawned the same way (same stdin, same env)
  gate      gate release + teardown reaction, in a Job pod (native sidecar + app): kernel
            times, C stamps, busybox-shell stamps, and the state dir on disk; anchor: bare
            `runc start` → the process exec'd / its first instruction
  podstart  whole-pod start, serial create+start until every process has stamped "start":
            bare runc vs injected + supervisor (no sidecar) vs injected with a native sidecar
  idle      context switches of the supervisor and the containers' inits over 10 s of nothing
            happening, then strace -c over another 10 s
  curve     pods of 1, 4, 16, 64 containers: supervisor RSS, hook latencies as runc ran them
            (hookwrap.c), poststart hook latency against the loaded supervisor, gate fan-out,
            teardown reaction
"""

import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

from report import pct  # one percentile definition for the driver and the report

PR_SET_CHILD_SUBREAPER = 36
PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
STAMPS = "/shared/stamps.log"
# busybox `adjtimex` prints tv_usec in nanoseconds while the kernel's STA_NANO status bit (8192)
# is set (a clock once stepped with ADJ_NANO, e.g. a restored VM): the same reading as the
# integration tests' SH_NOW_US (integration/pod/mod.rs).
SH_TLOG = ("tlog() { echo \"$(adjtimex | awk '/status:/{s=$2} /tv_sec:/{t=$2} /tv_usec:/{u=$2} "
           "END{if (int(s/8192)%2) u=int(u/1000); printf \"%d%06d\", t, u}') "
           "$BENCH_NAME $*\" >>/shared/shell.log; }")


def log(msg):
    sys.stderr.write("[%7.2fs] %s\n" % (time.monotonic() - T_START, msg))
    sys.stderr.flush()


T_START = time.monotonic()


def summary(xs):
    """p50/p90/min/max of a sample list (µs or whatever unit it is in)."""
    if not xs:
        return {"n": 0}
    return {"n": len(xs), "p50": pct(xs, 50), "p90": pct(xs, 90), "p10": pct(xs, 10),
            "min": min(xs), "max": max(xs)}


def run_blocking(cmd, timeout, **popen_args):
    """subprocess.run, but the wait for the exit blocks in waitpid and a timer enforces the
    time-out. subprocess.run(timeout=...) polls with sleeps that double up to 50 ms (Python
    3.11: checks at ~0, 1, 3, 7, 15, 31, 63 ms...), which quantized every `runc create` of ~31-35
    ms to "33 ms or 65 ms" and delayed the next create by as much; this made an earlier version
    of this benchmark report a bimodal runc and a worse pod-start ratio than the real one."""
    p = subprocess.Popen(cmd, **popen_args)
    expired = threading.Event()

    def expire():
        expired.set()
        p.kill()

    timer = threading.Timer(timeout, expire)
    timer.start()
    try:
        out, err = p.communicate()
    finally:
        timer.cancel()
    if expired.is_set():
        raise subprocess.TimeoutExpired(cmd, timeout)
    return subprocess.CompletedProcess(cmd, p.returncode, out, err)


def wait_until(pred, timeout, step=0.001):
    deadline = time.monotonic() + timeout
    while True:
        if pred():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(step)


def proc_status(pid):
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "voluntary_ctxt_switches",
                         "nonvoluntary_ctxt_switches"):
                    out[k] = int(v.split()[0])
    except OSError:
        pass
    return out


class Tracer:
    """Kernel timestamps of the events measured, from a private ftrace instance (tracefs mounted
    in the work dir, trace_clock=mono, i.e. CLOCK_MONOTONIC like the stamps): forks by podinit
    (an init spawning its app), execs of /bin/stamp, exits of stamp processes, SIGTERM sent to a
    stamp process. Not available (no tracefs): `ok` is False and the kernel columns are n/a."""

    EVENTS = {
        "sched/sched_process_fork": 'parent_comm == "podinit"',
        "sched/sched_process_exec": 'filename ~ "*/stamp"',
        "sched/sched_process_exit": 'comm == "stamp"',
        "signal/signal_generate": 'sig == 15 && comm == "stamp"',
    }

    def __init__(self, work):
        self.ok = False
        self.mnt = os.path.join(work, "tracefs")
        self.inst = None
        os.makedirs(self.mnt, exist_ok=True)
        if subprocess.run(["mount", "-t", "tracefs", "nodev", self.mnt],
                          stderr=subprocess.DEVNULL).returncode != 0:
            self.why = "cannot mount tracefs"
            return
        self.mounted = True
        try:
            self.inst = os.path.join(self.mnt, "instances", "pb-%d" % os.getpid())
            os.mkdir(self.inst)
            self.put("trace_clock", "mono")
            self.put("buffer_size_kb", "8192")
            for ev, flt in self.EVENTS.items():
                self.put("events/%s/filter" % ev, flt)
                self.put("events/%s/enable" % ev, "1")
            self.put("tracing_on", "1")
            self.ok = True
        except OSError as e:
            self.why = "ftrace instance: %s" % e

    def put(self, rel, value):
        with open(os.path.join(self.inst, rel), "w") as f:
            f.write(value)

    def clear(self):
        if self.ok:
            self.put("trace", "")

    def read(self):
        """[(t_ns, event, {field: value})] since the last clear."""
        out = []
        if not self.ok:
            return out
        with open(os.path.join(self.inst, "trace")) as f:
            for line in f:
                if line.startswith("#"):
                    continue
                head, sep, rest = line.partition(": ")
                if not sep:
                    continue
                ts = head.split()[-1]
                ev, _, fields = rest.partition(": ")
                try:
                    sec, _, frac = ts.partition(".")
                    t = int(sec) * 1_000_000_000 + int(frac.ljust(9, "0")[:9])
                except ValueError:
                    continue
                kv = {}
                for part in fields.split():
                    k, _, v = part.partition("=")
                    kv[k] = v
                out.append((t, ev.strip(), kv))
        return out

    def close(self):
        if self.inst and os.path.isdir(self.inst):
            try:
                self.put("tracing_on", "0")
                for ev in self.EVENTS:
                    self.put("events/%s/enable" % ev, "0")
            except OSError:
                pass
            try:
                os.rmdir(self.inst)
            except OSError:
                pass
        if getattr(self, "mounted", False):
            subprocess.run(["umount", self.mnt], stderr=subprocess.DEVNULL)
            self.mounted = False


def kernel_times(events, inits, managed):
    """Per container: exec of its stamp process, its exit, the first SIGTERM sent to it.
    `inits`: {name: host pid of the container's init}. A managed container's stamp is a child
    of its init (podinit exec forks it); a bare container's init is the stamp itself."""
    by_init = {pid: name for name, pid in inits.items()}
    proc = {}  # stamp host pid -> container name
    if not managed:
        proc = dict(by_init)
    out = {}
    for t, ev, f in events:
        try:
            if ev == "sched_process_fork" and managed:
                parent = int(f.get("pid", -1))
                if parent in by_init:
                    proc[int(f["child_pid"])] = by_init[parent]
            elif ev == "sched_process_exec":
                name = proc.get(int(f["pid"]))
                if name:
                    out.setdefault(name, {}).setdefault("exec", t)
            elif ev == "sched_process_exit":
                name = proc.get(int(f["pid"]))
                if name:
                    out.setdefault(name, {}).setdefault("exit", t)
            elif ev == "signal_generate":
                name = proc.get(int(f["pid"]))
                if name:
                    out.setdefault(name, {}).setdefault("term_sent", t)
        except (KeyError, ValueError):
            continue
    return out


class Supervisor:
    def __init__(self, bench, d):
        self.b = bench
        self.dir = d
        self.state = os.path.join(d, "state")
        self.socket = os.path.join(d, "ctl.sock")
        os.makedirs(self.state, exist_ok=True)
        self.logf = open(os.path.join(d, "supervisor.log"), "ab")
        t0 = time.monotonic_ns()
        self.p = subprocess.Popen(
            [bench.podinit, "supervise", "--exit-with-pod", "--socket", self.socket,
             "--state-dir", self.state],
            stdin=subprocess.DEVNULL, stdout=self.logf, stderr=self.logf)
        bench.children[self.p.pid] = self.p
        bench.note_pid(self.p.pid)
        init_sock = os.path.join(self.state, "sock", "init.sock")
        if not wait_until(lambda: (os.path.exists(self.socket) and os.path.exists(init_sock))
                          or not self.alive(), 10):
            raise RuntimeError("supervisor in %s did not come up" % d)
        if not self.alive():
            raise RuntimeError("supervisor in %s exited at once (%s)" % (d, self.p.returncode))
        self.up_us = (time.monotonic_ns() - t0) / 1000
        self.pid = self.p.pid
        self.env = {"PODINIT_SOCKET": self.socket, "PODINIT_STATE_DIR": self.state}

    def alive(self):
        # Reaped by Bench.reap (wait4, which keeps the rusage), never by Popen itself.
        self.b.reap()
        return self.p.returncode is None

    def kill(self):
        if self.alive():
            self.p.kill()
        wait_until(lambda: not self.alive(), 10)
        self.logf.close()

    def status(self):
        try:
            with open(os.path.join(self.state, "status.json")) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}


class Bench:
    def __init__(self, work, podinit, stamp, hookwrap):
        # Pods, bundles and state dirs live on a tmpfs (as /run/podinit does on a sandbox); the
        # "state dir on disk" variants put the supervisor's state dir on WORK's own filesystem.
        self.disk = os.path.join(work, "d")
        os.makedirs(self.disk, exist_ok=True)
        self.disk_fs = subprocess.run(["stat", "-f", "-c", "%T", self.disk], capture_output=True,
                                      text=True).stdout.strip()
        fast = os.path.join(work, "t")
        os.makedirs(fast, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=755", "tmpfs", fast], check=True)
        self.fast_mounted = fast
        self.top = work
        work = fast
        self.work = work
        self.podinit = podinit
        self.stamp = stamp
        self.hookwrap = hookwrap
        # Optional: the same stamp.c built with musl-gcc (a no-op exec without glibc's start-up).
        self.stamp_musl = os.environ.get("STAMP_MUSL") or None
        self.runc_root = os.path.join(work, "runc")
        self.rootfs = os.path.join(work, "rootfs")
        self.netns = "pb-%d" % os.getpid()
        self.seq = 0
        self.created = []  # runc ids that may exist
        self.children = {}  # pid -> Popen we own (supervisors), for the generic reaper
        self.inits = set()  # container init pids (reparented to us)
        self.rusage = {}  # reaped pid -> CPU µs (user + system)
        self.pids_file = os.path.join(self.top, "pids")
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            raise RuntimeError("prctl(PR_SET_CHILD_SUBREAPER) failed")
        self.build_rootfs()
        tdir = os.path.join(work, "template")
        os.makedirs(tdir, exist_ok=True)
        subprocess.run(["runc", "spec", "--bundle", tdir], check=True)
        with open(os.path.join(tdir, "config.json")) as f:
            self.template = json.load(f)
        subprocess.run(["ip", "netns", "add", self.netns], check=True)
        with open(os.path.join(self.top, "netns"), "w") as f:
            f.write(self.netns)
        subprocess.run(["ip", "netns", "exec", self.netns, "ip", "link", "set", "lo", "up"],
                       check=True)
        self.tracer = Tracer(self.top)

    def note_pid(self, pid):
        with open(self.pids_file, "a") as f:
            f.write("%d\n" % pid)

    def build_rootfs(self):
        r = self.rootfs
        for d in ("bin", "dev", "etc", "proc", "root", "shared", "sys", "tmp"):
            os.makedirs(os.path.join(r, d), exist_ok=True)
        os.chmod(os.path.join(r, "tmp"), 0o1777)
        shutil.copy("/bin/busybox", os.path.join(r, "bin/busybox"))
        shutil.copy(self.stamp, os.path.join(r, "bin/stamp"))
        applets = subprocess.run(["/bin/busybox", "--list"], capture_output=True, text=True).stdout
        for a in applets.split():
            if a and a != "busybox" and "/" not in a:
                os.symlink("busybox", os.path.join(r, "bin", a))
        with open(os.path.join(r, "etc/passwd"), "w") as f:
            f.write("root:x:0:0:root:/root:/bin/sh\n")
        with open(os.path.join(r, "etc/group"), "w") as f:
            f.write("root:x:0:\n")

    # ----- processes ---------------------------------------------------------------------

    def reap(self):
        """Reaps every exited child: container inits (reparented to us) and our own Popens
        (keeping their rusage: a supervisor's CPU time)."""
        while True:
            try:
                pid, status, ru = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.rusage[pid] = (ru.ru_utime + ru.ru_stime) * 1e6
            self.inits.discard(pid)
            p = self.children.pop(pid, None)
            if p is not None and p.returncode is None:
                p.returncode = os.waitstatus_to_exitcode(status)

    def runc(self, *args, stdout=None, timeout=30, check=True):
        cmd = ["runc", "--root", self.runc_root] + list(args)
        if stdout is not None:
            r = run_blocking(cmd, timeout, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stdout)
        else:
            r = run_blocking(cmd, timeout, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        if check and r.returncode != 0:
            err = (r.stderr or b"").decode(errors="replace").strip() if stdout is None else ""
            raise RuntimeError("%s: exit %d %s" % (" ".join(cmd), r.returncode, err))
        return r

    # ----- pods --------------------------------------------------------------------------

    def pod(self, tag, containers, spec=None, managed=True, wrap_hooks=False, disk=False,
            no_hooks=False):
        return Pod(self, tag, containers, spec, managed, wrap_hooks, disk, no_hooks)

    def cleanup(self):
        for cid in self.created:
            try:
                self.runc("delete", "-f", cid, check=False, timeout=20)
            except Exception:
                pass
        self.created = []
        self.reap()
        for p in list(self.children.values()):
            if p.returncode is None:
                try:
                    p.kill()
                except OSError:
                    pass
        wait_until(lambda: (self.reap() or True) and all(
            p.returncode is not None for p in self.children.values()), 5)
        self.tracer.close()
        if self.fast_mounted:
            subprocess.run(["umount", "-l", self.fast_mounted], stderr=subprocess.DEVNULL)
            self.fast_mounted = None


def make_config(b, pod_name, shared, name, args, spec):
    """runc spec's config.json, edited as JSON: the args, the shared rootfs read-only, /shared
    bind-mounted, the pod's network namespace, the container name and pod spec annotations."""
    cfg = json.loads(json.dumps(b.template))
    p = cfg["process"]
    p["terminal"] = False
    p["args"] = args
    p["cwd"] = "/"
    p["env"] = [PATH, "BENCH_NAME=" + name]
    cfg["root"] = {"path": b.rootfs, "readonly": True}
    cfg["hostname"] = pod_name
    cfg.setdefault("mounts", []).append(
        {"destination": "/shared", "type": "bind", "source": shared, "options": ["rbind", "rw"]})
    ns = cfg["linux"]["namespaces"]
    net = [n for n in ns if n["type"] == "network"]
    path = "/var/run/netns/" + b.netns
    if net:
        net[0]["path"] = path
    else:
        ns.append({"type": "network", "path": path})
    a = cfg.setdefault("annotations", {})
    a["io.podinit.container-name"] = name
    if spec is not None:
        a["io.podinit.pod-spec"] = json.dumps(spec)
    return cfg


class Pod:
    """One pod: a directory, a shared /shared, bundles, optionally a supervisor."""

    def __init__(self, bench, tag, containers, spec, managed, wrap_hooks, disk=False,
                 no_hooks=False):
        self.b = bench
        bench.seq += 1
        self.name = "%s%d" % (tag, bench.seq)
        self.dir = os.path.join(bench.work, "p", self.name)
        self.shared = os.path.join(self.dir, "shared")
        os.makedirs(self.shared, mode=0o777)
        os.chmod(self.shared, 0o777)
        self.stamps_path = os.path.join(self.shared, "stamps.log")
        self.hooklog = os.path.join(self.dir, "hooks.log")
        self.containers = containers  # [(name, args)]
        self.ids = {}
        self.pids = {}
        self.timings = {}
        self.sup_dir = os.path.join(bench.disk, self.name) if disk else self.dir
        self.sup = Supervisor(bench, self.sup_dir) if managed else None
        self.managed = managed
        t_inject = []
        for name, args in containers:
            bdir = os.path.join(self.dir, "b", name)
            os.makedirs(bdir)
            cfg = self.config(name, args, spec)
            with open(os.path.join(bdir, "config.json"), "w") as f:
                json.dump(cfg, f)
            self.ids[name] = "%s-%d-%s" % (self.name, os.getpid(), name)
            if managed:
                # --no-hooks: the init claims its registration (issue 13); no hooks to time. The
                # other variants keep the hooks explicitly (no longer inject's default).
                extra = ["--no-hooks", "--id", self.ids[name]] if no_hooks else ["--hooks"]
                t = time.monotonic_ns()
                subprocess.run([bench.podinit, "inject", "--socket", self.sup.socket,
                                "--state-dir", self.sup.state] + extra + [bdir], check=True,
                               stdin=subprocess.DEVNULL, stdout=self.sup.logf, stderr=self.sup.logf)
                t_inject.append((time.monotonic_ns() - t) / 1000)
                if wrap_hooks and not no_hooks:
                    self.wrap(os.path.join(bdir, "config.json"))
        self.inject_us = t_inject

    def config(self, name, args, spec):
        return make_config(self.b, self.name, self.shared, name, args, spec)

    def wrap(self, path):
        """Points podinit's hooks at hookwrap, which times each run into hooks.log."""
        with open(path) as f:
            cfg = json.load(f)
        for stage, hooks in cfg.get("hooks", {}).items():
            for h in hooks:
                if h.get("path", "").endswith("podinit") and "hook" in h.get("args", []):
                    h["args"] = ["hookwrap", self.hooklog, stage, h["path"]] + h["args"]
                    h["path"] = self.b.hookwrap
        with open(path, "w") as f:
            json.dump(cfg, f)

    def create(self, name):
        cid = self.ids[name]
        bdir = os.path.join(self.dir, "b", name)
        pidf = os.path.join(self.dir, "b", name + ".pid")
        self.b.created.append(cid)
        with open(os.path.join(self.dir, name + ".out"), "ab") as out:
            t0 = time.monotonic_ns()
            self.b.runc("create", "--bundle", bdir, "--pid-file", pidf, cid, stdout=out)
            t1 = time.monotonic_ns()
        with open(pidf) as f:
            pid = int(f.read().strip())
        self.pids[name] = pid
        self.b.inits.add(pid)
        self.timings.setdefault(name, {}).update(create0=t0, create1=t1)
        return pid

    def start(self, name):
        t0 = time.monotonic_ns()
        self.b.runc("start", self.ids[name])
        t1 = time.monotonic_ns()
        self.timings.setdefault(name, {}).update(start0=t0, start1=t1)

    def create_start(self, names):
        for n in names:
            self.create(n)
            self.start(n)

    def stamps(self):
        """{(label, event): ns}: the first of each."""
        out = {}
        try:
            with open(self.stamps_path) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) == 3:
                        out.setdefault((parts[1], parts[2]), int(parts[0]))
        except OSError:
            pass
        return out

    def shell_stamps(self):
        out = {}
        try:
            with open(os.path.join(self.shared, "shell.log")) as f:
                for line in f:
                    parts = line.split(None, 2)
                    if len(parts) == 3:
                        out[(parts[1], parts[2].strip())] = int(parts[0])
        except OSError:
            pass
        return out

    def hook_times(self):
        """[(stage, start_ns, end_ns, code)] in the order runc ran them."""
        out = []
        try:
            with open(self.hooklog) as f:
                for line in f:
                    s, a, b, c = line.split()
                    out.append((s, int(a), int(b), int(c)))
        except OSError:
            pass
        return out

    def wait_stamps(self, keys, timeout=20):
        return wait_until(lambda: all(k in self.stamps() for k in keys), timeout)

    def wait_supervisor_exit(self, timeout=30):
        ok = wait_until(lambda: not self.sup.alive(), timeout, step=0.002)
        return ok

    def delete_containers(self):
        for name, cid in self.ids.items():
            if cid in self.b.created:
                self.b.runc("delete", "-f", cid, check=False, timeout=20)
                self.b.created.remove(cid)

    def destroy(self):
        self.delete_containers()
        if self.sup is not None:
            self.sup.kill()
        self.b.reap()
        shutil.rmtree(self.dir, ignore_errors=True)
        shutil.rmtree(self.sup_dir, ignore_errors=True)


# ----- spawning a command the way runc runs a hook ----------------------------------------------


def spawn_timed(argv, stdin_path, env):
    """posix_spawn + waitpid wall time in µs, stdin from a file, stdout/stderr /dev/null."""
    fa = [(os.POSIX_SPAWN_OPEN, 0, stdin_path, os.O_RDONLY, 0),
          (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
          (os.POSIX_SPAWN_OPEN, 2, "/dev/null", os.O_WRONLY, 0)]
    t0 = time.perf_counter_ns()
    pid = os.posix_spawn(argv[0], argv, env, file_actions=fa)
    _, status = os.waitpid(pid, 0)
    t1 = time.perf_counter_ns()
    return (t1 - t0) / 1000.0, os.waitstatus_to_exitcode(status)


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f)


# ----- 1. hooks -------------------------------------------------------------------------------


def bench_hooks(b, n):
    """createRuntime registers a new container each time: pods of 4 declared app containers,
    a fresh supervisor per pod (so the supervisor holds 0..3 containers when a hook runs);
    poststart goes to the same supervisor. All four commands interleaved per iteration."""
    names = ["c0", "c1", "c2", "c3"]
    spec = {"restartPolicy": "Never",
            "containers": [{"name": x, "image": "busybox"} for x in names]}
    d = os.path.join(b.work, "hooks")
    os.makedirs(d)
    bundles = {}
    for x in names:
        bd = os.path.join(d, "b", x)
        os.makedirs(bd)
        # A real bundle: the pod's config as the pod benchmarks use it, injected.
        pod_cfg = make_config(b, "hooks", d, x, ["/bin/stamp", STAMPS, x, "hold"], spec)
        with open(os.path.join(bd, "config.json"), "w") as f:
            json.dump(pod_cfg, f)
        subprocess.run([b.podinit, "inject", "--socket", os.path.join(d, "ctl.sock"),
                        "--state-dir", os.path.join(d, "state"), bd], check=True)
        bundles[x] = bd
    cfg_bytes = os.path.getsize(os.path.join(bundles["c0"], "config.json"))
    sleeper = subprocess.Popen(["sleep", "3600"], stdin=subprocess.DEVNULL)
    b.children[sleeper.pid] = sleeper
    b.note_pid(sleeper.pid)
    states = os.path.join(d, "states")
    os.makedirs(states)
    base_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    samples = {"true": [], "c_glibc": [], "c_musl": [], "version": [], "createRuntime": [],
               "poststart": [],
               "createRuntime_disk": [], "poststart_disk": []}
    failures = {k: 0 for k in samples}
    batches = (n + len(names) - 1) // len(names)
    sup_up = []
    for batch in range(-2, batches):  # two warm-up pods
        sd = os.path.join(d, "s%d" % batch)
        os.makedirs(sd)
        sup = Supervisor(b, sd)
        sup_up.append(sup.up_us)
        env = dict(base_env, **sup.env)
        sdd = os.path.join(b.disk, "hooks-s%d" % batch)
        sup_d = Supervisor(b, sdd)
        env_d = dict(base_env, **sup_d.env)
        for x in names:
            cid = "hk%d-%s" % (batch + 2, x)
            st_create = os.path.join(states, cid + ".create.json")
            st_post = os.path.join(states, cid + ".post.json")
            with open(st_create, "w") as f:
                json.dump({"ociVersion": "1.0.2", "id": cid, "status": "creating",
                           "pid": sleeper.pid, "bundle": bundles[x]}, f)
            with open(st_post, "w") as f:
                json.dump({"ociVersion": "1.0.2", "id": cid, "status": "running",
                           "pid": sleeper.pid, "bundle": bundles[x]}, f)
            runs = [("true", ["/bin/true"], st_post, env),
                    ("c_glibc", [b.stamp, "/dev/null", "x", "exit"], st_post, env)] + (
                [("c_musl", [b.stamp_musl, "/dev/null", "x", "exit"], st_post, env)]
                if b.stamp_musl else []) + [
                    ("version", [b.podinit, "--version"], st_post, env),
                    ("createRuntime", [b.podinit, "hook", "createRuntime"], st_create, env),
                    ("poststart", [b.podinit, "hook", "poststart"], st_post, env),
                    ("createRuntime_disk", [b.podinit, "hook", "createRuntime"], st_create,
                     env_d),
                    ("poststart_disk", [b.podinit, "hook", "poststart"], st_post, env_d)]
            for name, argv, st, e in runs:
                us, code = spawn_timed(argv, st, e)
                if batch >= 0:
                    samples[name].append(us)
                    if code != 0:
                        failures[name] += 1
        registered = len(sup.status().get("containers", []))
        if batch == 0 and registered != len(names):
            log("hooks: supervisor registered %d of %d containers" % (registered, len(names)))
        sup.kill()
        sup_d.kill()
        b.reap()
        shutil.rmtree(sd, ignore_errors=True)
        shutil.rmtree(sdd, ignore_errors=True)
    sleeper.kill()
    wait_until(lambda: (b.reap() or True) and sleeper.returncode is not None, 5)
    return {"samples_us": samples, "failures": failures, "config_bytes": cfg_bytes,
            "supervisor_up_us": summary(sup_up)}


# ----- 2 + 3. gate release and teardown reaction ----------------------------------------------


# The app works this long between its first and its last line: the sidecar's process is "started"
# once exec'd (no probe), and a SIGTERM that reached it before its own first instruction
# (blocking SIGTERM) would kill it unlogged. Not part of any interval measured.
APP_WORK_MS = "50"
JOB_SPEC = {"restartPolicy": "Never",
            "initContainers": [{"name": "sc", "image": "busybox", "restartPolicy": "Always"}],
            "containers": [{"name": "app", "image": "busybox"}]}


def job_pod_c(b, disk=False):
    p = b.pod("gd" if disk else "gc", [("sc", ["/bin/stamp", STAMPS, "sc", "hold"]),
                                       ("app", ["/bin/stamp", STAMPS, "app", "last",
                                                APP_WORK_MS])],
              JOB_SPEC, disk=disk)
    b.tracer.clear()
    # The app first: it is held at its gate when the sidecar starts (reverse order).
    p.create_start(["app", "sc"])
    ok = p.wait_supervisor_exit(30)
    st = p.stamps()
    kt = kernel_times(b.tracer.read(), p.pids, True)
    status = p.sup.status()
    res = {"ok": ok, "supervisor_exit": p.sup.p.returncode, "phase": status.get("phase")}
    res["codes"] = {c.get("name"): [c.get("exitCode"), c.get("rawExitCode")]
                    for c in status.get("containers", [])}
    try:
        # First instruction of the sidecar's process → first instruction of the app's.
        res["gate_stamp_us"] = (st[("app", "start")] - st[("sc", "start")]) / 1000
        # The app's last line (then exit) → the sidecar's SIGTERM received (sigwait returned).
        res["teardown_stamp_us"] = (st[("sc", "term")] - st[("app", "last")]) / 1000
    except KeyError as e:
        res["missing"] = str(e)
    try:
        # Kernel: sidecar process exec'd → app process exec'd.
        res["gate_exec_us"] = (kt["app"]["exec"] - kt["sc"]["exec"]) / 1000
        # Kernel: app process exited → SIGTERM generated for the sidecar's process; and → the
        # sidecar's process has it (its stamp after sigwait returned).
        res["teardown_sent_us"] = (kt["sc"]["term_sent"] - kt["app"]["exit"]) / 1000
        res["teardown_recv_us"] = (st[("sc", "term")] - kt["app"]["exit"]) / 1000
        # Scheduling noise of the stamps themselves: exec → first instruction.
        res["exec_to_main_us"] = [(st[(n, "start")] - kt[n]["exec"]) / 1000
                                  for n in ("sc", "app")]
    except KeyError as e:
        if b.tracer.ok:
            res["missing_kernel"] = str(e)
    p.destroy()
    return res


def job_pod_sh(b):
    sc = SH_TLOG + "; tlog start; trap 'tlog term; exit 0' TERM; sleep 1000 & wait $!"
    app = SH_TLOG + "; tlog start; sleep 0.%s; tlog last; exit 0" % APP_WORK_MS.zfill(3)
    p = b.pod("gs", [("sc", ["sh", "-c", sc]), ("app", ["sh", "-c", app])], JOB_SPEC)
    p.create_start(["app", "sc"])
    ok = p.wait_supervisor_exit(30)
    st = p.shell_stamps()
    res = {"ok": ok, "phase": p.sup.status().get("phase")}
    try:
        res["gate_us"] = st[("app", "start")] - st[("sc", "start")]
        res["teardown_us"] = st[("sc", "term")] - st[("app", "last")]
    except KeyError as e:
        res["missing"] = str(e)
    p.destroy()
    return res


def bare_runc_start(b):
    """The anchor: `runc start` of a created bare container → its process exec'd (kernel) and
    → its first instruction (stamp)."""
    p = b.pod("ra", [("x", ["/bin/stamp", STAMPS, "x", "exit"])], None, managed=False)
    p.create("x")
    b.tracer.clear()
    t0 = time.monotonic_ns()
    p.start("x")
    t1 = time.monotonic_ns()
    ok = p.wait_stamps([("x", "start")], 10)
    st = p.stamps()
    kt = kernel_times(b.tracer.read(), p.pids, False)
    res = {"ok": ok, "runc_start_wall_us": (t1 - t0) / 1000}
    if ok:
        res["start_to_main_us"] = (st[("x", "start")] - t0) / 1000
    if "exec" in kt.get("x", {}):
        res["start_to_exec_us"] = (kt["x"]["exec"] - t0) / 1000
    wait_until(lambda: (b.reap() or True) and p.pids["x"] not in b.inits, 5)
    p.destroy()
    return res


def stamp_costs(b):
    """Cost of one timestamp in a container, both kinds, measured in this run."""
    out = {}
    p = b.pod("sc", [("c", ["/bin/stamp", STAMPS, "c", "cost"]),
                     ("s", ["sh", "-c", SH_TLOG + "; i=0; while [ $i -lt 41 ]; do tlog c$i; "
                            "i=$((i+1)); done"])], None, managed=False)
    p.create_start(["c", "s"])
    wait_until(lambda: ("c", "c200") in p.stamps()
               and ("s", "c40") in p.shell_stamps(), 30)
    st = p.stamps()
    c = [st[("c", "c%d" % i)] for i in range(201) if ("c", "c%d" % i) in st]
    out["stamp_ns"] = summary([(y - x) for x, y in zip(c, c[1:])])
    sh = p.shell_stamps()
    s = [sh[("s", "c%d" % i)] for i in range(41) if ("s", "c%d" % i) in sh]
    out["tlog_us"] = summary([(y - x) for x, y in zip(s, s[1:])])
    wait_until(lambda: (b.reap() or True) and not (set(p.pids.values()) & b.inits), 5)
    p.destroy()
    return out


def bench_gate(b, n):
    rows = {"c": [], "c_disk": [], "sh": [], "anchor": []}
    costs = []
    for i in range(n + 1):
        if i % 10 == 0:
            costs.append(stamp_costs(b))
        order = [("c", job_pod_c), ("sh", job_pod_sh), ("anchor", bare_runc_start),
                 ("c_disk", lambda b: job_pod_c(b, disk=True))]
        if i % 2:
            order.reverse()
        for key, fn in order:
            r = fn(b)
            if i > 0:  # the first round warms the caches
                rows[key].append(r)
        if i % 10 == 0:
            log("gate/teardown: %d/%d pods" % (i, n))
    return {"rows": rows, "costs": costs}


# ----- 4. whole-pod start ---------------------------------------------------------------------


def machine_cpu_ns():
    """CPU time of every task on the machine so far (the root cgroup's accounting, ns), or
    None where neither cgroup version's file is there."""
    try:
        with open("/sys/fs/cgroup/cpuacct/cpuacct.usage") as f:
            return int(f.read())
    except OSError:
        pass
    try:
        with open("/sys/fs/cgroup/cpu.stat") as f:
            for line in f:
                k, v = line.split()
                if k == "usage_usec":
                    return int(v) * 1000
    except (OSError, ValueError):
        pass
    return None


def bench_podstart(b, n_containers, reps):
    names = ["c%d" % i for i in range(n_containers)]
    apps_spec = {"restartPolicy": "Never",
                 "containers": [{"name": x, "image": "busybox"} for x in names]}
    sc_spec = {"restartPolicy": "Never",
               "initContainers": [{"name": names[0], "image": "busybox",
                                   "restartPolicy": "Always"}],
               "containers": [{"name": x, "image": "busybox"} for x in names[1:]]}
    variants = [("bare", None, False, False), ("podinit", apps_spec, True, False),
                ("podinit+sidecar", sc_spec, True, False)]
    if os.environ.get("NO_HOOKS") == "1":
        # The same pods injected --no-hooks, in the same rotation (issue 13).
        variants += [("podinit-nohooks", apps_spec, True, True),
                     ("podinit+sidecar-nohooks", sc_spec, True, True)]
    res = {v[0]: [] for v in variants}
    extra = {"inject_us": [], "inject_nohooks_us": [], "supervisor_up_us": []}
    for rep in range(reps + 1):
        k = rep % len(variants)
        order = variants[k:] + variants[:k]  # rotate: no variant always first
        for vname, spec, managed, no_hooks in order:
            p = b.pod("ps", [(x, ["/bin/stamp", STAMPS, x, "pause"]) for x in names],
                      spec, managed=managed, no_hooks=no_hooks)
            cpu0 = machine_cpu_ns()
            t0 = time.monotonic_ns()
            p.create_start(names)
            t_cmds = time.monotonic_ns()
            ok = p.wait_stamps([(x, "start") for x in names], 20)
            cpu1 = machine_cpu_ns()
            st = p.stamps()
            r = {"ok": ok}
            if ok:
                r["total_us"] = (max(st[(x, "start")] for x in names) - t0) / 1000
                if cpu0 is not None and cpu1 is not None:
                    # Every task's CPU while the pod came up (this script's own polling
                    # included, ~the same per ms for every variant).
                    r["machine_cpu_us"] = (cpu1 - cpu0) / 1000
                r["cmds_us"] = (t_cmds - t0) / 1000
                r["create_us"] = [(p.timings[x]["create1"] - p.timings[x]["create0"]) / 1000
                                  for x in names]
                r["start_us"] = [(p.timings[x]["start1"] - p.timings[x]["start0"]) / 1000
                                 for x in names]
                # runc start → the container's process running (through podinit exec's gate)
                r["start_to_exec_us"] = [(st[(x, "start")] - p.timings[x]["start0"]) / 1000
                                         for x in names]
            if rep > 0:
                res[vname].append(r)
                if managed:
                    extra["inject_nohooks_us" if no_hooks else "inject_us"].extend(p.inject_us)
                    extra["supervisor_up_us"].append(p.sup.up_us)
            p.destroy()
        log("podstart: rep %d/%d" % (rep, reps))
    return {"n_containers": n_containers, "rows": res, "extra": extra}


# ----- 4b. what a container costs, piece by piece (issue 13) ---------------------------------


def strip_podinit(cfg, keep_mounts, wrap):
    """An injected (--no-hooks) config with parts of podinit taken out again: the mounts not in
    `keep_mounts` (destinations), the PODINIT_* environment (no supervisor to reach), and,
    unless `wrap`, the `podinit exec --` wrapper."""
    cfg["mounts"] = [m for m in cfg["mounts"]
                     if not m["destination"].startswith("/.podinit")
                     or m["destination"] in keep_mounts]
    cfg["process"]["env"] = [e for e in cfg["process"]["env"] if not e.startswith("PODINIT_")]
    args = cfg["process"]["args"]
    if not wrap and args[:3] == ["/.podinit/podinit", "exec", "--"]:
        cfg["process"]["args"] = args[3:]
    return cfg


DECOMP = [
    # (variant, mounts kept ("all": the bundle as inject left it, claimed from its supervisor;
    # otherwise no supervisor to reach), args wrapped)
    ("bare", None, False),
    # The bare bundle again, but in a pod prepared like the others (a supervisor started and
    # inject run just before the create, then every podinit part taken out): what the setup
    # around the create costs, apart from anything in the bundle.
    ("bare, after a supervisor + inject", (), False),
    ("+binary mount", ("/.podinit/podinit",), False),
    ("+all 4 mounts", ("/.podinit/podinit", "/.podinit/sock", "/.podinit/claim",
                       "/.podinit/run"), False),
    ("+exec, plain", ("/.podinit/podinit",), True),
    ("no-hooks, supervised", "all", True),
]


def bench_decomp(b, reps):
    """One container per pod, `runc create` then `runc start` until its process ran, for a bare
    bundle and an injected one with podinit's pieces taken out again (`DECOMP`): where the
    per-container cost of the whole-pod start goes."""
    spec = {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}
    res = {v[0]: [] for v in DECOMP}
    for rep in range(reps + 1):
        k = rep % len(DECOMP)
        for vname, keep, wrap in DECOMP[k:] + DECOMP[:k]:
            managed = vname != "bare"
            p = b.pod("dc", [("c", ["/bin/stamp", STAMPS, "c", "pause"])], spec,
                      managed=managed, no_hooks=managed)
            if managed and keep != "all":
                path = os.path.join(p.dir, "b", "c", "config.json")
                with open(path) as f:
                    cfg = strip_podinit(json.load(f), keep, wrap)
                with open(path, "w") as f:
                    json.dump(cfg, f)
            # The CPU the create took: every task's (the root cgroup's accounting), and the
            # container process's own so far (`runc init`, paused before the exec).
            m0 = machine_cpu_ns()
            pid = p.create("c")
            m1 = machine_cpu_ns()
            init_us = cpu_us(pid)
            p.start("c")
            ok = p.wait_stamps([("c", "start")], 20)
            st = p.stamps()
            t = p.timings["c"]
            r = {"ok": ok, "init_cpu_us": init_us,
                 "create_cpu_us": (m1 - m0) / 1000 if None not in (m0, m1) else None}
            if ok:
                r["create_us"] = (t["create1"] - t["create0"]) / 1000
                r["start_us"] = (t["start1"] - t["start0"]) / 1000
                r["start_to_exec_us"] = (st[("c", "start")] - t["start0"]) / 1000
                r["total_us"] = (st[("c", "start")] - t["create0"]) / 1000
            if rep > 0:
                res[vname].append(r)
            p.destroy()
        if rep % 10 == 0:
            log("decomp: rep %d/%d" % (rep, reps))
    return {"rows": res, "order": [v[0] for v in DECOMP]}


# ----- 5. idle ------------------------------------------------------------------------------


def cpu_us(pid):
    """CPU time of a live process so far, µs (/proc/PID/schedstat, ns on the CPU)."""
    try:
        with open("/proc/%d/schedstat" % pid) as f:
            return int(f.read().split()[0]) / 1000
    except (OSError, ValueError, IndexError):
        return None


def ctxt(pid):
    s = proc_status(pid)
    return s.get("voluntary_ctxt_switches", 0) + s.get("nonvoluntary_ctxt_switches", 0)


def bench_idle(b, seconds):
    p = b.pod("id", [("sc", ["/bin/stamp", STAMPS, "sc", "hold"]),
                     ("app", ["/bin/stamp", STAMPS, "app", "hold"])], JOB_SPEC)
    p.create_start(["sc", "app"])
    p.wait_stamps([("sc", "start"), ("app", "start")], 20)
    time.sleep(0.5)
    who = {"supervisor": p.sup.pid, "init sc": p.pids["sc"], "init app": p.pids["app"]}
    # The app processes themselves (children of the inits) as a control: they sleep in sigwait.
    for name in ("sc", "app"):
        try:
            with open("/proc/%d/task/%d/children" % (p.pids[name], p.pids[name])) as f:
                kids = f.read().split()
            if kids:
                who["process " + name] = int(kids[0])
        except OSError:
            pass
    before = {k: ctxt(v) for k, v in who.items()}
    time.sleep(seconds)
    after = {k: ctxt(v) for k, v in who.items()}
    res = {"seconds": seconds, "ctxt_switches": {k: after[k] - before[k] for k in who}}
    # strace -c over another window (attaching interrupts the epoll_wait in progress once).
    straces = {}
    procs = []
    for k in ("supervisor", "init sc"):
        outp = os.path.join(p.dir, "strace-%s.txt" % k.replace(" ", "-"))
        sp = subprocess.Popen(["timeout", "-s", "INT", str(seconds), "strace", "-c", "-q",
                               "-o", outp, "-p", str(who[k])],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
        procs.append((k, sp, outp))
    for k, sp, outp in procs:
        sp.wait()
        try:
            with open(outp) as f:
                text = f.read()
        except OSError:
            text = ""
        calls = {}  # strace -c prints nothing at all when no system call completed
        for line in text.splitlines():
            parts = line.split()
            if len(parts) >= 5 and parts[0][0].isdigit() and parts[-1] != "total":
                calls[parts[-1]] = int(parts[3])
        straces[k] = calls
    res["strace_calls"] = straces
    res["rss_kb"] = proc_status(p.sup.pid)
    # Every process's memory after the idle windows (the inits have long settled).
    res["mem_kb"] = {k: proc_status(v) for k, v in who.items()}
    # Teardown by pod deletion; measure the stop → supervisor exit.
    t0 = time.monotonic_ns()
    subprocess.run([b.podinit, "stop", "--grace", "10"], env=dict(os.environ, **p.sup.env),
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, check=False)
    p.wait_supervisor_exit(30)
    res["stop_to_exit_us"] = (time.monotonic_ns() - t0) / 1000
    p.destroy()
    return res


# ----- 6. the curve -------------------------------------------------------------------------


def median_merge(rs):
    """One record from repeated ones: numbers → their median, dicts → merged key by key (keys
    every record has), booleans → all of them; anything else from the first."""
    first = rs[0]
    if isinstance(first, bool):
        return all(rs)
    if all(isinstance(r, int) for r in rs):
        return round(pct(rs, 50))
    if all(isinstance(r, (int, float)) for r in rs):
        return pct(rs, 50)
    if isinstance(first, dict) and all(isinstance(r, dict) for r in rs):
        return {k: median_merge([r[k] for r in rs]) for k in first if all(k in r for r in rs)}
    return first


def bench_claimcurve(b, sizes, reps):
    """The supervisor's CPU to start pods of K plain apps injected --no-hooks (each init claims
    its registration; issue 13 items 1-2), from just before the first `runc create` until every
    app ran its first instruction and 0.2 s more (its `started` reports, the status writes):
    /proc/PID/schedstat of the supervisor. With CLAIM_ANCHOR=PATH (another podinit build) the
    same pods run on it too, alternating, for the ratio in one run."""
    binaries = [("podinit", b.podinit)]
    if os.environ.get("CLAIM_ANCHOR"):
        binaries.append(("anchor", os.path.realpath(os.environ["CLAIM_ANCHOR"])))
    res = {label: {} for label, _ in binaries}
    for k in sizes:
        names = ["c%d" % i for i in range(k)]
        spec = {"restartPolicy": "Never",
                "containers": [{"name": x, "image": "busybox"} for x in names]}
        for rep in range(reps):
            order = binaries if rep % 2 == 0 else binaries[::-1]
            for label, binary in order:
                b.podinit = binary
                try:
                    p = b.pod("cc", [(x, ["/bin/stamp", STAMPS, x, "pause"]) for x in names],
                              spec, managed=True, no_hooks=True)
                    s0 = cpu_us(p.sup.pid)
                    p.create_start(names)
                    ok = p.wait_stamps([(x, "start") for x in names], 60)
                    time.sleep(0.2)
                    s1 = cpu_us(p.sup.pid)
                    res[label].setdefault(str(k), []).append(
                        {"ok": ok, "cpu_us": s1 - s0 if ok else None})
                    p.destroy()
                finally:
                    b.podinit = binaries[0][1]
            log("claimcurve: K=%d rep %d/%d" % (k, rep + 1, reps))
    return {"sizes": sizes, "reps": reps, "rows": res,
            "anchor": binaries[1][1] if len(binaries) > 1 else None}


def bench_curve(b, sizes, hook_n, reps):
    """Each size `reps` times, sizes interleaved round by round; per size the medians."""
    runs = {k: [] for k in sizes}
    for rep in range(reps):
        for k in sizes:
            runs[k].append(curve_pod(b, k, hook_n))
            log("curve: round %d, %d containers done" % (rep + 1, k))
    out = []
    for k in sizes:
        r = median_merge(runs[k])
        r["reps"] = len(runs[k])
        out.append(r)
    return out


def curve_pod(b, k, hook_n):
    """One pod of k containers through its life: start, idle, poststart hooks, stop, delete."""
    if k == 1:
        names = ["a1"]
        spec = {"restartPolicy": "Never", "containers": [{"name": "a1", "image": "busybox"}]}
    else:
        names = ["sc"] + ["a%d" % i for i in range(1, k)]
        spec = {"restartPolicy": "Never",
                "initContainers": [{"name": "sc", "image": "busybox",
                                    "restartPolicy": "Always"}],
                "containers": [{"name": x, "image": "busybox"} for x in names[1:]]}
    p = b.pod("cv", [(x, ["/bin/stamp", STAMPS, x, "hold"]) for x in names], spec,
              wrap_hooks=True)
    r = {"containers": k, "rss_empty": proc_status(p.sup.pid)}
    b.tracer.clear()  # read once at the end: the fork events map stamps to containers
    order = list(reversed(names))  # apps first: all held when the sidecar starts
    t0 = time.monotonic_ns()
    p.create_start(order)
    ok = p.wait_stamps([(x, "start") for x in names], 60)
    r["ok_up"] = ok
    st = p.stamps()
    if ok:
        r["pod_start_ms"] = (max(st[(x, "start")] for x in names) - t0) / 1e6
    time.sleep(0.3)
    r["rss_up"] = proc_status(p.sup.pid)
    r["sup_cpu_up_us"] = cpu_us(p.sup.pid)  # supervisor start + K registrations + gates
    try:
        r["status_json_bytes"] = os.path.getsize(os.path.join(p.sup.state, "status.json"))
    except OSError:
        pass
    # poststart hook against this supervisor, interleaved with /bin/true.
    stf = os.path.join(p.dir, "state-poststart.json")
    with open(stf, "w") as f:
        json.dump({"ociVersion": "1.0.2", "id": p.ids[names[0]], "status": "running",
                   "pid": p.pids[names[0]], "bundle": os.path.join(p.dir, "b", names[0])}, f)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **p.sup.env}
    ps, tr = [], []
    for _ in range(hook_n):
        tr.append(spawn_timed(["/bin/true"], stf, env)[0])
        ps.append(spawn_timed([b.podinit, "hook", "poststart"], stf, env)[0])
    r["poststart_direct_us"] = summary(ps)
    r["true_direct_us"] = summary(tr)
    if k > 1 and ok:
        gates = [(st[(x, "start")] - st[("sc", "start")]) / 1000 for x in names[1:]]
        r["gate_stamp_us"] = summary(gates)
    # Pod deletion: apps get SIGTERM at once, the sidecar once they are gone.
    cpu_before_stop = cpu_us(p.sup.pid)
    t_stop = time.monotonic_ns()
    subprocess.run([b.podinit, "stop", "--grace", "20"], env=dict(os.environ, **p.sup.env),
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, check=False)
    r["ok_exit"] = p.wait_supervisor_exit(60)
    r["stop_to_exit_ms"] = (time.monotonic_ns() - t_stop) / 1e6
    if p.sup.pid in b.rusage and cpu_before_stop is not None:
        r["sup_cpu_teardown_us"] = b.rusage[p.sup.pid] - cpu_before_stop
    st = p.stamps()
    kt2 = kernel_times(b.tracer.read(), p.pids, True)
    if k > 1:
        try:
            r["gate_exec_us"] = summary([(kt2[x]["exec"] - kt2["sc"]["exec"]) / 1000
                                         for x in names[1:]])
        except KeyError:
            pass
    apps = [x for x in names if x != "sc"]
    if k > 1 and ("sc", "term") in st and all((x, "term") in st for x in apps):
        r["teardown_stamp_us"] = (st[("sc", "term")]
                                  - max(st[(x, "term")] for x in apps)) / 1000
    try:
        if k > 1:
            r["teardown_sent_us"] = (kt2["sc"]["term_sent"]
                                     - max(kt2[x]["exit"] for x in apps)) / 1000
    except KeyError:
        pass
    p.delete_containers()  # runs the poststop hooks (the supervisor has exited by now)
    hooks = p.hook_times()
    for stage in ("createRuntime", "poststart"):
        xs = [(e - s) / 1000 for (sg, s, e, _) in hooks if sg == stage]
        r["hook_" + stage + "_us"] = summary(xs)
        r["hook_" + stage + "_failures"] = sum(1 for h in hooks if h[0] == stage and h[3])
        if stage == "createRuntime" and len(xs) >= 16:
            r["createRuntime_first8_p50"] = pct(xs[:8], 50)
            r["createRuntime_last8_p50"] = pct(xs[-8:], 50)
    xs = [(e - s) / 1000 for (sg, s, e, _) in hooks if sg == "poststop"]
    r["hook_poststop_after_exit_us"] = summary(xs)
    p.destroy()
    return r


def main():
    work, podinit, stamp, hookwrap, results = sys.argv[1:6]
    quick = os.environ.get("QUICK") == "1"
    hook_n = int(os.environ.get("HOOK_N", "40" if quick else "300"))
    gate_n = int(os.environ.get("GATE_N", "4" if quick else "30"))
    pod_reps = int(os.environ.get("POD_REPS", "2" if quick else "30"))
    pod_n = int(os.environ.get("POD_N", "4"))
    idle_s = int(os.environ.get("IDLE_S", "2" if quick else "10"))
    sizes = [int(x) for x in os.environ.get("SIZES", "1,4,16,64").split(",")]
    curve_reps = int(os.environ.get("CURVE_REPS", "1" if quick else "5"))
    # SIGTERM: clean up (containers, supervisors, tracefs instance, tmpfs) like Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    b = Bench(work, podinit, stamp, hookwrap)
    out = {"meta": {"hook_n": hook_n, "gate_n": gate_n, "pod_reps": pod_reps, "pod_n": pod_n,
                    "idle_s": idle_s, "sizes": sizes, "curve_reps": curve_reps}}
    if os.environ.get("CPUID_BIN"):
        out["machine"] = json.loads(subprocess.run([os.environ["CPUID_BIN"]], capture_output=True,
                                                   text=True).stdout)
    try:
        sections = os.environ.get("SECTIONS", "hooks,gate,podstart,idle,curve").split(",")
        for s in sections:
            t = time.monotonic()
            log("section %s" % s)
            if s == "hooks":
                out["hooks"] = bench_hooks(b, hook_n)
            elif s == "gate":
                out["gate"] = bench_gate(b, gate_n)
            elif s == "podstart":
                out["podstart"] = bench_podstart(b, pod_n, pod_reps)
            elif s == "decomp":
                out["decomp"] = bench_decomp(b, int(os.environ.get("DECOMP_REPS", "100")))
            elif s == "idle":
                out["idle"] = bench_idle(b, idle_s)
            elif s == "claimcurve":
                out["claimcurve"] = bench_claimcurve(b, sizes, int(os.environ.get("CLAIM_REPS", "5")))
            elif s == "curve":
                out["curve"] = bench_curve(b, sizes, 40 if quick else 100, curve_reps)
            out.setdefault("section_s", {})[s] = round(time.monotonic() - t, 1)
            write_json(results, out)
    finally:
        b.cleanup()
        write_json(results, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
