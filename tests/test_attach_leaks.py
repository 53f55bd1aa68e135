"""fd, zombie and process counts over 1,000 attaches. liblxc 5.0.2 leaks
the init pidfd once per attach when its caller is single-threaded; lxcpy
never calls it so (csrc/common/attach_run.c): a single-threaded script
(``single``) must leak nothing, as must one with other threads
(``threaded``) and one that drops Popens unwaited (``popen``). What is
open is seen from outside, in the fds of /proc/self/fd."""

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
import time
from lxcpy import _testing
deadline = time.monotonic() + 10
while (_testing.reaper_pending() or zombies()) and time.monotonic() < deadline:
    time.sleep(0.05)
gc.collect()
print(before, fds(), zombies())
"""


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["single", "threaded", "popen"])
def test_no_fd_or_zombie_leak_over_1000_runs(running: lxcpy.Container, mode: str) -> None:
    r = subprocess.run(
        [sys.executable, "-c", _SCRIPT, running.name, running.lxcpath, mode, "1000"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=NEUTRAL_CWD,
    )
    assert r.returncode == 0, r.stderr
    before, after, zombies = (int(x) for x in r.stdout.split())
    assert after == before, f"{after - before} fds leaked ({mode})"
    assert zombies == 0
    # Nothing the test started is left running in the container.
    ps = running.run(["ps"], capture_output=True, text=True).stdout
    assert "true" not in ps and "echo" not in ps


def test_no_leak_in_this_process(running: lxcpy.Container) -> None:
    import gc

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


@pytest.mark.threaded_attach
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
