#!/usr/bin/env python3
"""Serial sandbox agent for podinit's pod tests (python3, stdlib only).

Plays what a sandbox agent does with an OCI runtime, one container at a time:

  1. becomes a child subreaper (prctl PR_SET_CHILD_SUBREAPER), so every container init that
     `runc create` detaches is reparented to this process and its exit status reaches us;
  2. for each container in the plan's order: `RUNTIME --root R create --bundle B --pid-file P ID`,
     then `RUNTIME --root R start ID`; the next container is created only after this one started
     (a serial creator: a create/start that blocks on another container deadlocks it, which is
     what the tests must catch; every command has a timeout instead of hanging the test);
     the container's stdin is /dev/null, its stdout/stderr are the files of the plan (runc
     hands its own stdio to the container, so these must be files, never pipes);
  3. reaps children (waitpid(-1)) until every container init is reaped: exit code, or 128+signal;
     other reaped pids (orphans reparented to us) are ignored; after the overall timeout the
     remaining inits get SIGKILL and are reported as "timeout";
  4. `RUNTIME --root R delete ID` for every container it created (poststop hooks run here);
  5. prints one JSON object on stdout:
     {"exit_codes": {name: int | "timeout" | "create failed" | "start failed"},
      "create_order": [name, ...], "errors": [str, ...], "retried": [str, ...],
      "pids": {name: pid},
      "timings": {name: {"create_ms", "start_ms", "delete_ms", "exited_at_us"}}}

Usage: agent.py PLAN.json, where the plan is
  {"runtime": ["runc"], "root": R, "timeout": seconds, "cmd_timeout": seconds,
   "create_retries": n, "retry_delay_s": seconds,
   "containers": [{"name", "id", "bundle", "pid_file", "stdout", "stderr", "delay_s"}, ...]}
with the containers in creation order (`delay_s`, optional: sleep that long before creating
this container). `create_retries` (default 0): a failed create is retried that many times,
`retry_delay_s` apart, after a `delete -f`, as a kubelet retries; the failures retried are in
"retried", not "errors". Progress goes to stderr.
"""

import ctypes
import json
import os
import select
import signal
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36


def log(msg):
    sys.stderr.write("agent %.3f: %s\n" % (time.monotonic(), msg))
    sys.stderr.flush()


def now_us():
    return time.time_ns() // 1000


def exit_code(status):
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return None  # stopped/continued: not an exit


class Agent:
    def __init__(self, plan):
        self.plan = plan
        self.runtime = list(plan.get("runtime") or ["runc"])
        self.root = plan["root"]
        self.timeout = float(plan.get("timeout", 60))
        self.cmd_timeout = float(plan.get("cmd_timeout", 20))
        self.create_retries = int(plan.get("create_retries", 0))
        self.retry_delay = float(plan.get("retry_delay_s", 0.2))
        self.retried = []  # errors of create attempts that were retried
        self.exit_codes = {}
        self.create_order = []
        self.errors = []
        self.pids = {}  # name -> init pid
        self.timings = {}
        self.created = []  # names runc may know about (create attempted)
        self.waiting = {}  # init pid -> name, not reaped yet

    def runtime_cmd(self, *args):
        return self.runtime + ["--root", self.root] + list(args)

    def run(self, name, what, args, quiet=False, **kw):
        """Runs one runtime command with the per-command timeout; True on success. Failures
        go to `errors` unless `quiet`."""
        cmd = self.runtime_cmd(*args)
        t = time.monotonic()
        try:
            kw.setdefault("stdin", subprocess.DEVNULL)
            if "stdout" not in kw:
                kw["stdout"] = subprocess.PIPE
                kw["stderr"] = subprocess.STDOUT
            p = subprocess.run(cmd, timeout=self.cmd_timeout, **kw)
        except subprocess.TimeoutExpired:
            if quiet:
                return False
            self.errors.append("%s %s: timed out after %gs (killed): %s"
                               % (what, name, self.cmd_timeout, " ".join(cmd)))
            return False
        except OSError as e:
            self.errors.append("%s %s: cannot run %s: %s" % (what, name, cmd[0], e))
            return False
        finally:
            self.timings.setdefault(name, {})[what + "_ms"] = round(
                (time.monotonic() - t) * 1000, 3)
        if p.returncode != 0:
            if quiet:
                return False
            out = (p.stdout or b"").decode(errors="replace").strip()
            self.errors.append("%s %s: exit %d%s" % (what, name, p.returncode,
                                                     (": " + out) if out else ""))
            return False
        return True

    def create_and_start(self, c):
        name = c["name"]
        delay = float(c.get("delay_s") or 0)
        if delay > 0:
            log("waiting %gs before creating %s" % (delay, name))
            time.sleep(delay)
        self.create_order.append(name)
        self.created.append(c)
        try:
            os.unlink(c["pid_file"])
        except FileNotFoundError:
            pass
        for attempt in range(self.create_retries + 1):
            with open(c["stdout"], "ab") as out, open(c["stderr"], "ab") as err:
                ok = self.run(name, "create",
                              ["create", "--bundle", c["bundle"], "--pid-file", c["pid_file"],
                               c["id"]],
                              stdout=out, stderr=err)
            if ok or attempt == self.create_retries:
                break
            # As a kubelet retries a failed CreateContainer: what runc left goes first.
            self.retried.append(self.errors.pop())
            self.run(name, "delete_force", ["delete", "-f", c["id"]], quiet=True)
            log("create %s failed; retrying in %gs" % (name, self.retry_delay))
            time.sleep(self.retry_delay)
        if not ok:
            self.exit_codes[name] = "create failed"
            return
        try:
            with open(c["pid_file"]) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError) as e:
            self.errors.append("create %s: no pid file: %s" % (name, e))
            self.exit_codes[name] = "create failed"
            return
        self.pids[name] = pid
        self.waiting[pid] = name
        log("created %s (%s) init pid %d" % (name, c["id"], pid))
        if not self.run(name, "start", ["start", c["id"]]):
            # Never started: its init waits on the exec fifo forever. Kill it; the reaper
            # ignores it from now on.
            self.exit_codes[name] = "start failed"
            del self.waiting[pid]
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            return
        log("started %s" % name)

    def reap(self, deadline, wakeup):
        """Reaps until no container init is left or the deadline passes."""
        while self.waiting:
            while True:
                try:
                    pid, status = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    if self.waiting:
                        self.errors.append("no child processes left while waiting for %s "
                                           "(not their subreaper?)"
                                           % sorted(self.waiting.values()))
                    return
                if pid == 0:
                    break
                code = exit_code(status)
                name = self.waiting.get(pid)
                if name is None or code is None:
                    continue
                del self.waiting[pid]
                self.exit_codes[name] = code
                self.timings.setdefault(name, {})["exited_at_us"] = now_us()
                log("reaped %s (pid %d): %d" % (name, pid, code))
            if not self.waiting:
                return
            left = deadline - time.monotonic()
            if left <= 0:
                return
            # SIGCHLD writes to `wakeup` (signal.set_wakeup_fd): no lost wake-up between the
            # WNOHANG drain above and this wait.
            select.select([wakeup], [], [], left)
            try:
                while os.read(wakeup, 512):
                    pass
            except BlockingIOError:
                pass

    def main(self):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            self.errors.append("prctl(PR_SET_CHILD_SUBREAPER): errno %d" % ctypes.get_errno())
        r, w = os.pipe()
        os.set_blocking(r, False)
        os.set_blocking(w, False)
        # A Python-level handler (not SIG_IGN: children must stay waitable); exec resets it in
        # the children. subprocess retries its own waitpid on EINTR.
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.set_wakeup_fd(w, warn_on_full_buffer=False)
        start = time.monotonic()

        for c in self.plan["containers"]:
            self.create_and_start(c)
        self.reap(start + self.timeout, r)

        if self.waiting:
            log("timeout: killing %s" % sorted(self.waiting.values()))
            for pid, name in self.waiting.items():
                self.exit_codes[name] = "timeout"
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            timed_out = dict(self.waiting)
            self.reap(time.monotonic() + 5, r)
            for name in self.waiting.values():
                self.errors.append("%s: not reaped 5s after SIGKILL" % name)
            for name in timed_out.values():
                self.exit_codes[name] = "timeout"
            self.waiting = {}

        for c in self.created:
            if self.exit_codes.get(c["name"]) == "create failed":
                # Usually nothing to delete; a create killed half-way may have left state.
                self.run(c["name"], "delete_force", ["delete", "-f", c["id"]], quiet=True)
            elif not self.run(c["name"], "delete", ["delete", c["id"]]):
                self.run(c["name"], "delete_force", ["delete", "-f", c["id"]])
        # Orphans reparented to us after the inits (hook daemons, ...): do not leave zombies.
        try:
            while os.waitpid(-1, os.WNOHANG)[0] != 0:
                pass
        except ChildProcessError:
            pass

        return {
            "exit_codes": self.exit_codes,
            "create_order": self.create_order,
            "errors": self.errors,
            "retried": self.retried,
            "pids": self.pids,
            "timings": self.timings,
        }


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: agent.py PLAN.json\n")
        return 2
    with open(sys.argv[1]) as f:
        plan = json.load(f)
    result = Agent(plan).main()
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
