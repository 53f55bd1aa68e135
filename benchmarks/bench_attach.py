"""Benchmark: lxcpy's run() against the same liblxc calls made from C (the
limit), python3-lxc's attach_wait (when the system Python has it), and
subprocess.run(["lxc-attach", ...]).

Three workloads: run(["/bin/true"]), run(["echo", "hi"], capture_output=True),
and a 1 MiB capture. Contenders run interleaved, in rounds of small batches,
so that drifts of the machine hit them all alike; each library runs in a
worker process of its own (liblxc forks the calling process, so what that
process has loaded counts), lxc-attach from this one. Prints medians and
ratios.

    python benchmarks/bench_attach.py [--rounds 40] [--batch 10]

Uses its own temporary lxcpath (a busybox container) and removes it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import lxcpy

HERE = Path(__file__).resolve().parent
WORKLOADS = {
    "true": ["/bin/true"],
    "echo": ["echo", "hi"],
    "mib": ["head", "-c", "1048576", "/dev/zero"],
}
LABELS = {
    "true": 'run(["/bin/true"])',
    "echo": 'run(["echo","hi"], capture)',
    "mib": "1 MiB capture",
}


class Worker:
    """A contender in another process, speaking raw_attach.c's protocol."""

    def __init__(self, argv: list[str]) -> None:
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )

    def batch(self, what: str, n: int) -> list[float]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"{what} {n}\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.proc.args!r} died ({self.proc.wait()})")
        return [int(x) / 1e9 for x in line.split()]

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@contextlib.contextmanager
def bench_container() -> Iterator[tuple[str, lxcpy.Container]]:
    """A running busybox container "bench" in a temporary lxcpath (under a
    temporary directory, which is yielded too, for built programs); both
    are destroyed on leaving."""
    with tempfile.TemporaryDirectory(prefix="lxcpy-bench-") as tmp:
        lxcpath = os.path.join(tmp, "containers")
        os.mkdir(lxcpath)
        with lxcpy.ephemeral(
            "busybox", config={"lxc.net.0.type": "empty"}, lxcpath=lxcpath, name="bench"
        ) as c:
            yield tmp, c


def build_raw(tmp: str) -> str:
    exe = os.path.join(tmp, "raw_attach")
    flags = subprocess.run(
        ["pkg-config", "--cflags", "--libs", "lxc"], check=True, capture_output=True, text=True
    ).stdout.split()
    subprocess.run(["cc", "-O2", "-o", exe, str(HERE / "raw_attach.c"), *flags], check=True)
    return exe


def timed(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument(
        "--lxcpy-python",
        default=sys.executable,
        help="interpreter for the lxcpy worker (e.g. a venv of /usr/bin/python3, "
        "to compare with python3-lxc on the same interpreter)",
    )
    opts = ap.parse_args()

    with bench_container() as (tmp, c):
        lxcpath = c.lxcpath
        workers: dict[str, Worker] = {}
        try:
            workers["raw C"] = Worker([build_raw(tmp), c.name, lxcpath])
            workers["lxcpy"] = Worker(
                [opts.lxcpy_python, str(HERE / "lxcpy_worker.py"), c.name, lxcpath]
            )
            py3 = "/usr/bin/python3"
            if (
                os.path.exists(py3)
                and subprocess.run([py3, "-c", "import lxc"], capture_output=True).returncode == 0
            ):
                workers["python3-lxc"] = Worker(
                    [py3, str(HERE / "py3lxc_worker.py"), c.name, lxcpath]
                )
            have_lxc_attach = shutil.which("lxc-attach") is not None

            def lxc_attach(what: str) -> Callable[[], object]:
                argv = ["lxc-attach", "-n", c.name, "-P", lxcpath, "--", *WORKLOADS[what]]
                return lambda: subprocess.run(argv, capture_output=what != "true", check=True)

            names = [
                "raw C",
                "lxcpy",
                *(["python3-lxc"] if "python3-lxc" in workers else []),
                *(["lxc-attach"] if have_lxc_attach else []),
            ]
            results: dict[tuple[str, str], list[float]] = {}
            # Warm up every contender once.
            for what in WORKLOADS:
                for w in workers.values():
                    w.batch(what, 2)
            for _ in range(opts.rounds):
                for what in WORKLOADS:
                    for name in names:
                        if name in workers:
                            times = workers[name].batch(what, opts.batch)
                        else:
                            times = timed(lxc_attach(what), opts.batch)
                        results.setdefault((what, name), []).extend(times)

            print(
                f"liblxc {lxcpy.lxc_version()}, {opts.rounds} rounds x {opts.batch} "
                f"interleaved; medians in ms (ratio to raw C)\n"
            )
            head = f"{'workload':30}" + "".join(f"{n:>22}" for n in names)
            print(head)
            print("-" * len(head))
            for what in WORKLOADS:
                base = statistics.median(results[(what, "raw C")])
                row = f"{LABELS[what]:30}"
                for name in names:
                    med = statistics.median(results[(what, name)])
                    row += f"{med * 1e3:>13.3f} ({med / base:4.2f}x)"
                print(row)
            print()
            for what in WORKLOADS:
                lx = statistics.median(results[(what, "lxcpy")])
                notes = []
                for other in ("python3-lxc", "lxc-attach"):
                    if other in names:
                        ratio = statistics.median(results[(what, other)]) / lx
                        notes.append(f"{other}/lxcpy {ratio:.2f}x")
                print(f"{LABELS[what]:30} " + ", ".join(notes))
        finally:
            for w in workers.values():
                w.close()


if __name__ == "__main__":
    sys.exit(main())
