"""Ctrl-C during blocking lifecycle calls: every blocking call answers
KeyboardInterrupt within about a second. Also: concurrent create()s of one
container have exactly one winner."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable

import pytest
from helpers import NEUTRAL_CWD, proc_stat

import lxcpy

# How long after the signal a call may take to raise KeyboardInterrupt.
PROMPT = 2.5


def alive(pid: int) -> bool:
    st = proc_stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def interrupt(call: Callable[[], object], after: float) -> float:
    """Run call() with a SIGINT delivered ``after`` seconds in; assert it
    raised KeyboardInterrupt and return how long after the signal it did.
    The signal goes to another thread (as a Ctrl-C may): no system call of
    the calling thread is interrupted, only Python's flag is set."""
    fired: list[float] = []

    def fire() -> None:
        fired.append(time.monotonic())
        signal.pthread_kill(threading.get_ident(), signal.SIGINT)

    timer = threading.Timer(after, fire)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            call()
        raised = time.monotonic()
    finally:
        timer.cancel()
        timer.join()
    return raised - fired[0]


# -- wait(), shutdown(), reboot() -------------------------------------------------


def test_wait_forever_answers_ctrl_c(running: lxcpy.Container) -> None:
    # wait(state) with no timeout used liblxc's "forever" (-1) in C.
    watchdog = threading.Timer(10, running.stop)
    watchdog.start()
    try:
        took = interrupt(lambda: running.wait(lxcpy.State.STOPPED), after=0.5)
    finally:
        watchdog.cancel()
        watchdog.join()
    assert took < PROMPT
    assert running.state is lxcpy.State.RUNNING


def test_wait_infinite_timeout_answers_ctrl_c(running: lxcpy.Container) -> None:
    watchdog = threading.Timer(10, running.stop)
    watchdog.start()
    try:
        took = interrupt(lambda: running.wait("STOPPED", timeout=math.inf), after=0.5)
    finally:
        watchdog.cancel()
        watchdog.join()
    assert took < PROMPT


def test_shutdown_answers_ctrl_c(container: lxcpy.Container) -> None:
    # An init that ignores the halt signal: liblxc's shutdown would sit in
    # C for the whole timeout.
    container.config["lxc.signal.halt"] = "SIGCONT"
    container.start()
    took = interrupt(lambda: container.shutdown(timeout=12), after=0.5)
    assert took < PROMPT
    assert container.running
    container.stop()


def test_shutdown_sends_the_halt_signal_once_and_waits(container: lxcpy.Container) -> None:
    # A sliced shutdown must not signal init once per slice: this init
    # counts the halt signals it gets and exits at the second.
    container.config["lxc.signal.halt"] = "SIGUSR1"
    container.start(
        cmd=[
            "/bin/sh",
            "-c",
            "n=0; trap 'n=$((n+1)); [ $n -ge 2 ] && exit 0' USR1; while :; do sleep 0.2; done",
        ]
    )
    with pytest.raises(lxcpy.StopTimeoutError):
        container.shutdown(timeout=3.5)
    assert container.running
    container.shutdown(timeout=10)
    assert container.state is lxcpy.State.STOPPED


def test_reboot_answers_ctrl_c(container: lxcpy.Container) -> None:
    container.config["lxc.signal.reboot"] = "SIGCONT"
    container.start()
    took = interrupt(lambda: container.reboot(timeout=12), after=0.5)
    assert took < PROMPT
    assert container.running
    container.stop()


def test_reboot_timeout(container: lxcpy.Container) -> None:
    container.config["lxc.signal.reboot"] = "SIGCONT"
    container.start()
    pid = container.init_pid
    t0 = time.monotonic()
    with pytest.raises(lxcpy.RebootError):
        container.reboot(timeout=1.5)
    assert 1.4 < time.monotonic() - t0 < 5
    assert container.init_pid == pid
    container.stop()


# -- create() ---------------------------------------------------------------------


def test_concurrent_creates_have_one_winner(lxcpath: str) -> None:
    code = textwrap.dedent(
        """
        import sys
        import lxcpy
        c = lxcpy.Container(sys.argv[1], sys.argv[2])
        sys.stdin.read(1)
        try:
            c.create("busybox", config={"lxc.net.0.type": "empty"})
            print("won")
        except lxcpy.AlreadyDefinedError:
            print("lost")
        """
    )
    env = dict(os.environ)
    for rnd in range(20):
        name = f"race{rnd}"
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", code, name, lxcpath],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=NEUTRAL_CWD,
                env=env,
            )
            for _ in range(2)
        ]
        time.sleep(0.3)  # both imported lxcpy and opened their handle
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("x")
            p.stdin.flush()
        outs = [p.communicate(timeout=120) for p in procs]
        results = sorted(out.strip() for out, _err in outs)
        assert results == ["lost", "won"], (rnd, outs)
        with lxcpy.Container(name, lxcpath) as c:
            assert c.defined
            with c.started():
                assert c.run(["true"]).returncode == 0
            c.destroy()
