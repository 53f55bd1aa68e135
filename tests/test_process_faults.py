"""Faults found by a hostile review of run()/popen(): communicate() with a
program that writes more than it reads, ids past 2**31, huge
environments, attaching to a dying container, fds left behind by failed
attaches, and Processes inherited through os.fork()."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time

import pytest

import lxcpy

# 32 bytes out per byte in: busybox hexdump, in the container and on the host.
_HEXDUMP = ["hexdump", "-v", "-e", '1/1 "%02x.............................\\n"']


def test_communicate_when_the_program_writes_more_than_it_reads(
    running: lxcpy.Container,
) -> None:
    data = os.urandom(1 << 20)
    want = None
    busybox = shutil.which("busybox")
    if busybox is not None:
        # The same program on the host, through subprocess.
        t0 = time.monotonic()
        with subprocess.Popen(
            [busybox, *_HEXDUMP], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        ) as sp:
            want, _ = sp.communicate(data, timeout=60)
        host = time.monotonic() - t0
        assert len(want) == 32 * len(data)
    p = running.popen(_HEXDUMP, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    result: list[bytes] = []
    failure: list[BaseException] = []

    def talk() -> None:
        try:
            out, _ = p.communicate(data, timeout=60)
            result.append(out)
        except BaseException as e:
            failure.append(e)

    t0 = time.monotonic()
    t = threading.Thread(target=talk)
    t.start()
    t.join(30)
    took = time.monotonic() - t0
    if t.is_alive():
        # Blocked in a write the timeout cannot interrupt: unblock it.
        p.kill()
        t.join(30)
        pytest.fail("communicate() blocked writing to the program's stdin")
    assert not failure, failure
    assert p.returncode == 0
    assert len(result[0]) == 32 * len(data)
    if want is not None:
        assert result[0] == want
        assert took < 10 * host + 5, (took, host)
