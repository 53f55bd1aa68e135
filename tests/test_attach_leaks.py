"""fd, zombie and process counts over 1,000 attaches (liblxc 5.0.2 leaks
the init pidfd once per attach in a single-threaded caller)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from helpers import NEUTRAL_CWD, in_threads

import lxcpy

_SCRIPT = """
import os, sys, threading, gc
import lxcpy
from lxcpy import _ffi

def fds():
    return len(os.listdir("/proc/self/fd"))

def zombies():
    me, n = os.getpid(), 0
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                stat = open(f"/proc/{pid}/stat").read()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            n += fields[0] == "Z" and int(fields[1]) == me
    return n

mode, n = sys.argv[3], int(sys.argv[4])
c = lxcpy.Container(sys.argv[1], sys.argv[2])
stop = threading.Event()
if mode == "threaded":
    threading.Thread(target=stop.wait, daemon=True).start()
if mode == "fallback":
    _ffi.attach_force_fd_guard(1)
if mode == "unguarded":
    _ffi.attach_force_fd_guard(2)
c.run(["true"])                      # the attach handle, opened once
r = c.run(["echo", "x"], capture_output=True)
c.attach(lambda: 0).wait()
gc.collect()
before = fds()
for i in range(n):
    if mode == "popen" and i % 10 == 0:
        c.popen(["true"])           # dropped without waiting: reaped in the background
        continue
    r = c.run(["echo", str(i)], capture_output=True)
    assert r.stdout == f"{i}\\n".encode(), r
    if i % 100 == 0:
        assert c.attach(lambda: 3).wait() == 3
guard = _ffi.attach_last_guard()
import time
from lxcpy.process import _reaper
deadline = time.monotonic() + 10
while (_reaper.pending() or zombies()) and time.monotonic() < deadline:
    time.sleep(0.05)
gc.collect()
print(before, fds(), zombies(), guard, threading.active_count())
"""


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["single", "threaded", "fallback", "popen"])
def test_no_fd_or_zombie_leak_over_1000_runs(running: lxcpy.Container, mode: str) -> None:
    r = subprocess.run(
        [sys.executable, "-c", _SCRIPT, running.name, running.lxcpath, mode, "1000"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=NEUTRAL_CWD,
    )
    assert r.returncode == 0, r.stderr
    before, after, zombies, guard, _threads = (int(x) for x in r.stdout.split())
    assert after == before, f"{after - before} fds leaked ({mode})"
    assert zombies == 0
    assert guard == (2 if mode == "fallback" else 1)
    # Nothing the test started is left running in the container.
    ps = running.run(["ps"], capture_output=True, text=True).stdout
    assert "true" not in ps and "echo" not in ps


def test_no_leak_in_this_process(running: lxcpy.Container) -> None:
    import gc
    import os

    from .conftest import open_fds, zombies

    running.run(["true"])
    gc.collect()
    before = open_fds()
    for _ in range(100):
        running.run(["true"], capture_output=True)
        with pytest.raises(FileNotFoundError):
            running.run(["missing-program"], capture_output=True)
    gc.collect()
    assert open_fds() == before
    assert zombies() == 0
    assert os.getpid() > 0


@pytest.mark.skipif(lxcpy.lxc_version() != "5.0.2", reason="the leak is liblxc 5.0.2's")
def test_the_guard_is_what_prevents_the_leak(running: lxcpy.Container) -> None:
    """Without the guard, a single-threaded caller leaks one fd per attach
    (plus one per attach(func) call): the tests above would see it. In
    process (LXCPY_HELPER=0), where run() calls liblxc itself."""
    r = subprocess.run(
        [sys.executable, "-c", _SCRIPT, running.name, running.lxcpath, "unguarded", "50"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=NEUTRAL_CWD,
        env={**os.environ, "LXCPY_HELPER": "0"},
    )
    assert r.returncode == 0, r.stderr
    before, after, _zombies, guard, _threads = (int(x) for x in r.stdout.split())
    assert guard == 0
    assert after - before == 51


def test_threads_share_what_attach_keeps(running: lxcpy.Container) -> None:
    # Eight threads attach at once, through one shared Container and
    # through Containers of their own, opened and closed: every answer
    # right, and no fd left once they are all closed (the shared one keeps
    # up to one attach handle per thread that used it at once).
    import gc

    from .conftest import open_fds

    running.run(["true"])
    gc.collect()
    before = open_fds()
    shared = lxcpy.Container(running.name, running.lxcpath)

    def work(k: int) -> None:
        for i in range(20):
            r = shared.run(["echo", f"{k}.{i}"], capture_output=True, text=True)
            assert r.stdout == f"{k}.{i}\n"
            with lxcpy.Container(running.name, running.lxcpath) as own:
                assert own.run(["true"]).returncode == 0

    errors = in_threads(work, 8)
    shared.close()
    assert not errors, errors
    gc.collect()
    assert open_fds() == before
