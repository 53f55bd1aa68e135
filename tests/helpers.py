"""Helpers shared by the tests (fixtures live in conftest.py)."""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

import lxcpy
from lxcpy import _ffi, _helper, _testing

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
                # A container running without its config (a fault test's
                # finding) cannot be stopped through liblxc: kill its init.
                with contextlib.suppress(lxcpy.LxcError, OSError), lxcpy.Container(name, path) as c:
                    pid = c.init_pid
                    if pid is not None and not c.defined:
                        os.kill(pid, 9)
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


# The helper's sockets to its attach workers are numbered from here.
POOL_FD_FLOOR = 1000


def helper_fds(pid: int) -> int:
    """The helper's open fds, but its sockets to its attach workers (the
    pool grows under load, up to a cap)."""
    return sum(1 for fd in os.listdir(f"/proc/{pid}/fd") if int(fd) < POOL_FD_FLOOR)


def attach_workers(helper: int) -> list[int]:
    """The helper's attach workers: its children running lxcpy-helper's
    code (it has no other children but start/create workers, which run
    liblxc's and leave when done)."""
    out = []
    for pid in children_of(helper):
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/{pid}/exe") == os.readlink(f"/proc/{helper}/exe"):
                out.append(pid)
    return out


def unreaped(helper: int) -> list[int]:
    """What the helper or its attach workers have not reaped yet (its
    start/create workers, the workers' attached processes), zombies too."""
    workers = attach_workers(helper)
    return [p for p in children_of(helper) if p not in workers] + [
        k for w in workers for k in children_of(w)
    ]


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


# -- leftovers: one checker for the fault, state-machine and soak runs --------


def _fd_targets(pid: int | str) -> dict[int, str]:
    """fd number -> what it points to, of a process (empty if it is gone)."""
    out: dict[int, str] = {}
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return out
    for n in names:
        with contextlib.suppress(OSError):
            out[int(n)] = os.readlink(f"/proc/{pid}/fd/{n}")
    return out


def cgroup_dirs(names: Sequence[str]) -> set[str]:
    """The lxc.monitor.<name>* and lxc.payload.<name>* cgroup directories of
    these container names, in every hierarchy under /sys/fs/cgroup (the
    unified one too). Names are global there, whatever the lxcpath: callers
    use names nobody else uses."""
    found: set[str] = set()
    for name in names:
        for kind in ("monitor", "payload"):
            for pattern in (
                f"/sys/fs/cgroup/lxc.{kind}.{name}*",
                f"/sys/fs/cgroup/*/lxc.{kind}.{name}*",
            ):
                found.update(p for p in glob.glob(pattern) if os.path.isdir(p))
    return found


def lxc_monitors(lxcpath: str) -> set[int]:
    """Pids of liblxc's monitor processes ("[lxc monitor] <lxcpath> <name>")
    for containers in lxcpath."""
    pids: set[int] = set()
    want = f"[lxc monitor] {lxcpath.rstrip('/')} ".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if cmd.replace(b"\0", b" ").startswith(want):
            pids.add(int(entry.name))
    return pids


def zombie_children(pid: int) -> set[int]:
    return {c for c in children_of(pid) if (proc_stat(c) or ("",))[0] == "Z"}


@dataclasses.dataclass(frozen=True)
class Leftovers:
    """What a process and its helper hold, and what liblxc left, at one
    moment: compare two with ``Leftovers.diff`` (see ``assert_clean``)."""

    fds: dict[int, str]
    helper_pid: int | None
    helper_fds: dict[int, str]
    zombies: frozenset[int]
    helper_zombies: frozenset[int]
    cgroups: frozenset[str]
    containers: frozenset[str]
    running: frozenset[str]
    monitors: frozenset[int]

    @classmethod
    def take(cls, lxcpath: str, names: Sequence[str]) -> Leftovers:
        hpid = _testing.current_helper_pid()
        fds = _fd_targets("self")
        # The helper's own control socket and pidfd: a helper replaced
        # (killed, lost) has new ones, which are no leak.
        h = _helper._current
        if h is not None:
            for fd in (h.sock.fileno(), h.pidfd):
                if fd is not None:
                    fds.pop(fd, None)
        # The helper keeps up to MAX_HANDLES (32) liblxc handles, each with
        # its log memfd, as a cache (csrc/helper/main.c): bounded, no leak.
        helper_fds = {} if hpid is None else _fd_targets(hpid)
        # Its sockets to its attach workers are fds >= POOL_FD_FLOOR (1000,
        # csrc/helper/pool.c): the pool grows (up to a cap), no leak.
        helper_fds = {
            fd: t
            for fd, t in helper_fds.items()
            if "memfd:lxcpy-log" not in t and fd < POOL_FD_FLOOR
        }
        return cls(
            fds=fds,
            helper_pid=hpid,
            helper_fds=helper_fds,
            zombies=frozenset(zombie_children(os.getpid())),
            helper_zombies=frozenset(() if hpid is None else zombie_children(hpid)),
            cgroups=frozenset(cgroup_dirs(names)),
            containers=frozenset(lxcpy.list_containers(lxcpath, active=False)),
            running=frozenset(lxcpy.list_containers(lxcpath, defined=False)),
            monitors=frozenset(lxc_monitors(lxcpath)),
        )

    def diff(self, later: Leftovers) -> list[str]:
        """What ``later`` has that this one had not (empty: nothing left)."""
        out = []
        extra = {fd: t for fd, t in later.fds.items() if self.fds.get(fd) != t}
        if extra:
            out.append(f"caller fds opened and not closed: {extra}")
        if later.helper_pid is not None and later.helper_pid == self.helper_pid:
            hx = {fd: t for fd, t in later.helper_fds.items() if self.helper_fds.get(fd) != t}
            if hx:
                out.append(f"helper {later.helper_pid} fds opened and not closed: {hx}")
        for what in ("zombies", "helper_zombies", "cgroups", "containers", "running", "monitors"):
            new = set(getattr(later, what)) - set(getattr(self, what))
            if new:
                out.append(f"{what} left: {sorted(new)}")
        return out


def leftovers_after(
    before: Leftovers, lxcpath: str, names: Sequence[str], settle: float = 3.0
) -> list[str]:
    """What is left since ``before``, waiting up to ``settle`` seconds for it
    to go (liblxc's monitor removes its cgroups, a reaper thread reaps...)."""
    deadline = time.monotonic() + settle
    while True:
        problems = before.diff(Leftovers.take(lxcpath, names))
        if not problems or time.monotonic() >= deadline:
            return problems
        time.sleep(0.1)


def assert_clean(
    before: Leftovers, lxcpath: str, names: Sequence[str], settle: float = 3.0
) -> None:
    problems = leftovers_after(before, lxcpath, names, settle)
    assert not problems, "left behind: " + "; ".join(problems)
