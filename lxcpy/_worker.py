"""Where a ``create()`` or ``start()`` runs, and waiting for it.

The routing seam: ``start()`` and ``create()`` here decide where liblxc's
call runs, in a worker of lxcpy's helper (the default) or, with
``LXCPY_HELPER=0`` or a request too big for the helper's protocol, in a
child of this process that the shim forks, and return the one result
code both give (``result_code``: the exit code, 128 + the signal that
killed the process, or -errno; ``describe`` words it).

Either way the process leads a process group of its own, which the
template, liblxc's storage and intermediate processes inherit (liblxc's
monitor leaves it with ``setsid()``), so killing the group kills
everything the call started except a container's monitor.

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
from typing import TYPE_CHECKING, Any

from lxcpy import _ffi, _helper, _sigint

if TYPE_CHECKING:
    from lxcpy._operation import Operation

__all__ = ["create", "describe", "finish", "result_code", "run_child", "start", "wait_worker"]

_SLICE_MS = 1000
# How long cleanup waits for a killed group to be gone, or for the helper
# to confirm it killed one.
_GONE_WITHIN = 5.0


def _sleep_on(fd: int, ms: int) -> None:
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    poller.poll(ms)


def result_code(err: int, status: int) -> int:
    """The one result of a create or start wherever it ran: -errno if
    ``err`` is one (the process could not be made or waited for), else from
    the wait status, the exit code or 128 + the signal that killed it (as
    the shim's lxcpy_wait_child gives it in C)."""
    if err < 0:
        return err
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return -errno.ECHILD


def describe(what: str, rc: int) -> str:
    """Word a failed ``result_code`` after ``what`` failed."""
    if rc < 0:
        return f"{what}: {os.strerror(-rc)}"
    if rc > 128:
        return f"{what}: its worker process died of signal {rc - 128}"
    return what


def start(
    op: Operation, h: _ffi.Handle, name: str, lxcpath: str, use_init: bool, argv: list[bytes] | None
) -> int:
    """Start the container of handle ``h`` (its ``result_code``)."""
    msg = None
    if _helper.enabled():
        msg = _ffi.hpack_start(name, _ffi.enc_path(lxcpath), use_init, argv)
    if msg is not None:
        return _in_helper(
            op,
            h,
            msg,
            lambda cfg, log: _ffi.hfds(
                _ffi.HOP_START, {_ffi.HFD_START_CONFIG: cfg, _ffi.HFD_START_LOG: log}
            ),
        )
    return run_child(lambda child: _ffi.start(h, use_init, argv, child))


def create(
    op: Operation,
    h: _ffi.Handle,
    name: str,
    lxcpath: str,
    template: str | None,
    backend: str | None,
    argv: list[str],
    out: int,
) -> int:
    """Create the container of handle ``h``, the template's output going
    to fd ``out`` (its ``result_code``)."""
    msg = None
    if _helper.enabled():
        msg = _ffi.hpack_create(name, _ffi.enc_path(lxcpath), template, backend, argv)
    if msg is not None:
        return _in_helper(
            op,
            h,
            msg,
            lambda cfg, log: _ffi.hfds(
                _ffi.HOP_CREATE,
                {
                    _ffi.HFD_CREATE_CONFIG: cfg,
                    _ffi.HFD_CREATE_LOG: log,
                    _ffi.HFD_CREATE_OUTPUT: out,
                },
            ),
        )
    return run_child(lambda child: _ffi.create(h, template, backend, argv, out, child))


def _in_helper(
    op: Operation, h: _ffi.Handle, msg: bytes, fds: Callable[[int, int], list[int]]
) -> int:
    """Run a packed lifecycle request (lxcpy._ffi.hpack_*) in a worker of
    lxcpy's helper process, with the fds ``fds(config memfd, log memfd)``
    places in the request's named slots. The worker opens its own handle, loads this
    handle's in-memory configuration (saved to a memfd: unsaved changes
    apply as they would in-process) and logs to this handle's log. A dead
    helper fails the operation (CreateError/StartError)."""
    cfg = -1
    try:
        with _sigint.deferred():
            cfg = os.memfd_create("lxcpy-config", os.MFD_CLOEXEC)
        if not _ffi.save_config(h, _ffi.enc_path(f"/proc/self/fd/{cfg}")):
            op.fail("liblxc could not save the configuration for lxcpy's helper")
        try:
            err, status = wait_worker(msg, fds(cfg, _ffi.log_fd(h)))
        except _helper.HelperLost as e:
            op.fail(str(e))
        return result_code(err, status)
    finally:
        if cfg >= 0:
            os.close(cfg)


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


def run_child(fork: Callable[[Any], int]) -> int:
    """Fork with ``fork(pid_box)`` (a shim function, lxcpy_create or
    lxcpy_start: its child leads its own group; 0 or -errno), wait for the
    child and reap it, then kill whatever it left in its group. Returns its
    exit code, 128 + the signal that killed it, or -errno. On any exception
    (KeyboardInterrupt), the child and its group are killed and reaped
    first; the shim writes the pid before it returns, so there is no moment
    when the child runs unknown."""
    box = _ffi.pid_box()
    pidfd = -1
    try:
        err = fork(box)
        if err < 0:
            return err
        pid = int(box[0])
        with contextlib.suppress(OSError, AttributeError), _sigint.deferred():
            pidfd = os.pidfd_open(pid)
        while True:
            if pidfd >= 0:
                _sleep_on(pidfd, _SLICE_MS)
            else:
                time.sleep(0.02)
            try:
                res = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                box[0] = 0
                return -errno.ECHILD  # someone else's os.wait() took it
            if res is not None:
                break
        # Exited, not reaped yet: the group id is still ours.
        _kill_group(pid)
        _, status = os.waitpid(pid, 0)
        box[0] = 0
        return result_code(0, status)
    except BaseException:
        if box[0] > 0:
            finish(lambda: _abandon_child(int(box[0])))
        raise
    finally:
        if pidfd >= 0:
            os.close(pidfd)


def _abandon_group(pgid: int) -> None:
    _kill_group(pgid)
    _wait_group_gone(pgid)


def _cancel(fd: int, pgid: int | None) -> None:
    """Ask the helper to kill the worker's group (it does when the request's
    socket reaches EOF) and wait for its DONE; should the helper be gone
    first, kill the group here. ``pgid`` is None when the worker's STARTED
    has not been read yet: it may be on its way."""
    with contextlib.suppress(OSError):
        s = socket.socket(fileno=os.dup(fd))
        try:
            s.shutdown(socket.SHUT_WR)
        finally:
            s.close()
    deadline = time.monotonic() + _GONE_WITHIN
    confirmed = False
    while time.monotonic() < deadline:
        rc, reply, passed = _ffi.hrecv(fd, True)
        if passed >= 0:
            os.close(passed)
        if rc in (-errno.EAGAIN, -errno.EINTR):
            _sleep_on(fd, 100)
            continue
        if reply is None:
            break  # EOF: the helper died
        if reply[1] == _ffi.HREP_STARTED:
            pgid = reply[3]
            continue
        confirmed = True  # DONE, or a refusal: no worker left
        break
    if pgid is None:
        return
    if not confirmed:
        _kill_group(pgid)
    _wait_group_gone(pgid)


def wait_worker(msg: bytes, fds: list[int]) -> tuple[int, int]:
    """Send a lifecycle request to lxcpy's helper and wait for its worker:
    (err, wait status) of its DONE reply. A helper that dies first raises
    HelperLost, once the worker's group is gone; on any other exception
    (KeyboardInterrupt), the worker and its group are killed first."""
    # A copy of the request's socket, made as it is sent: through it the
    # request can be cancelled whenever the exception comes.
    spares: list[int] = []

    def send(ctl: int) -> int:
        fd = _ffi.hsend(ctl, msg, fds)
        if fd >= 0:
            spares.append(os.dup(fd))
        return fd

    fd = pidfd = -1
    pgid: int | None = None
    try:
        # A Ctrl-C is held back until the reply and the fd it carried are
        # kept here (lxcpy._sigint), then raised.
        with _sigint.held() as held:
            fd, first, pidfd, h = _helper.open_request_held(send, held)
        if held.pending or first is None:
            raise KeyboardInterrupt
        err, kind, _status, started = first
        if err < 0 or kind != _ffi.HREP_STARTED:
            return err or -errno.EPROTO, 0
        pgid = started
        remote = _helper.Remote(fd, pidfd, h)
        while True:
            reply = remote.poll()
            if reply is not None:
                return reply[0], reply[2]
            _sleep_on(fd, _SLICE_MS)
    except _helper.HelperLost:
        # Before STARTED, no worker did anything. After it, the worker died
        # with the helper; what it started did not, and holds the group id.
        lost = pgid
        if lost is not None:
            finish(lambda: _abandon_group(lost))
        raise
    except BaseException:
        known = pgid
        if spares:
            finish(lambda: _cancel(spares[-1], known))
        raise
    finally:
        for x in (fd, pidfd, *spares):
            if x >= 0:
                os.close(x)
