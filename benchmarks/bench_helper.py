"""What lxcpy's helper process buys: the cost of start() (and of run(),
once it goes through the helper) no longer depends on what the caller holds.

One interleaved run, helper on and off (LXCPY_HELPER), medians and ratios:

- start() with 1,024 extra open fds in the caller vs none (target <= 1.2x);
- 16 containers started and stopped from 8 threads vs sequentially
  (target >= 1.3x faster).

Everything lives in its own temporary lxcpath, removed at the end.
Run as root: ``python benchmarks/bench_helper.py [--rounds N]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import lxcpy

NO_NET = {"lxc.net.0.type": "empty"}


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


class Bench:
    def __init__(self, lxcpath: str) -> None:
        self.lxcpath = lxcpath
        self.base = lxcpy.Container("base", lxcpath)
        self.base.create("busybox", config=NO_NET)
        self.cts = [self.base.clone(f"ct{i}", snapshot=True) for i in range(16)]
        self.times: dict[tuple[str, str], list[float]] = defaultdict(list)

    def start_with_fds(self, helper: str, extra: int) -> None:
        os.environ["LXCPY_HELPER"] = helper
        fds = [os.open(os.devnull, os.O_RDONLY) for _ in range(extra)]
        try:
            c = self.cts[0]
            self.times[(f"start(), {extra} extra fds", helper)].append(timed(c.start))
            c.stop()
        finally:
            for fd in fds:
                os.close(fd)

    def sixteen(self, helper: str, threads: int) -> None:
        os.environ["LXCPY_HELPER"] = helper

        def cycle(c: lxcpy.Container) -> None:
            c.start()
            c.stop()

        def run() -> None:
            if threads == 1:
                for c in self.cts:
                    cycle(c)
            else:
                with ThreadPoolExecutor(threads) as pool:
                    list(pool.map(cycle, self.cts))

        label = "16 start+stop, sequential" if threads == 1 else "16 start+stop, 8 threads"
        self.times[(label, helper)].append(timed(run))

    def close(self) -> None:
        for c in self.cts:
            if c.running:
                c.stop()
            c.destroy()
            c.close()
        self.base.destroy()
        self.base.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=16)
    args = ap.parse_args()
    lxcpath = tempfile.mkdtemp(prefix="lxcpy-bench-helper-")
    saved = os.environ.get("LXCPY_HELPER")
    b = None
    try:
        b = Bench(lxcpath)
        for h in ("1", "0"):  # warm up
            b.start_with_fds(h, 0)
        b.times.clear()
        for i in range(args.rounds):
            # Each order half the time: what ran just before a start moves
            # it by several percent on this VM.
            order = (0, 1024) if i % 2 == 0 else (1024, 0)
            for h in ("1", "0"):
                for extra in order:
                    b.start_with_fds(h, extra)
        for _ in range(max(3, args.rounds // 3)):
            for h in ("1", "0"):
                b.sixteen(h, 1)
                b.sixteen(h, 8)
        med = {k: statistics.median(v) for k, v in b.times.items()}

        def ms(label: str, h: str) -> str:
            return f"{med[(label, h)] * 1000:9.1f}"

        print(f"{'median, ms':38} {'helper on':>10} {'helper off':>10}")
        for label in (
            "start(), 0 extra fds",
            "start(), 1024 extra fds",
            "16 start+stop, sequential",
            "16 start+stop, 8 threads",
        ):
            print(f"{label:38} {ms(label, '1'):>10} {ms(label, '0'):>10}")
        print()
        print(f"{'ratio':38} {'helper on':>10} {'helper off':>10}  target")
        r_fds = [
            med[("start(), 1024 extra fds", h)] / med[("start(), 0 extra fds", h)]
            for h in ("1", "0")
        ]
        r_thr = [
            med[("16 start+stop, sequential", h)] / med[("16 start+stop, 8 threads", h)]
            for h in ("1", "0")
        ]
        print(f"{'start 1024 fds / 0 fds':38} {r_fds[0]:10.2f} {r_fds[1]:10.2f}  <= 1.2")
        speedup = "16 sequential / 8 threads (speed-up)"
        print(f"{speedup:38} {r_thr[0]:10.2f} {r_thr[1]:10.2f}  >= 1.3")
    finally:
        if saved is None:
            os.environ.pop("LXCPY_HELPER", None)
        else:
            os.environ["LXCPY_HELPER"] = saved
        if b is not None:
            b.close()
        shutil.rmtree(lxcpath, ignore_errors=True)


if __name__ == "__main__":
    main()
