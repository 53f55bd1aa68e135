"""Waiting for the process that does a ``create()`` or ``start()``, and
making sure it is gone when the call is abandoned.

That process is a child of this process (``LXCPY_HELPER=0``: the shim
forks it) or a worker of lxcpy's helper. Either way it leads a process
group of its own, which the template, liblxc's storage and intermediate
processes inherit (liblxc's monitor leaves it with ``setsid()``), so
killing the group kills everything the call started except a container's
monitor.

A wait sleeps at most a second at a time (GIL released), so that
KeyboardInterrupt gets through. When the wait is abandoned (an exception,
KeyboardInterrupt included) or the helper died, the group is killed and
waited for before the exception goes on, so that what the caller then
removes is not written again behind its back. A group is killed only while
its leader is an unreaped child (its id cannot have been reused), or right
after the helper that had it died, while its other members still hold
the id.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import signal
import socket
import time
from collections.abc import Callable

from lxcpy import _ffi, _helper

__all__ = ["finish", "wait_child", "wait_worker"]

_SLICE_MS = 1000
# How long cleanup waits for a killed group to be gone, or for the helper
# to confirm it killed one.
_GONE_WITHIN = 5.0


def _sleep_on(fd: int, ms: int) -> None:
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    poller.poll(ms)


def _code(status: int) -> int:
    """A wait status as lxcpy_wait_child reports it."""
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return -errno.ECHILD


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _group_alive(pgid: int) -> bool:
    """Whether a process of group pgid is still alive (zombies excepted)."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                data = f.read()
        except OSError:
            continue
        fields = data[data.rindex(b")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            return True
    return False


def _wait_group_gone(pgid: int) -> None:
    deadline = time.monotonic() + _GONE_WITHIN
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.01)


def finish(step: Callable[[], None]) -> None:
    """Run one cleanup step to its end, through further Ctrl-Cs (the first
    one is already on its way up); each step is bounded."""
    while True:
        try:
            step()
            return
        except KeyboardInterrupt:
            continue


def _abandon_child(pid: int) -> None:
    _kill_group(pid)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
    _wait_group_gone(pid)


def wait_child(pid: int) -> int:
    """Wait for a child the shim forked (lxcpy_create, lxcpy_start: the
    leader of its own group) and reap it, then kill whatever it left in its
    group. Returns its exit code, 128 + the signal that killed it, or
    -errno. On any exception while waiting, the child and its group are
    killed and reaped first."""
    try:
        pidfd = os.pidfd_open(pid)
    except (OSError, AttributeError):
        pidfd = -1
    try:
        while True:
            if pidfd >= 0:
                _sleep_on(pidfd, _SLICE_MS)
            else:
                time.sleep(0.02)
            try:
                res = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return -errno.ECHILD  # someone else's os.wait() took it
            if res is not None:
                break
    except BaseException:
        finish(lambda: _abandon_child(pid))
        raise
    finally:
        if pidfd >= 0:
            os.close(pidfd)
    # Exited, not reaped yet: the group id is still ours.
    _kill_group(pid)
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return -errno.ECHILD
    return _code(status)


def _abandon_group(pgid: int) -> None:
    _kill_group(pgid)
    _wait_group_gone(pgid)


def _cancel(remote: _helper.Remote, pgid: int) -> None:
    """Ask the helper to kill the worker's group (it does when the request's
    socket reaches EOF) and wait for its DONE; should the helper be gone,
    kill the group here."""
    with contextlib.suppress(OSError):
        s = socket.socket(fileno=os.dup(remote.fd))
        try:
            s.shutdown(socket.SHUT_WR)
        finally:
            s.close()
    deadline = time.monotonic() + _GONE_WITHIN
    confirmed = False
    while time.monotonic() < deadline:
        try:
            reply = remote.poll()
        except _helper.HelperLost:
            break
        if reply is not None:
            confirmed = reply[1] == _ffi.HREP_DONE
            if confirmed:
                break
            continue
        _sleep_on(remote.fd, 100)
    if not confirmed:
        _kill_group(pgid)
    _wait_group_gone(pgid)


def wait_worker(msg: bytes, fds: list[int]) -> tuple[int, int]:
    """Send a lifecycle request to lxcpy's helper and wait for its worker:
    (err, wait status) of its DONE reply. A helper that dies first raises
    HelperLost, once the worker's group is gone; on any other exception
    while waiting, the worker and its group are killed first."""
    fd, first, pidfd, h = _helper.open_request(msg, fds)
    remote = _helper.Remote(fd, pidfd, h)
    try:
        err, kind, _status, pgid = first
        if err < 0 or kind != _ffi.HREP_STARTED:
            return err or -errno.EPROTO, 0
        try:
            while True:
                try:
                    reply = remote.poll()
                except _helper.HelperLost:
                    # The worker died with the helper; what it started did
                    # not, and still holds the group id.
                    finish(lambda: _abandon_group(pgid))
                    raise
                if reply is not None:
                    return reply[0], reply[2]
                _sleep_on(fd, _SLICE_MS)
        except _helper.HelperLost:
            raise
        except BaseException:
            finish(lambda: _cancel(remote, pgid))
            raise
    finally:
        remote.close()
