"""Benchmark: run(["/bin/true"]) in a bare Python process and in one with
1 GiB of touched heap, with lxcpy's helper process (LXCPY_HELPER=1, the
default) and without it (0), next to the raw C limit (raw_attach.c),
python3-lxc's attach_wait and lxc-attach.

In-process, liblxc forks the caller twice per attach, so the caller's size
counts; through the helper, the forks copy the small helper. Every
contender is a worker process of its own (lxc-attach runs from this one);
they run interleaved, in rounds of small batches. Prints medians and ratios.

    python benchmarks/bench_run_heap.py [--rounds 40] [--batch 10] [--heap-mib 1024]

Uses its own temporary lxcpath (a busybox container) and removes it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

from bench_attach import HERE, Worker, bench_container, build_raw

import lxcpy


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--heap-mib", type=int, default=1024)
    opts = ap.parse_args()

    with bench_container() as (tmp, c):
        lxcpath = c.lxcpath
        workers: dict[str, Worker] = {}
        try:
            workers["raw C"] = Worker([build_raw(tmp), c.name, lxcpath])
            worker = [sys.executable, str(HERE / "lxcpy_worker.py"), c.name, lxcpath]
            heap = [str(opts.heap_mib)]
            for mode in ("1", "0"):
                os.environ["LXCPY_HELPER"] = mode  # read by the worker at each call
                tag = "helper" if mode == "1" else "in-process"
                workers[f"lxcpy {tag}, bare"] = Worker(worker)
                workers[f"lxcpy {tag}, {opts.heap_mib} MiB"] = Worker([*worker, *heap])
            os.environ.pop("LXCPY_HELPER")
            py3 = "/usr/bin/python3"
            if (
                os.path.exists(py3)
                and subprocess.run([py3, "-c", "import lxc"], capture_output=True).returncode == 0
            ):
                workers["python3-lxc"] = Worker(
                    [py3, str(HERE / "py3lxc_worker.py"), c.name, lxcpath]
                )
            names = list(workers)
            argv = ["lxc-attach", "-n", c.name, "-P", lxcpath, "--", "/bin/true"]
            if shutil.which("lxc-attach"):
                names.append("lxc-attach")
            results: dict[str, list[float]] = {n: [] for n in names}
            for w in workers.values():
                w.batch("true", 3)  # warm up (the helper starts, handles open)
            for _ in range(opts.rounds):
                for name in names:
                    if name in workers:
                        results[name].extend(workers[name].batch("true", opts.batch))
                        continue
                    for _ in range(opts.batch):
                        t = time.perf_counter()
                        subprocess.run(argv, check=True)
                        results[name].append(time.perf_counter() - t)

            med = {n: statistics.median(v) for n, v in results.items()}
            raw = med["raw C"]
            print(
                f'run(["/bin/true"]), liblxc {lxcpy.lxc_version()}, {opts.rounds} rounds x '
                f"{opts.batch} interleaved; medians\n"
            )
            print(f"{'contender':34}{'ms':>10}{'/ raw C':>10}")
            print("-" * 54)
            for n in names:
                print(f"{n:34}{med[n] * 1e3:>10.3f}{med[n] / raw:>9.2f}x")
            print()
            for tag in ("helper", "in-process"):
                bare, big = med[f"lxcpy {tag}, bare"], med[f"lxcpy {tag}, {opts.heap_mib} MiB"]
                line = (
                    f"{tag:11} {opts.heap_mib} MiB heap / bare: {big / bare:5.2f}x   "
                    f"bare / raw C: {bare / raw:4.2f}x"
                )
                for other in ("python3-lxc", "lxc-attach"):
                    if other in med:
                        line += f"   {other} / bare: {med[other] / bare:4.2f}x"
                print(line)
        finally:
            for w in workers.values():
                w.close()


if __name__ == "__main__":
    sys.exit(main())
