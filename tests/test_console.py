"""console_getfd() and console_log()."""

from __future__ import annotations

import gc
import os
import select
import time
from collections.abc import Iterator

import pytest

import lxcpy


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture
def logct(base: lxcpy.Container, lxcpath: str) -> Iterator[lxcpy.Container]:
    """Running, with a console ring buffer."""
    c = base.clone("con", lxcpath=lxcpath, snapshot=True)
    try:
        c.config["lxc.console.buffer.size"] = "64k"
        c.config.save()
        c.start()
        yield c
    finally:
        c.close()


def _read_until(fd: int, want: bytes, timeout: float = 10) -> bytes:
    got = b""
    deadline = time.monotonic() + timeout
    while want not in got and time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            got += os.read(fd, 4096)
    return got


def test_console_getfd_tty(running: lxcpy.Container) -> None:
    before = _fds()
    con = running.console_getfd()
    try:
        fd, ttynum = con
        assert fd == con.fd and ttynum == con.ttynum
        assert 1 <= ttynum <= 5  # the busybox template sets lxc.tty.max = 5
        os.write(fd, b"\n")
        # busybox's getty answers on tty1; other ttys are plain ptys:
        # echo proves the fd is the tty's master either way.
        assert _read_until(fd, b"\n")
    finally:
        con.close()
    assert con.closed
    con.close()  # idempotent
    assert _fds() == before


def test_console_getfd_specific_and_busy(running: lxcpy.Container) -> None:
    with running.console_getfd(2) as con:
        assert con.ttynum == 2
        # tty 2 is reserved while con holds it
        with pytest.raises(lxcpy.ConsoleError):
            running.console_getfd(2)
    with running.console_getfd(2) as again:
        assert again.ttynum == 2


def test_console_getfd_gc_releases_reservation(running: lxcpy.Container) -> None:
    before = _fds()
    fd, _ = running.console_getfd(3)  # the Console object is dropped at once
    gc.collect()
    os.close(fd)
    assert _fds() == before
    with running.console_getfd(3) as con:
        assert con.ttynum == 3


def test_console_getfd_bad_input(running: lxcpy.Container) -> None:
    with pytest.raises(TypeError):
        running.console_getfd("1")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        running.console_getfd(True)
    with pytest.raises(ValueError):
        running.console_getfd(-2)
    with pytest.raises(lxcpy.ConsoleError):
        running.console_getfd(99)  # more than lxc.tty.max


def _log_until(c: lxcpy.Container, want: bytes, timeout: float = 10) -> bytes:
    """Reading the ring buffer consumes what was read: accumulate."""
    data = b""
    deadline = time.monotonic() + timeout
    while want not in data and time.monotonic() < deadline:
        data += c.console_log()
        time.sleep(0.05)
    return data


def test_console_log(logct: lxcpy.Container) -> None:
    # busybox init prints its "askfirst" prompt on the console
    assert b"activate this console" in _log_until(logct, b"activate this console")
    assert logct.console_log() == b""  # all read: nothing left
    with logct.console_getfd(0) as con:
        assert con.ttynum == 0
        os.write(con.fd, b"\n")  # activates the console's shell
        os.write(con.fd, b"echo lxcpy-$((6*7))\n")
        assert b"lxcpy-42" in _read_until(con.fd, b"lxcpy-42")
        assert b"lxcpy-42" in _log_until(logct, b"lxcpy-42")

        os.write(con.fd, b"echo lxcpy-$((6*8))\n")
        _read_until(con.fd, b"lxcpy-48")
        time.sleep(0.2)
        head = logct.console_log(max_bytes=4)
        assert len(head) == 4
        rest = _log_until(logct, b"lxcpy-48")
        assert b"lxcpy-48" in head + rest

        os.write(con.fd, b"echo lxcpy-$((6*9))\n")
        _read_until(con.fd, b"lxcpy-54")
        time.sleep(0.2)
        assert b"lxcpy-54" in logct.console_log(clear=True)
        assert logct.console_log() == b""


def test_console_log_needs_buffer(running: lxcpy.Container) -> None:
    with pytest.raises(lxcpy.ConsoleError) as e:
        running.console_log()
    assert "lxc.console.buffer.size" in str(e.value)


def test_console_log_bad_input(logct: lxcpy.Container) -> None:
    with pytest.raises(TypeError):
        logct.console_log(clear=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        logct.console_log(max_bytes=0)
    with pytest.raises(TypeError):
        logct.console_log(max_bytes="5")  # type: ignore[arg-type]


def test_console_not_running(container: lxcpy.Container) -> None:
    with pytest.raises(lxcpy.NotRunningError):
        container.console_getfd()
    with pytest.raises(lxcpy.NotRunningError):
        container.console_log()


def test_console_not_defined(lxcpath: str) -> None:
    with lxcpy.Container("ghost", lxcpath) as c:
        with pytest.raises(lxcpy.NotDefinedError):
            c.console_getfd()
        with pytest.raises(lxcpy.NotDefinedError):
            c.console_log()
    assert os.listdir(lxcpath) == []
