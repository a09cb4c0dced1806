#!/usr/bin/env python3
"""Markdown report of bench/pod/pod_bench.py's results.json (usage: report.py RESULTS.json)."""

import json
import random
import sys


def ratio_ci(xs, base, n=2000, seed=1):
    """Bootstrap 95% interval of median(xs) / median(base) (resampling each side)."""
    rnd = random.Random(seed)
    rs = []
    for _ in range(n):
        a = [rnd.choice(xs) for _ in xs]
        b = [rnd.choice(base) for _ in base]
        rs.append(pct(a, 50) / pct(b, 50))
    return pct(rs, 2.5), pct(rs, 97.5)


def pct(xs, p):
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return None
    k = (len(xs) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def f(x, unit="", nd=0):
    if x is None:
        return "n/a"
    if unit == "ms":
        return "%.*f ms" % (nd if nd else 2, x / 1000)
    return "%.*f%s" % (nd, x, (" " + unit) if unit else "")


def ms(x, nd=2):
    return "n/a" if x is None else "%.*f ms" % (nd, x / 1000)


def mean(xs):
    """The mean, or None for no samples (`ms` prints it n/a)."""
    return sum(xs) / len(xs) if xs else None


def us(x):
    return "n/a" if x is None else "%.0f µs" % x


def verdict(ok):
    return "n/a" if ok is None else ("**met**" if ok else "**missed**")


def col(rows, key):
    return [r[key] for r in rows if r.get(key) is not None]


def main():
    r = json.load(open(sys.argv[1]))
    meta = r.get("meta", {})
    out = []
    p = out.append
    summary = []  # (measure, podinit, anchor, comparison, bar, verdict)

    # ----- 1. hooks -----
    h = r.get("hooks")
    if h:
        s = h["samples_us"]
        t50, t90 = pct(s["true"], 50), pct(s["true"], 90)
        p("### 1. Hook invocation, process start → exit (n = %d each, interleaved)\n" % len(s["true"]))
        p("posix_spawn + waitpid from the benchmark, stdin = the OCI state JSON (the runtime's way), "
          "a running `podinit supervise` answering on `PODINIT_SOCKET`. createRuntime registers a new "
          "container each time from a real injected bundle `config.json` (%d bytes, pod spec "
          "annotation of 4 containers; a fresh supervisor per 4 hooks, so it holds 0-3 containers). "
          "Paired = median of the per-iteration difference to the `/bin/true` run of the same "
          "iteration.\n" % h.get("config_bytes", 0))
        p("| command | p50 | p90 | paired overhead over `/bin/true` (p50) | ratio of p50s |")
        p("|---|---:|---:|---:|---:|")
        labels = [("true", "`/bin/true` (anchor: the floor)"),
                  ("c_glibc", "static glibc C no-op (`stamp.c`, `cc -static`)"),
                  ("c_musl", "static musl C no-op (`stamp.c`, `musl-gcc -static`)"),
                  ("version", "`podinit --version` (exec of the static binary, no I/O)"),
                  ("poststart", "`podinit hook poststart`"),
                  ("createRuntime", "`podinit hook createRuntime`"),
                  ("poststart_disk", "`podinit hook poststart`, state dir on disk (%s)" % "ext4"),
                  ("createRuntime_disk", "`podinit hook createRuntime`, state dir on disk (ext4)")]
        paired = {}
        for k, label in labels:
            xs = s.get(k) or []
            if not xs:
                continue
            d = [a - b for a, b in zip(xs, s["true"])]
            paired[k] = pct(d, 50)
            p("| %s | %s | %s | %s | %.2fx |" % (label, ms(pct(xs, 50)), ms(pct(xs, 90)),
                                                  "—" if k == "true" else ms(pct(d, 50)),
                                                  pct(xs, 50) / t50))
        m = r.get("machine")
        if m:
            p("\nOn this VM one CPUID instruction costs %.1f µs (it exits to the hypervisor; "
              "`clock_gettime` %.0f ns): glibc's start-up probes CPU features and caches with "
              "dozens of them in every exec, static or dynamic, which is why a glibc no-op costs "
              "several times a musl one here and why `podinit --version` is as slow as "
              "`/bin/true`. podinit is static glibc: every hook and every `podinit exec` pays it." % (
                  m["cpuid_ns"] / 1000, m["clock_gettime_ns"]))
        fails = {k: v for k, v in h.get("failures", {}).items() if v}
        p("\nFailed invocations: %s. Supervisor start → both sockets listening: p50 %s.\n" % (
            fails or "none", ms(h.get("supervisor_up_us", {}).get("p50"))))
        for k in ("poststart", "createRuntime"):
            xs = s[k]
            summary.append(("1. hook `%s`" % k, "p50 %s, p90 %s" % (ms(pct(xs, 50)), ms(pct(xs, 90))),
                            "`/bin/true` p50 %s" % ms(t50),
                            "+%s paired; %.2fx" % (ms(paired[k]), pct(xs, 50) / t50),
                            "p50 < 2 ms", verdict(pct(xs, 50) < 2000)))

    # ----- 2 + 3. gate and teardown -----
    g = r.get("gate")
    if g:
        rows = g["rows"]
        c, cd, sh, an = rows["c"], rows["c_disk"], rows["sh"], rows["anchor"]
        costs = g.get("costs", [])
        stamp_cost_us = pct([x["stamp_ns"]["p50"] / 1000 for x in costs if x["stamp_ns"]["n"]], 50)
        tlog_cost_us = pct([x["tlog_us"]["p50"] for x in costs if x["tlog_us"]["n"]], 50)
        ok = sum(1 for x in c + cd if x.get("phase") == "Succeeded" and x.get("supervisor_exit") == 0)
        codes_ok = sum(1 for x in c + cd if all(v == [0, 0] for v in x.get("codes", {}).values()))
        p("### 2. Gate release: sidecar started → app process exec'd (n = %d pods per variant)\n" % len(c))
        p("Job pod: native sidecar `sc` (initContainers, restartPolicy Always, no probe) + app, "
          "created in reverse order (the app first, so it is held at its gate when the sidecar "
          "starts). Kernel = ftrace `sched_process_exec` of the two container processes "
          "(CLOCK_MONOTONIC); first instruction = each process's own first clock read (includes "
          "the scheduling of the sidecar's process, which runs concurrently with the release and "
          "can come *after* the app's, hence negative samples). Anchor: bare `runc start` of a "
          "created container → its process exec'd, same run; the kubelet's reference is one PLEG "
          "relist, ≈ 1 s (not runnable here).\n")
        p("| variant | p10 | p50 | p90 | max |")
        p("|---|---:|---:|---:|---:|")

        def line(label, xs, unit="us"):
            if not xs:
                p("| %s | n/a | n/a | n/a | n/a |" % label)
                return
            p("| %s | %s | %s | %s | %s |" % (label, us(pct(xs, 10)), us(pct(xs, 50)),
                                              us(pct(xs, 90)), us(max(xs))))

        line("podinit, kernel exec → exec (state dir tmpfs)", col(c, "gate_exec_us"))
        line("podinit, kernel exec → exec (state dir ext4)", col(cd, "gate_exec_us"))
        line("podinit, first instruction → first instruction (C stamp)", col(c, "gate_stamp_us"))
        line("podinit, busybox sh `tlog` → `tlog` (adjtimex)", col(sh, "gate_us"))
        line("anchor: bare `runc start` → process exec'd (kernel)", col(an, "start_to_exec_us"))
        line("anchor: bare `runc start` → first instruction", col(an, "start_to_main_us"))
        line("anchor: `runc start` command wall time", col(an, "runc_start_wall_us"))
        line("(noise) container process exec → its first instruction", [v for x in c for v in x.get("exec_to_main_us", [])])
        gx = col(c, "gate_exec_us")
        ax = col(an, "start_to_exec_us")
        p("\nPods Succeeded with supervisor exit 0: %d/%d; every container's reported and raw exit "
          "code 0: %d/%d. Shell pods missing a line: %d/%d.\n" % (
              ok, len(c) + len(cd), codes_ok, len(c) + len(cd),
              sum(1 for x in sh if "missing" in x), len(sh)))
        if gx:
            summary.append(("2. gate release (kernel exec → exec)",
                            "p50 %s, p90 %s" % (us(pct(gx, 50)), us(pct(gx, 90))),
                            "bare `runc start` → exec p50 %s; kubelet PLEG ≈ 1 s" % us(pct(ax, 50)),
                            "%.2fx of `runc start`; %.4fx of 1 s" % (pct(gx, 50) / pct(ax, 50), pct(gx, 50) / 1e6),
                            "p50 < 1 ms (no probe)", verdict(pct(gx, 50) < 1000)))

        p("### 3. Teardown reaction: last app exit → SIGTERM to the last sidecar (same pods)\n")
        p("Kernel: the app process's `sched_process_exit` → `signal_generate` of SIGTERM for the "
          "sidecar's process (sent) and → the sidecar's own stamp after `sigwait` returned "
          "(received). Stamps: app's last line (then `_exit`) → sidecar's line on SIGTERM; "
          "corrected = raw − the cost of one timestamp, measured in the same run in a container "
          "(C stamp: %s; busybox `tlog`, `adjtimex | awk`: %s).\n" % (
              us(stamp_cost_us) if stamp_cost_us is not None else "n/a",
              us(tlog_cost_us)))
        p("| variant | p10 | p50 | p90 | max |")
        p("|---|---:|---:|---:|---:|")
        line("podinit, kernel app exit → TERM sent (tmpfs)", col(c, "teardown_sent_us"))
        line("podinit, kernel app exit → TERM received (tmpfs)", col(c, "teardown_recv_us"))
        line("podinit, kernel app exit → TERM sent (state dir ext4)", col(cd, "teardown_sent_us"))
        tr = col(c, "teardown_stamp_us")
        line("C stamps, raw", tr)
        line("C stamps, corrected", [x - (stamp_cost_us or 0) for x in tr])
        shr = col(sh, "teardown_us")
        line("busybox sh `tlog`, raw", shr)
        line("busybox sh `tlog`, corrected", [x - (tlog_cost_us or 0) for x in shr])
        tx = col(c, "teardown_sent_us")
        if tx:
            summary.append(("3. teardown reaction (kernel exit → TERM sent)",
                            "p50 %s, p90 %s" % (us(pct(tx, 50)), us(pct(tx, 90))),
                            "shell stamps raw p50 %s, corrected %s" % (
                                us(pct(shr, 50)),
                                us(pct([x - (tlog_cost_us or 0) for x in shr], 50))),
                            "state dir ext4: p50 %s" % us(pct(col(cd, "teardown_sent_us"), 50)),
                            "p50 < 1 ms", verdict(pct(tx, 50) < 1000)))
        p("")

    # ----- 4. whole-pod start -----
    ps = r.get("podstart")
    if ps:
        rows = ps["rows"]
        n = ps["n_containers"]
        p("### 4. Whole-pod start, %d containers, create + start serially until every process ran "
          "(n = %d pods per variant, variants interleaved and rotated)\n" % (n, len(rows["bare"])))
        p("Time from the first `runc create` to the last container process's first instruction. "
          "Same bundles (runc spec + busybox rootfs + pod netns); podinit: `podinit inject`ed and a "
          "supervisor running (bundle injection and supervisor start are not in the interval: "
          "inject p50 %s per bundle, supervisor up p50 %s, both once per pod, before its first "
          "create).\n" % (ms(pct(ps["extra"]["inject_us"], 50)),
                          ms(pct(ps["extra"]["supervisor_up_us"], 50))))
        if ps["extra"].get("inject_nohooks_us"):
            p("`--no-hooks` variants: `podinit inject --no-hooks --id ID` (no OCI hooks; the "
              "container's init claims the registration inject left), inject p50 %s per bundle.\n"
              % ms(pct(ps["extra"]["inject_nohooks_us"], 50)))
        p("| variant | pod start p50 | p90 | ratio to bare (p50s) [95% CI] | `runc create` p50 | `runc create` p90 | `runc start` p50 | `runc start` → process p50 | per container, mean (ratio) |")
        p("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        bare_tot = col(rows["bare"], "total_us")
        b50 = pct(bare_tot, 50)

        def per_container(v):
            """Mean (runc create + `runc start` → process) per container: the expected cost,
            which a median of a skewed distribution is not."""
            cr = [y for x in rows[v] for y in x.get("create_us", [])]
            se = [y for x in rows[v] for y in x.get("start_to_exec_us", [])]
            return mean(cr) + mean(se)
        for v, label in (("bare", "bare runc (anchor)"), ("podinit", "podinit, no sidecar (no gating)"),
                         ("podinit+sidecar", "podinit, c0 a native sidecar gating the others"),
                         ("podinit-nohooks", "podinit --no-hooks, no sidecar"),
                         ("podinit+sidecar-nohooks", "podinit --no-hooks, c0 a native sidecar")):
            if v not in rows:
                continue
            xs = col(rows[v], "total_us")
            cr = [y for x in rows[v] for y in x.get("create_us", [])]
            st = [y for x in rows[v] for y in x.get("start_us", [])]
            se = [y for x in rows[v] for y in x.get("start_to_exec_us", [])]
            lo, hi = ratio_ci(xs, bare_tot)
            p("| %s | %s | %s | %.3fx [%.2f, %.2f] | %s | %s | %s | %s | %s (%.3fx) |" % (
                label, ms(pct(xs, 50), 1), ms(pct(xs, 90), 1), pct(xs, 50) / b50, lo, hi,
                ms(pct(cr, 50), 1), ms(pct(cr, 90), 1), ms(pct(st, 50), 1), ms(pct(se, 50), 1),
                ms(per_container(v), 1), per_container(v) / per_container("bare")))
        if col(rows["bare"], "machine_cpu_us"):
            bare_cpu = mean(col(rows["bare"], "machine_cpu_us"))
            parts = []
            for v in ("bare", "podinit", "podinit+sidecar", "podinit-nohooks",
                      "podinit+sidecar-nohooks"):
                cpu = col(rows.get(v, []), "machine_cpu_us")
                if cpu:
                    parts.append("%s %s (%+.1f ms)" % (v, ms(mean(cpu), 1),
                                                       (mean(cpu) - bare_cpu) / 1000))
            p("\nCPU of every task on the machine from the first create until the last process "
              "ran (the root cgroup's CPU accounting; this script's 1 ms polling included), "
              "mean per pod: %s.\n" % "; ".join(parts))
        fails = sum(1 for v in rows.values() for x in v if not x.get("ok"))
        p("\nPods that did not come up: %d. The last column is (create + `runc start` → "
          "process) per container, means, and its ratio to bare's. Every runc command is timed by "
          "a blocking wait (not `subprocess.run(timeout=)`, whose polling quantizes ~31-35 ms "
          "creates to 33 or 65 ms). Host CPU steal on this nested VM makes single creates slow "
          "now and then (tens of ms), hence the wide intervals.\n" % fails)
        for v in ("podinit", "podinit+sidecar", "podinit-nohooks", "podinit+sidecar-nohooks"):
            if v not in rows:
                continue
            ratio = pct(col(rows[v], "total_us"), 50) / b50
            lo, hi = ratio_ci(col(rows[v], "total_us"), bare_tot)
            summary.append(("4. whole-pod start, %s%s" % (
                                "sidecar-gated" if "sidecar" in v else "no sidecar",
                                ", --no-hooks" if v.endswith("nohooks") else ""),
                            "p50 %s" % ms(pct(col(rows[v], "total_us"), 50), 1),
                            "bare runc p50 %s" % ms(b50, 1),
                            "%.3fx (95%% CI %.2f-%.2f; per-container means %.3fx)" % (
                                ratio, lo, hi, per_container(v) / per_container("bare")),
                            "≤ 1.10x", verdict(ratio <= 1.10)))

    # ----- 4b. a container's cost, piece by piece -----
    dc = r.get("decomp")
    if dc:
        rows = dc["rows"]
        p("### 4b. One container, piece by piece: `runc create` + `runc start` until its process "
          "ran (n = %d per variant, variants rotated)\n" % len(rows["bare"]))
        p("An injected `--no-hooks` bundle with podinit's parts taken out again: `bare, after a "
          "supervisor + inject` is the bare bundle in a pod set up like the rest (a supervisor "
          "started and `inject` run just before the create, every podinit part then removed), "
          "`+binary mount` "
          "is bare plus the read-only bind of the binary, `+all 4 mounts` adds the socket "
          "directory, the claim directory and the 64 KiB tmpfs (process unwrapped), `+exec, "
          "plain` is the binary mount with `podinit exec --` wrapping the process and no "
          "supervisor to reach (a plain init), and the last row is the bundle as inject left it, "
          "its init claiming its registration from a running supervisor. Means, and the "
          "difference of means to bare's.\n")
        p("The CPU columns: every task's CPU while `runc create` ran (the root cgroup's "
          "accounting, this script's waiting included) and the container process's own "
          "(`/proc/PID/schedstat` right after the create: `runc init`, paused before the exec), "
          "means.\n")
        p("| variant | `runc create` p50 / mean | create: machine CPU / `runc init` CPU | `runc start` → process p50 / mean | create → process mean | Δ to bare (mean) |")
        p("|---|---:|---:|---:|---:|---:|")
        bare_total = mean(col(rows["bare"], "total_us"))
        for v in dc["order"]:
            cr = col(rows[v], "create_us")
            se = col(rows[v], "start_to_exec_us")
            tot = col(rows[v], "total_us")
            delta = mean(tot)
            delta = "n/a" if delta is None or bare_total is None else "%+.2f ms" % (
                (delta - bare_total) / 1000)
            p("| %s | %s / %s | %s / %s | %s / %s | %s | %s |" % (
                v, ms(pct(cr, 50), 2), ms(mean(cr), 2),
                ms(mean(col(rows[v], "create_cpu_us")), 2), ms(mean(col(rows[v], "init_cpu_us")), 2),
                ms(pct(se, 50), 2), ms(mean(se), 2), ms(mean(tot), 2), delta))
        fails = sum(1 for v in rows.values() for x in v if not x.get("ok"))
        p("\nContainers that did not come up: %d.\n" % fails)

    # ----- 5. idle -----
    idle = r.get("idle")
    if idle:
        p("### 5. Idle wake-ups: a running pod (sidecar + app, both blocked), nothing happening\n")
        p("Context switches (voluntary + involuntary, /proc/PID/status) over %d s; then `strace -c` "
          "attached for another %d s (strace prints nothing when no system call completed).\n" % (
              idle["seconds"], idle["seconds"]))
        p("| process | context switches in %d s | syscalls under strace in %d s | VmRSS / VmHWM / RssAnon (kB) afterwards |" % (idle["seconds"], idle["seconds"]))
        p("|---|---:|---:|---|")
        for k, v in idle["ctxt_switches"].items():
            calls = idle["strace_calls"].get(k)
            mem = idle.get("mem_kb", {}).get(k, {})
            p("| %s | %d | %s | %s / %s / %s |" % (
                k, v, "—" if calls is None else (sum(calls.values()) if calls else 0),
                mem.get("VmRSS", "n/a"), mem.get("VmHWM", "n/a"), mem.get("RssAnon", "n/a")))
        p("\nSupervisor memory with this 2-container pod: VmRSS %s kB, VmHWM %s kB (RssAnon %s kB). "
          "`podinit stop` → supervisor exited: %s.\n" % (
              idle["rss_kb"].get("VmRSS"), idle["rss_kb"].get("VmHWM"), idle["rss_kb"].get("RssAnon"),
              ms(idle.get("stop_to_exit_us"))))
        total = sum(idle["ctxt_switches"].get(k, 0) for k in ("supervisor", "init sc", "init app"))
        summary.append(("5. idle wake-ups in %d s" % idle["seconds"],
                        "supervisor %d, inits %d + %d" % (idle["ctxt_switches"]["supervisor"],
                                                         idle["ctxt_switches"]["init sc"],
                                                         idle["ctxt_switches"]["init app"]),
                        "the app processes: %d" % sum(v for k, v in idle["ctxt_switches"].items() if k.startswith("process")),
                        "—", "0", verdict(total == 0)))

    # ----- 6. curve -----
    cc = r.get("claimcurve")
    if cc:
        rows = cc["rows"]
        p("### 6b. The supervisor's CPU to start a pod whose inits claim their registrations "
          "(`inject --no-hooks`), by pod size (median of %d pods per size)\n" % cc["reps"])
        p("Supervisor CPU (/proc/PID/schedstat) from just before the first `runc create` until "
          "every app ran its first instruction and 0.2 s more. K plain apps, serial create + "
          "start.%s\n" % (" Anchor: `%s`, the same pods alternating with this build." % cc["anchor"]
                          if cc["anchor"] else ""))
        labels = list(rows)
        head = "| K | " + " | ".join("%s: CPU / per container" % l for l in labels)
        p(head + (" | ratio |" if len(labels) > 1 else " |"))
        p("|---:|" + "---:|" * (len(labels) + (1 if len(labels) > 1 else 0)))
        for k in cc["sizes"]:
            meds = []
            for l in labels:
                xs = [x["cpu_us"] for x in rows[l].get(str(k), []) if x.get("ok")]
                meds.append(pct(xs, 50) if xs else None)
            cells = ["%s / %s" % (ms(m), ms(m / k)) if m else "n/a" for m in meds]
            ratio = (" | %.2fx" % (meds[0] / meds[1])) if len(meds) > 1 and meds[1] else ""
            p("| %d | %s%s |" % (k, " | ".join(cells), ratio))
        p("")

    cv = r.get("curve")
    if cv:
        p("### 6. The curve: pods of 1, 4, 16, 64 containers\n")
        p("K containers = 1 native sidecar + K−1 apps (K = 1: one app), every process blocked in "
          "`sigwait`, created apps first (all held) and the sidecar last. Hook times are as runc ran "
          "them (`hookwrap` forks + execs the real hook and times it); the poststart row is also run "
          "directly against the loaded supervisor, interleaved with `/bin/true`. Gate = kernel exec "
          "of each app − exec of the sidecar (first app, median, last: the release fans out to K−1 "
          "inits on 2 vCPUs). Teardown = `podinit stop`: apps get SIGTERM at once, the sidecar "
          "once every app has exited (kernel: last app exit → TERM sent to the sidecar). Every "
          "figure is the median over %d pods per size (sizes interleaved round by round).\n"
          % cv[0].get("reps", 1))
        p("| K | supervisor VmRSS / VmHWM / RssAnon (kB) | supervisor CPU: start+registrations / teardown | status.json | createRuntime hook p50 (first 8 → last 8) | poststart hook in runc p50 | poststart direct p50 (`/bin/true`) | gate first / p50 / last | teardown reaction | pod start | stop → supervisor exit |")
        p("|---:|---|---|---:|---|---:|---|---|---:|---:|---:|")
        for c in cv:
            ru = c.get("rss_up", {})
            cr = c.get("hook_createRuntime_us", {})
            trend = " (n = %d)" % cr.get("n", 0) if cr.get("n", 0) < 16 else ""
            if "createRuntime_first8_p50" in c:
                trend = " (%s → %s)" % (ms(c["createRuntime_first8_p50"]), ms(c["createRuntime_last8_p50"]))
            if c["containers"] == 1:
                trend = " (n = 1)"
            gate = c.get("gate_exec_us")
            gate_s = "—" if not gate else "%s / %s / %s" % (us(gate["min"]), us(gate["p50"]), us(gate["max"]))
            p("| %d | %s / %s / %s | %s / %s | %s | %s%s | %s | %s (%s) | %s | %s | %s | %s |" % (
                c["containers"], ru.get("VmRSS"), ru.get("VmHWM"), ru.get("RssAnon"),
                ms(c.get("sup_cpu_up_us"), 1), ms(c.get("sup_cpu_teardown_us"), 1),
                "%.1f kB" % (c["status_json_bytes"] / 1024) if c.get("status_json_bytes") else "n/a",
                ms(cr.get("p50")), trend, ms(c.get("hook_poststart_us", {}).get("p50")),
                ms(c["poststart_direct_us"]["p50"]), ms(c["true_direct_us"]["p50"]),
                gate_s, us(c.get("teardown_sent_us")) if c["containers"] > 1 else "—",
                "%.0f ms" % c["pod_start_ms"] if c.get("pod_start_ms") else "n/a",
                "%.1f ms" % c["stop_to_exit_ms"]))
        empty = cv[0].get("rss_empty", {})
        p("\nSupervisor with no container: VmRSS %s kB, VmHWM %s kB. poststop hooks (at `runc "
          "delete`, after the supervisor exited: connect fails fast) p50 %s. Hook failures: %d.\n" % (
              empty.get("VmRSS"), empty.get("VmHWM"),
              ms(pct([c["hook_poststop_after_exit_us"].get("p50") for c in cv
                      if c["hook_poststop_after_exit_us"].get("n")], 50)),
              sum(c.get("hook_createRuntime_failures", 0) + c.get("hook_poststart_failures", 0) for c in cv)))
        big = max(cv, key=lambda c: c["containers"])
        summary.append(("6. supervisor RSS, %d containers" % big["containers"],
                        "VmRSS %s kB, VmHWM %s kB" % (big["rss_up"].get("VmRSS"), big["rss_up"].get("VmHWM")),
                        "no container: %s kB" % empty.get("VmRSS"), "—", "< 4 MiB",
                        verdict(big["rss_up"].get("VmHWM", 1 << 30) < 4096)))

    print("### Summary\n")
    print("| measure | podinit | anchor (same run) | comparison | bar | verdict |")
    print("|---|---|---|---|---|---|")
    for row in summary:
        print("| %s |" % " | ".join(row))
    print()
    print("\n".join(out))
    secs = r.get("section_s", {})
    print("Section times: %s; samples: %s." % (
        ", ".join("%s %ss" % kv for kv in secs.items()),
        ", ".join("%s=%s" % kv for kv in meta.items())))


if __name__ == "__main__":
    main()
