"""Soak: many run()s and start/stop cycles, and what they leave behind.

Not a test (``make soak``): it runs ``--runs`` (10,000) ``run(["/bin/true"])``
in a running busybox container, then ``--cycles`` (1,000) start/stop
cycles, in each helper mode (``--mode helper``, ``inprocess`` or ``both``),
and prints, before and after each phase, the open fds and the RSS of the
caller and of lxcpy's helper, the caller's zombie children, and the
``lxc.monitor.*``/``lxc.payload.*`` cgroup directories of the container
under /sys/fs/cgroup. Growth between the two lines of a phase is a leak.

It uses its own temporary lxcpath and container, removed at the end
whatever happened. Needs root.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import lxcpy
from lxcpy import _testing

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from helpers import _reap_lxcpath, cgroup_dirs, zombie_children

NO_NET = {"lxc.net.0.type": "empty"}


def _rss_kib(pid: int | str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _fds(pid: int | str) -> int | None:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def report(label: str, name: str, list_dirs: bool = True) -> dict[str, object]:
    hpid = _testing.current_helper_pid()
    figures: dict[str, object] = {
        "fds": _fds("self"),
        "rss_kib": _rss_kib("self"),
        "helper_pid": hpid,
        "helper_fds": None if hpid is None else _fds(hpid),
        "helper_rss_kib": None if hpid is None else _rss_kib(hpid),
        "zombies": len(zombie_children(os.getpid())),
        "cgroup_dirs": sorted(cgroup_dirs([name])),
    }
    dirs = figures["cgroup_dirs"]
    assert isinstance(dirs, list)
    print(
        f"  {label:<14} caller fds {figures['fds']}, RSS {figures['rss_kib']} KiB; "
        f"helper {hpid}: fds {figures['helper_fds']}, RSS {figures['helper_rss_kib']} KiB; "
        f"zombies {figures['zombies']}; cgroup dirs {len(dirs)}",
        flush=True,
    )
    if list_dirs:
        for d in dirs:
            print(f"      {d}")
    return figures


def soak(mode: str, runs: int, cycles: int, lxcpath: str) -> bool:
    os.environ["LXCPY_HELPER"] = "1" if mode == "helper" else "0"
    name = f"soak-{os.urandom(4).hex()}"
    print(f"== mode {mode} (LXCPY_HELPER={os.environ['LXCPY_HELPER']}), container {name}")
    ok = True
    with lxcpy.Container(name, lxcpath) as c:
        c.create("busybox", config=NO_NET)
        c.start()
        c.run(["/bin/true"], check=True)  # spawns the helper, warms the caches
        before = report("runs: before", name, list_dirs=False)
        t0 = time.monotonic()
        for i in range(runs):
            r = c.run(["/bin/true"])
            if r.returncode != 0:
                print(f"  run {i}: exit status {r.returncode}")
                ok = False
        dt = time.monotonic() - t0
        after = report("runs: after", name, list_dirs=False)
        print(f"  {runs} runs in {dt:.1f} s ({runs / dt if dt else 0:.0f}/s)")
        c.stop()
        before_c = report("cycles: before", name)
        t0 = time.monotonic()
        for _ in range(cycles):
            c.start()
            c.stop()
        dt = time.monotonic() - t0
        # liblxc's monitor removes its cgroups as it exits: give it a moment.
        time.sleep(1)
        after_c = report("cycles: after", name)
        print(
            f"  {cycles} start/stop cycles in {dt:.1f} s ({dt / max(cycles, 1) * 1000:.0f} ms each)"
        )
        c.destroy()
    for a, b in ((before, after), (before_c, after_c)):
        for key in ("fds", "helper_fds", "zombies"):
            if a["helper_pid"] != b["helper_pid"] and key == "helper_fds":
                continue
            was, now = a[key], b[key]
            if isinstance(was, int) and isinstance(now, int) and now > was:
                print(f"  GROWTH: {key} {was} -> {now}")
                ok = False
        if b["cgroup_dirs"] != a["cgroup_dirs"]:
            print(f"  GROWTH: cgroup dirs {a['cgroup_dirs']} -> {b['cgroup_dirs']}")
            ok = False
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--cycles", type=int, default=1_000)
    ap.add_argument("--mode", choices=("helper", "inprocess", "both"), default="both")
    ns = ap.parse_args()
    modes = ["helper", "inprocess"] if ns.mode == "both" else [ns.mode]
    lxcpath = tempfile.mkdtemp(prefix="lxcpy-soak-")
    ok = True
    try:
        for mode in modes:
            ok = soak(mode, ns.runs, ns.cycles, lxcpath) and ok
    finally:
        _reap_lxcpath(lxcpath)
        shutil.rmtree(lxcpath, ignore_errors=True)
    print("== no growth" if ok else "== GROWTH or failures: see above")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
