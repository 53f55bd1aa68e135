"""Helpers shared by the tests (fixtures live in conftest.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

import lxcpy
from lxcpy import _ffi

# Where Python subprocesses of the tests run: not the checkout, whose
# lxcpy/ (without the built extension) would shadow the installed package.
NEUTRAL_CWD = "/"

# Tests of lxcpy's helper process need its executable.
NEEDS_HELPER = pytest.mark.skipif(
    not os.access(_ffi.HELPER_PATH, os.X_OK), reason="lxcpy-helper was not built"
)

# Network-less containers: there is no bridge on test machines.
NO_NET = {"lxc.net.0.type": "empty"}


def _reap_lxcpath(path: str) -> None:
    """Stop and destroy every container in path, then remove it."""
    if not os.path.isdir(path):
        return
    names = lxcpy.list_containers(path)
    # Clones before their bases: a base with overlay clones cannot go first.
    for _ in range(3):
        for name in names:
            try:
                with lxcpy.Container(name, path) as c:
                    if c.running or c.state is lxcpy.State.FROZEN:
                        if c.state is lxcpy.State.FROZEN:
                            c.unfreeze()
                        c.stop()
                    if c.defined:
                        c.destroy(snapshots=True)
            except lxcpy.LxcError:
                pass
        names = lxcpy.list_containers(path)
        if not names:
            break
    shutil.rmtree(path, ignore_errors=True)


def make_lxcpath(prefix: str = "lxcpy-test-") -> str:
    return tempfile.mkdtemp(prefix=prefix)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a process from /proc, or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return fields[0], int(fields[1])


def children_of(pid: int) -> list[int]:
    """The pids whose parent is pid (zombies included)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            st = proc_stat(int(entry.name))
            if st is not None and st[1] == pid:
                out.append(int(entry.name))
    return out


def zombies() -> int:
    """Zombie children of this process."""
    return sum(1 for c in children_of(os.getpid()) if (proc_stat(c) or ("",))[0] == "Z")


def in_threads(work: Callable[[int], None], n: int, timeout: float = 120) -> list[BaseException]:
    """Run work(0) .. work(n-1) in n threads at once; what they raised."""
    errors: list[BaseException] = []

    def run(k: int) -> None:
        try:
            work(k)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    return errors


def have_command(name: str) -> bool:
    return shutil.which(name) is not None


def cgroup_v2_only() -> bool:
    return not any(
        line.split(":")[1] for line in Path("/proc/self/cgroup").read_text().splitlines()
    )


def run_example(path: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(path), *args],
        cwd=NEUTRAL_CWD,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
