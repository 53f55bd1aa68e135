"""Benchmark: concurrency and isolation of run(), this build against
another one (``--before``: the interpreter of a venv with another lxcpy
build, e.g. main's), all interleaved in one run.

Rows (medians over rounds):

- single run(["/bin/true"]) on container B, against raw C
  (benchmarks/raw_attach.c; target <= 1.2x);
- the same from a large caller (``--heap-mib`` of touched memory and 1000
  open fds) against a bare one: caller-size independence (target <= 1.1x);
- 4 threads each running run(["/bin/true"]) on B against the same calls
  in sequence: the speed-up (target >= 1.6x on 2 cores), beside raw C with
  one process against two processes at once (the reference);
- run() on B while container A's monitor is stopped (SIGSTOP) with a run()
  on A in flight, against B's normal latency in the same rounds (target
  <= 1.2x). A build that blocks there is reported as blocked (no answer in
  ``--stuck-wait`` seconds).

Each lxcpy contender runs in a worker process of its own (this file with
--worker). Uses its own temporary lxcpath. The load average is printed
before and after: the machine may be shared.

    python benchmarks/bench_concurrency.py [--before PYTHON] [--rounds 10] [--calls 40]
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

TRUE = ["/bin/true"]
HERE = Path(__file__).resolve()


# -- the worker (a process of its own, with one lxcpy build) ---------------------


def burst(c: object, n: int) -> None:
    for _ in range(n):
        c.run(TRUE)  # type: ignore[attr-defined]


def worker(a_name: str, b_name: str, lxcpath: str, heap_mib: int) -> None:
    import lxcpy

    heap = bytearray()
    fds: list[int] = []
    if heap_mib:
        heap = bytearray(heap_mib << 20)
        heap[::4096] = b"\1" * len(range(0, len(heap), 4096))
        fds = [os.open(os.devnull, os.O_RDONLY) for _ in range(1000)]
    a = lxcpy.Container(a_name, lxcpath)
    b = lxcpy.Container(b_name, lxcpath)
    a.run(TRUE)
    b.run(TRUE)
    pool = ThreadPoolExecutor(4)
    stuck: threading.Thread | None = None
    for line in sys.stdin:
        what, n_ = line.split()
        n = int(n_)
        out: list[int] = []
        if what == "single":
            for _ in range(n):
                t = time.perf_counter_ns()
                b.run(TRUE)
                out.append(time.perf_counter_ns() - t)
        elif what == "seq":
            t = time.perf_counter_ns()
            for _ in range(n):
                b.run(TRUE)
            out.append(time.perf_counter_ns() - t)
        elif what == "thr":
            t = time.perf_counter_ns()
            futs = [pool.submit(burst, b, n // 4) for _ in range(4)]
            for f in futs:
                f.result()
            out.append(time.perf_counter_ns() - t)
        elif what == "stick":
            stuck = threading.Thread(target=lambda: a.run(TRUE), daemon=True)
            stuck.start()
            time.sleep(0.3)  # in liblxc, waiting for A's monitor
            out.append(0)
        elif what == "unstick":
            if stuck is not None:
                stuck.join(60)
            stuck = None
            out.append(0)
        print(" ".join(map(str, out)), flush=True)
    del heap
    for fd in fds:
        os.close(fd)


# -- the driver --------------------------------------------------------------------


class Proc:
    def __init__(self, argv: list[str]) -> None:
        self.p = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )

    def send(self, what: str, n: int) -> None:
        assert self.p.stdin is not None
        self.p.stdin.write(f"{what} {n}\n")
        self.p.stdin.flush()

    def recv(self, timeout: float | None = None) -> list[float] | None:
        assert self.p.stdout is not None
        if timeout is not None and not select.select([self.p.stdout], [], [], timeout)[0]:
            return None
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.p.args!r} died ({self.p.wait()})")
        return [int(x) / 1e9 for x in line.split()]

    def ask(self, what: str, n: int) -> list[float]:
        self.send(what, n)
        got = self.recv()
        assert got is not None
        return got

    def close(self) -> None:
        if self.p.stdin:
            self.p.stdin.close()
        try:
            self.p.wait(30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def monitor_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])


def main() -> None:
    from bench_attach import build_raw

    import lxcpy

    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--calls", type=int, default=40)
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--heap-mib", type=int, default=512)
    ap.add_argument("--before", help="interpreter of a venv with the build to compare with")
    ap.add_argument("--stuck-wait", type=float, default=5.0)
    ap.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    opts = ap.parse_args()
    if opts.worker:
        worker(opts.worker[0], opts.worker[1], opts.worker[2], int(opts.worker[3]))
        return
    n, batch = opts.calls, opts.batch
    load0 = os.getloadavg()
    import tempfile

    with tempfile.TemporaryDirectory(prefix="lxcpy-bench-") as tmp:
        lxcpath = os.path.join(tmp, "containers")
        os.mkdir(lxcpath)
        cfg = {"lxc.net.0.type": "empty"}
        a = lxcpy.Container("a", lxcpath)
        b = lxcpy.Container("b", lxcpath)
        a.create("busybox", config=cfg)
        b.create("busybox", config=cfg)
        a.start()
        b.start()
        procs: dict[str, Proc] = {}
        try:
            exe = build_raw(tmp)
            raw1 = Proc([exe, "b", lxcpath])
            raw2 = [Proc([exe, "b", lxcpath]) for _ in range(2)]
            builds = {"this": sys.executable}
            if opts.before:
                builds["before"] = opts.before
            for name, py in builds.items():
                for big in (0, opts.heap_mib):
                    procs[f"{name}{'+big' if big else ''}"] = Proc(
                        [py, str(HERE), "--worker", "a", "b", lxcpath, str(big)]
                    )
            rows: dict[str, list[float]] = {}

            def add(key: str, vals: list[float]) -> None:
                rows.setdefault(key, []).extend(vals)

            for p in [raw1, *raw2]:
                p.ask("true", 2)
            for _ in range(opts.rounds):
                add("raw single", raw1.ask("true", batch))
                for name, p in procs.items():
                    add(f"{name} single", p.ask("single", batch))
                t = time.perf_counter()
                raw1.ask("true", n)
                add("raw 1 proc", [time.perf_counter() - t])
                t = time.perf_counter()
                for p in raw2:
                    p.send("true", n // 2)
                for p in raw2:
                    p.recv()
                add("raw 2 procs", [time.perf_counter() - t])
                for name in builds:
                    add(f"{name} seq", procs[name].ask("seq", n))
                    add(f"{name} thr", procs[name].ask("thr", n))
            # B while A's monitor is stopped, a run() on A in flight in each.
            mon = monitor_of(a.init_pid or 0)
            blocked: set[str] = set()
            for _ in range(opts.rounds):
                for name in builds:
                    add(f"{name} b", procs[name].ask("single", batch))
                os.kill(mon, signal.SIGSTOP)
                try:
                    for name in builds:
                        procs[name].ask("stick", 0)
                    for name in builds:
                        if name in blocked:
                            continue
                        procs[name].send("single", batch)
                        got = procs[name].recv(opts.stuck_wait)
                        if got is None:
                            blocked.add(name)
                            os.kill(mon, signal.SIGCONT)
                            procs[name].recv()  # it answers once A's monitor does
                            os.kill(mon, signal.SIGSTOP)
                        else:
                            add(f"{name} b stuck", got)
                finally:
                    os.kill(mon, signal.SIGCONT)
                for name in builds:
                    procs[name].ask("unstick", 0)
        finally:
            for p in [*procs.values()]:
                p.close()
            for p in [raw1, *raw2]:
                p.close()
            for c in (a, b):
                c.stop()
                c.destroy()
                c.close()
    load1 = os.getloadavg()
    med = {k: statistics.median(v) for k, v in rows.items()}
    print(
        f"lxcpy run(['/bin/true']) concurrency and isolation, {opts.rounds} rounds interleaved; "
        f"load average {load0[0]:.2f} before, {load1[0]:.2f} after ({os.cpu_count()} cpus)"
    )
    ref = med["raw 1 proc"] / med["raw 2 procs"]
    raw = med["raw single"]
    print(f"  raw C single                       {raw * 1e3:7.3f} ms")
    print(f"  raw C {n} calls, 1 proc vs 2 procs  {ref:5.2f}x (reference)")
    for name in builds:
        single = med[f"{name} single"]
        big = med[f"{name}+big single"]
        up = med[f"{name} seq"] / med[f"{name} thr"]
        print(f"  [{name}]")
        print(
            f"    single run()                     {single * 1e3:7.3f} ms  "
            f"{single / raw:5.2f}x raw C"
        )
        print(
            f"    {opts.heap_mib} MiB + 1000 fds caller      {big * 1e3:7.3f} ms  "
            f"{big / single:5.2f}x bare"
        )
        print(
            f"    4 threads vs sequential          {up:5.2f}x  "
            f"({med[f'{name} seq']:.3f} s vs {med[f'{name} thr']:.3f} s for {n})"
        )
        normal = med[f"{name} b"]
        if name in blocked:
            print(
                f"    B, A's monitor stopped           blocked (no answer in "
                f"{opts.stuck_wait:g} s; normally {normal * 1e3:.3f} ms)"
            )
        else:
            stuck = med[f"{name} b stuck"]
            print(
                f"    B, A's monitor stopped           {stuck * 1e3:7.3f} ms  "
                f"{stuck / normal:5.2f}x its normal {normal * 1e3:.3f} ms"
            )


if __name__ == "__main__":
    main()
