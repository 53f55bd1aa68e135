"""A Container's handle over its life: close() while other threads are
inside calls, destroy() and rename() replacing the handle, and every cache
kept per container following it."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
import threading
import time

import pytest
from helpers import NEUTRAL_CWD, NO_NET

import lxcpy


def _run_script(code: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run code in a fresh Python (a crash there is a failed test here)."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        cwd=NEUTRAL_CWD,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_close_while_another_thread_waits(running: lxcpy.Container) -> None:
    """close() from one thread while another is in wait(): no crash (it
    segfaulted); the wait ends with ValueError within about a second, as
    do later calls."""
    r = _run_script(
        """
        import sys, threading, time, lxcpy
        c = lxcpy.Container("ct", sys.argv[1])
        out = []
        def waiter():
            try:
                out.append(c.wait("STOPPED", timeout=30))
            except BaseException as e:
                out.append(type(e).__name__)
        t = threading.Thread(target=waiter)
        t.start()
        time.sleep(0.5)
        c.close()
        try:
            c.state
        except ValueError:
            out.append("closed")
        start = time.monotonic()
        t.join()
        print(out, time.monotonic() - start < 2)
        """,
        running.lxcpath,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "['closed', 'ValueError'] True"


def test_close_during_shutdown_never_touches_a_reused_fd(container: lxcpy.Container) -> None:
    """close() while another thread is in shutdown(), then a file opened
    by the closing thread (it used to get the log memfd's number, which
    shutdown then read as liblxc's log and truncated): the file is intact."""
    data = b"x" * (100 << 10)  # above the size at which a log is trimmed
    # A halt signal init ignores: shutdown() waits out its timeout.
    container.config["lxc.signal.halt"] = "SIGURG"
    container.config.save()
    container.start()
    running = container
    with tempfile.NamedTemporaryFile() as tmp:
        tmp.write(data)
        tmp.flush()
        c = lxcpy.Container("ct", running.lxcpath)
        errors: list[BaseException] = []

        def halt() -> None:
            try:
                c.shutdown(timeout=2)
            except BaseException as e:
                errors.append(e)

        t = threading.Thread(target=halt)
        t.start()
        time.sleep(0.5)
        c.close()
        fds = [os.open(tmp.name, os.O_RDWR) for _ in range(8)]
        try:
            t.join(30)
            assert not t.is_alive()
            # The wait for STOPPED ends when the object is closed.
            assert [type(e) for e in errors] == [ValueError]
            for fd in fds:
                assert os.fstat(fd).st_size == len(data)
        finally:
            for fd in fds:
                os.close(fd)


@pytest.mark.threaded_attach
def test_close_during_calls_from_many_threads(running: lxcpy.Container) -> None:
    """Threads calling state, config and run() while another closes the
    object: each call either completes or raises ValueError (closed); no
    crash; the handle's fds are released once they are all done."""
    r = _run_script(
        """
        import os, sys, threading, lxcpy
        before = len(os.listdir("/proc/self/fd"))
        bad = []
        for round in range(10):
            c = lxcpy.Container("ct", sys.argv[1])
            def work():
                for _ in range(20):
                    try:
                        c.state
                        c.config.get("lxc.uts.name")
                        c.run(["true"])
                    except ValueError:
                        return
                    except BaseException as e:
                        bad.append(repr(e))
                        return
            ts = [threading.Thread(target=work) for _ in range(4)]
            for t in ts:
                t.start()
            c.close()
            for t in ts:
                t.join()
        print(bad)
        print(len(os.listdir("/proc/self/fd")) - before)
        """,
        running.lxcpath,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split("\n")
    assert lines[0] == "[]"
    # The helper's control socket and pidfd, when it runs, are the only
    # new fds.
    assert int(lines[1]) <= 2


def test_destroyed_container_is_like_a_new_handle(base: lxcpy.Container, lxcpath: str) -> None:
    """After destroy(), the object is an undefined container with a fresh
    default configuration: create() works again (it failed: the handle kept
    the old rootfs path, mount entries and environment)."""
    c = base.clone("again", lxcpath=lxcpath, snapshot=True)
    try:
        c.config["lxc.environment"] = "FOO=bar"
        c.config.save()
        c.destroy()
        assert not c.defined
        with lxcpy.Container("again", lxcpath) as fresh:
            assert c.config.keys() == fresh.config.keys()
            assert dict(c.config.items()) == dict(fresh.config.items())
        c.create("busybox", config=NO_NET)
        assert c.defined
        with c.started():
            assert c.run(["true"]).returncode == 0
        c.destroy()
        assert not c.defined
    finally:
        c.close()


def test_errors_after_destroy_carry_liblxc_reason(base: lxcpy.Container, lxcpath: str) -> None:
    c = base.clone("gone", lxcpath=lxcpath, snapshot=True)
    try:
        c.destroy()
        with pytest.raises(lxcpy.CreateError) as info:
            c.create("/nonexistent-template")
        assert info.value.details, "liblxc's reason is lost"
        assert not c.defined
        assert not os.path.exists(os.path.join(lxcpath, "gone"))
    finally:
        c.close()


def test_destroy_of_a_base_with_clones_names_them(base: lxcpy.Container, lxcpath: str) -> None:
    """lxc-destroy says the container has clones; so does DestroyError."""
    b = base.clone("b", lxcpath=lxcpath)
    k = b.clone("k", snapshot=True)
    try:
        with pytest.raises(lxcpy.DestroyError) as info:
            b.destroy()
        assert "clone" in str(info.value)
        assert "k" in str(info.value)
        assert b.defined
        k.destroy()
        b.destroy()
        assert not b.defined
    finally:
        k.close()
        b.close()


def test_rename_drops_attach_handles(base: lxcpy.Container, lxcpath: str) -> None:
    """stop, rename, start, then run() and attach(func): they used the
    attach handles opened under the old name, and failed."""
    container = base.clone("old", lxcpath=lxcpath)  # overlay clones cannot be renamed
    container.start()
    assert container.run(["true"]).returncode == 0
    p = container.attach(int, 0)
    assert p.wait() == 0
    container.stop()
    container.rename("renamed")
    container.start()
    try:
        r = container.run(["hostname"], capture_output=True, text=True)
        assert r.returncode == 0
        p = container.attach(int, 3)
        assert p.wait() == 3
    finally:
        container.stop()
        container.close()


def test_handles_released_after_close_with_calls_in_flight(running: lxcpy.Container) -> None:
    """A Container closed while a call was in flight releases its handle
    (and log memfd) when that call returns (in a fresh Python: this crashed)."""
    r = _run_script(
        """
        import os, sys, threading, time, lxcpy
        before = len(os.listdir("/proc/self/fd"))
        for _ in range(5):
            c = lxcpy.Container("ct", sys.argv[1])
            t = threading.Thread(target=c.wait, args=("STOPPED", 0.3))
            t.start()
            time.sleep(0.05)
            c.close()
            t.join()
        print(len(os.listdir("/proc/self/fd")) - before)
        """,
        running.lxcpath,
    )
    assert r.returncode == 0, r.stderr
    assert int(r.stdout) <= 0


def test_copy_starts_right_after_clone(base: lxcpy.Container, lxcpath: str) -> None:
    """The Container clone() returns is the one Container() would open: a
    full copy starts from it at once (in-process, liblxc's own returned
    handle could not open its "dir:"-prefixed rootfs)."""
    copy = base.clone("copy", lxcpath=lxcpath)
    try:
        with copy.started():
            assert copy.run(["true"]).returncode == 0
    finally:
        copy.close()
