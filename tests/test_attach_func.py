"""attach(func), attach_shell(), threads and concurrency."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from helpers import NEUTRAL_CWD, in_threads

import lxcpy

from .conftest import zombies


def _hostname() -> str:
    return Path("/proc/sys/kernel/hostname").read_text().strip()


def test_attach_runs_inside_and_returns_status(running: lxcpy.Container) -> None:
    def child(a: int, b: int = 0) -> int:
        print("hostname", _hostname(), "sum", a + b, "env", os.environ.get("container"))  # noqa: SIM112 - set by liblxc
        return a + b

    p = running.attach(child, 3, kwargs={"b": 4}, stdout=subprocess.PIPE, text=True)
    assert isinstance(p, lxcpy.Process)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 7
    assert out == "hostname ct sum 7 env lxc\n" and err is None


def test_attach_none_is_zero_and_output_is_flushed(running: lxcpy.Container) -> None:
    def child() -> None:
        sys.stdout.write("no newline, unflushed")
        sys.stderr.write("err too")

    p = running.attach(child, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.communicate(timeout=30) == (b"no newline, unflushed", b"err too")
    assert p.returncode == 0


def test_attach_exception_is_one_with_traceback(running: lxcpy.Container) -> None:
    def child() -> None:
        raise RuntimeError("boom in the container")

    p = running.attach(child, stderr=subprocess.PIPE, text=True)
    _, err = p.communicate(timeout=30)
    assert p.returncode == 1
    assert "Traceback" in err and "RuntimeError: boom in the container" in err


def test_attach_sys_exit(running: lxcpy.Container) -> None:
    assert running.attach(sys.exit, 9).wait(30) == 9
    assert running.attach(lambda: 256 + 4).wait(30) == 4


def test_attach_options_apply(running: lxcpy.Container) -> None:
    def child() -> int:
        print(os.getcwd(), os.environ.get("FOO"), os.getuid())
        return 0

    p = running.attach(child, cwd="/tmp", env={"FOO": "bar"}, user=0, stdout=subprocess.PIPE)
    assert p.communicate(timeout=30)[0] == b"/tmp bar 0\n"


def test_attach_cwd_missing(running: lxcpy.Container) -> None:
    with pytest.raises(FileNotFoundError):
        running.attach(lambda: 0, cwd="/no/such/dir")
    assert zombies() == 0


def test_attach_not_callable(running: lxcpy.Container) -> None:
    with pytest.raises(TypeError):
        running.attach(42)  # type: ignore[arg-type]


def test_attach_stdin(running: lxcpy.Container) -> None:
    def child() -> int:
        return len(sys.stdin.read())

    p = running.attach(child, stdin=subprocess.PIPE)
    p.communicate(b"12345", timeout=30)
    assert p.returncode == 5


def test_attach_child_does_not_hold_other_pipes(running: lxcpy.Container) -> None:
    # A long-lived Python child must not keep another attach's pipes open.
    with running.popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE) as cat:
        sleeper = running.attach(lambda: __import__("time").sleep(5))
        out, _ = cat.communicate(b"x", timeout=3)
        assert out == b"x"
    sleeper.kill()
    sleeper.wait()


_THREADS = """
import logging, os, subprocess, sys, threading, time
import lxcpy

c = lxcpy.Container(sys.argv[1], sys.argv[2])
stop = threading.Event()

def busy():
    x = 0
    while not stop.is_set():
        x += 1          # holds the GIL between switches

def hold_logging():
    handler = logging.StreamHandler(sys.stderr)
    logging.getLogger().addHandler(handler)
    while not stop.is_set():
        with handler.lock:           # the handler's lock, held most of the time
            logging._acquireLock()   # and logging's module lock
            try:
                time.sleep(0.002)
            finally:
                logging._releaseLock()

def child():
    logging.getLogger("child").warning("child logged")
    print("child printed")
    return 0

threads = [threading.Thread(target=busy), threading.Thread(target=hold_logging)]
for t in threads:
    t.start()
try:
    for i in range(20):
        p = c.attach(child, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = p.communicate(timeout=20)
        assert p.returncode == 0, (p.returncode, err)
        assert out == "child printed\\n", out
        assert "child logged" in err, err
        r = c.run(["echo", str(i)], capture_output=True, text=True, timeout=20)
        assert r.stdout == f"{i}\\n"
finally:
    stop.set()
    for t in threads:
        t.join()
print("ok")
"""


@pytest.mark.threaded_attach
def test_attach_with_busy_and_lock_holding_threads(running: lxcpy.Container) -> None:
    """The deadlock case, in a separate interpreter guarded by a timeout."""
    r = subprocess.run(
        [sys.executable, "-c", _THREADS, running.name, running.lxcpath],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=NEUTRAL_CWD,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"


@pytest.mark.threaded_attach
def test_concurrent_runs_on_one_handle(running: lxcpy.Container) -> None:
    def worker(n: int) -> None:
        for i in range(25):
            r = running.run(["echo", f"{n}-{i}"], capture_output=True, timeout=30)
            assert r.stdout == f"{n}-{i}\n".encode()

    errors = in_threads(worker, 4)
    assert not errors
    assert zombies() == 0


_SHELL = """
import sys, lxcpy
c = lxcpy.Container(sys.argv[1], sys.argv[2])
sys.exit(c.attach_shell(**eval(sys.argv[3])))
"""


@pytest.mark.parametrize("options", [{}, {"shell": "/bin/sh", "cwd": "/tmp"}])
def test_attach_shell(running: lxcpy.Container, options: dict[str, str]) -> None:
    r = subprocess.run(
        [sys.executable, "-c", _SHELL, running.name, running.lxcpath, repr(options)],
        input="echo in-shell $(hostname) $(pwd); exit 4\n",
        capture_output=True,
        text=True,
        timeout=60,
        cwd=NEUTRAL_CWD,
    )
    assert r.returncode == 4, r.stderr
    assert r.stdout.startswith("in-shell ct /")
    if "cwd" in options:
        assert r.stdout.strip().endswith("/tmp")


def test_attach_shell_stopped(container: lxcpy.Container) -> None:
    with pytest.raises(lxcpy.NotRunningError):
        container.attach_shell()


def test_process_args_is_the_callable(running: lxcpy.Container) -> None:
    def f() -> int:
        return 0

    p = running.attach(f)
    assert p.args is f
    assert p.wait(30) == 0
    assert textwrap.dedent(repr(p)).startswith("<lxcpy.Process pid=")
