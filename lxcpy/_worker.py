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

A wait holds a Ctrl-C back (lxcpy._sigint) and sleeps a fifth of a second
at a time (GIL released), looking between slices whether one came. When
the wait is abandoned (an exception, KeyboardInterrupt included) or the
helper died, the group is killed and
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
from typing import TYPE_CHECKING, Any, Protocol, TypeGuard

from lxcpy import _ffi, _helper, _sigint

if TYPE_CHECKING:
    from lxcpy._operation import Operation

__all__ = [
    "Pending",
    "attach_in_helper",
    "create",
    "describe",
    "finish",
    "result_code",
    "run_child",
    "start",
    "submit_create",
    "submit_start",
    "wait",
]

_SLICE_MS = 200
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


class Pending(Protocol):
    """A create or start on its way, wherever it runs: the routing seam's
    one shape of a request. Wait until ``fileno()`` is readable (a
    ``select.poll``, or an event loop's ``add_reader``; -1: no fd, poll on
    a timer), then ``poll()``: the ``result_code`` once it is done, None
    while not. ``poll()`` never blocks; it raises HelperLost when the
    helper died (what the request started is gone by then). ``cancel()``
    kills what the request started and waits, bounded, until it is gone;
    ``close()`` frees the request's fds (after the result or a cancel)."""

    def fileno(self) -> int: ...

    def poll(self) -> int | None: ...

    def cancel(self) -> None: ...

    def close(self) -> None: ...


def wait(submit: Callable[[], Pending]) -> int:
    """Send a request with ``submit()`` and wait for its result. A Ctrl-C
    is held back for the whole call (lxcpy._sigint: in the main thread,
    under Python's default handler) and looked at between slices of the
    wait (a fifth of a second): once one came, the request is cancelled
    (what it started killed, bounded) and closed, then KeyboardInterrupt
    raised; one that comes with the result, or with another exception,
    raises KeyboardInterrupt too, once the request is closed. So no point
    of the call, from the request leaving to its fds being closed, loses
    it or leaks one of them. Any other exception cancels it too before it
    goes on. (A helper this call spawns gives up at the Ctrl-C; one that
    another thread is spawning is waited for, at most
    ``_helper._HELLO_WITHIN`` seconds.)"""
    with _sigint.held() as held:
        p: Pending | None = None
        try:
            p = submit()
            while True:
                if held.pending:
                    raise KeyboardInterrupt  # cancelled below
                rc = p.poll()
                if rc is not None:
                    break
                fd = p.fileno()
                if fd >= 0:
                    _sleep_on(fd, _SLICE_MS)
                else:
                    time.sleep(0.02)
        except BaseException as e:
            # HelperLost: what the request started is gone with the helper.
            if p is not None and not isinstance(e, _helper.HelperLost):
                finish(p.cancel)
            if held.pending and not isinstance(e, KeyboardInterrupt):
                raise KeyboardInterrupt from e
            raise
        finally:
            if p is not None:
                p.close()
    if held.pending:
        raise KeyboardInterrupt
    return rc


def start(
    op: Operation, h: _ffi.Handle, name: str, lxcpath: str, use_init: bool, argv: list[bytes] | None
) -> int:
    """Start the container of handle ``h``; its ``result_code``."""
    return _waited(op, lambda: submit_start(op, h, name, lxcpath, use_init, argv))


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
    to fd ``out``; its ``result_code``."""
    return _waited(op, lambda: submit_create(op, h, name, lxcpath, template, backend, argv, out))


def _waited(op: Operation, submit: Callable[[], Pending]) -> int:
    try:
        return wait(submit)
    except _helper.HelperLost as e:
        op.fail(str(e))


def submit_start(
    op: Operation, h: _ffi.Handle, name: str, lxcpath: str, use_init: bool, argv: list[bytes] | None
) -> Pending:
    """Send a start on its way (see start) and return it to wait on."""
    msg = None
    if _helper.enabled():
        msg = _ffi.pack_start(name, _ffi.enc_path(lxcpath), use_init, argv)
    if msg is not None:
        return _in_helper(
            op,
            h,
            msg,
            lambda cfg, log: _ffi.request_fds(
                _ffi.OP_START, {_ffi.FD_START_CONFIG: cfg, _ffi.FD_START_LOG: log}
            ),
        )
    return _in_child(lambda child: _ffi.start(h, use_init, argv, child))


def submit_create(
    op: Operation,
    h: _ffi.Handle,
    name: str,
    lxcpath: str,
    template: str | None,
    backend: str | None,
    argv: list[str],
    out: int,
) -> Pending:
    """Send a create on its way (see create) and return it to wait on."""
    msg = None
    if _helper.enabled():
        msg = _ffi.pack_create(name, _ffi.enc_path(lxcpath), template, backend, argv)
    if msg is not None:
        return _in_helper(
            op,
            h,
            msg,
            lambda cfg, log: _ffi.request_fds(
                _ffi.OP_CREATE,
                {
                    _ffi.FD_CREATE_CONFIG: cfg,
                    _ffi.FD_CREATE_LOG: log,
                    _ffi.FD_CREATE_OUTPUT: out,
                },
            ),
        )
    return _in_child(lambda child: _ffi.create(h, template, backend, argv, out, child))


def attach_in_helper(target: list[bytes] | Callable[[], int]) -> TypeGuard[list[bytes]]:
    """Whether an attach of ``target`` (an argv, or a Python callable,
    which only a child of this process can run) goes to lxcpy's helper."""
    return not callable(target) and _helper.enabled()


def _in_helper(
    op: Operation, h: _ffi.Handle, msg: bytes, fds: Callable[[int, int], list[int]]
) -> Pending:
    """Send a packed lifecycle request (lxcpy._ffi.pack_*) to a worker of
    lxcpy's helper process, with the fds ``fds(config memfd, log memfd)``
    places in the request's named slots. The worker opens its own handle,
    loads this handle's in-memory configuration (saved to a memfd: unsaved
    changes apply as they would in-process) and logs to this handle's log.
    A dead helper fails the operation (CreateError/StartError)."""
    cfg = -1
    try:
        with _sigint.deferred():
            cfg = os.memfd_create("lxcpy-config", os.MFD_CLOEXEC)
        if not _ffi.save_config(h, _ffi.enc_path(f"/proc/self/fd/{cfg}")):
            op.fail("liblxc could not save the configuration for lxcpy's helper")
        req = _HelperRequest()
        try:
            with _sigint.deferred():
                req.send(msg, fds(cfg, _ffi.log_fd(h)))
        except _helper.HelperLost as e:
            op.fail(str(e))
        except BaseException:
            finish(req.cancel)
            req.close()
            raise
        return req
    finally:
        # Sent (the helper has its own copy) or not: ours is done with.
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


class _Done:
    """A request that failed before anything ran: its result at once."""

    def __init__(self, rc: int) -> None:
        self._rc = rc

    def fileno(self) -> int:
        return -1

    def poll(self) -> int | None:
        return self._rc

    def cancel(self) -> None:
        pass

    def close(self) -> None:
        pass


class _Child:
    """A create or start in a child of this process (the shim forked it
    into ``box``, where the pid stays until the child is reaped): waited
    for on its pidfd (-1 without one: polled)."""

    def __init__(self, box: Any) -> None:
        self._box = box
        self._pidfd = -1
        with contextlib.suppress(OSError, AttributeError):
            self._pidfd = os.pidfd_open(int(box[0]))

    def fileno(self) -> int:
        return self._pidfd

    def poll(self) -> int | None:
        pid = int(self._box[0])
        if pid <= 0:
            return -errno.ECHILD
        try:
            res = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            self._box[0] = 0
            return -errno.ECHILD  # someone else's os.wait() took it
        if res is None:
            return None
        # Exited, not reaped yet: the group id is still ours.
        _kill_group(pid)
        _, status = os.waitpid(pid, 0)
        self._box[0] = 0
        return result_code(0, status)

    def cancel(self) -> None:
        if self._box[0] > 0:
            _abandon_child(int(self._box[0]))
            self._box[0] = 0

    def close(self) -> None:
        if self._pidfd >= 0:
            os.close(self._pidfd)
            self._pidfd = -1


def _in_child(fork: Callable[[Any], int]) -> Pending:
    """Fork with ``fork(pid_box)`` (a shim function, lxcpy_create or
    lxcpy_start: its child leads its own group; 0 or -errno) and return
    the child to wait on; once it exited, whatever it left in its group is
    killed. The shim writes the pid before it returns, so there is no
    moment when the child runs unknown: on any exception
    (KeyboardInterrupt), the child and its group are killed and reaped
    first."""
    box = _ffi.pid_box()
    child: _Child | None = None
    try:
        err = fork(box)
        if err < 0:
            return _Done(err)
        with _sigint.deferred():
            child = _Child(box)
        return child
    except BaseException:
        if child is not None:
            child.close()
        if box[0] > 0:
            finish(lambda: _abandon_child(int(box[0])))
        raise


def run_child(fork: Callable[[Any], int]) -> int:
    """_in_child, waited for (see wait)."""
    return wait(lambda: _in_child(fork))


def _abandon_group(pgid: int) -> None:
    _kill_group(pgid)
    _wait_group_gone(pgid)


def _cancel(fd: int, pgid: int | None) -> None:
    """Ask the helper to kill the worker's group (it does when the request's
    socket reaches EOF) and wait for its DONE; should the helper be gone
    first, kill the group here. ``pgid`` is None when the worker's STARTED
    has not been read yet: it may be on its way."""
    _helper.shut_down(fd, socket.SHUT_WR)
    deadline = time.monotonic() + _GONE_WITHIN
    confirmed = False
    while time.monotonic() < deadline:
        rc, reply, passed = _ffi.recv_reply(fd, True)
        if passed >= 0:
            os.close(passed)
        if rc in (-errno.EAGAIN, -errno.EINTR):
            _sleep_on(fd, 100)
            continue
        if reply is None:
            break  # EOF: the helper died
        if reply[1] == _ffi.REPLY_STARTED:
            pgid = reply[3]
            continue
        confirmed = True  # DONE, or a refusal: no worker left
        break
    if pgid is None:
        return
    if not confirmed:
        _kill_group(pgid)
    _wait_group_gone(pgid)


class _HelperRequest:
    """A lifecycle request in a worker of lxcpy's helper: its reply
    socket (the fd to wait on) gets STARTED (the worker's pid, which leads
    its group) and then DONE (its wait status), or a refusal."""

    def __init__(self) -> None:
        self._fd = -1
        self._pgid: int | None = None
        self._rc: int | None = None
        self._helper: _helper.Helper | None = None

    def send(self, msg: bytes, fds: list[int]) -> None:
        """Send it (HelperLost if the helper cannot be reached;
        KeyboardInterrupt if a Ctrl-C came while one was spawned). Its
        socket is registered (closed in a forked child) as it is sent;
        the caller holds a Ctrl-C back until it is kept here."""

        def send(ctl: int) -> int:
            fd = _ffi.send_packed(ctl, msg, fds)
            if fd >= 0:
                self._fd = fd
            return fd

        _, self._helper = _helper.send_request(send)

    def fileno(self) -> int:
        return self._fd

    def poll(self) -> int | None:
        while self._rc is None:
            assert self._helper is not None
            remote = _helper.Remote(self._fd, -1, self._helper)
            try:
                # The fd a reply carries is closed by Remote.poll.
                with _sigint.deferred():
                    reply = remote.poll()
            except _helper.HelperLost:
                # Before STARTED, no worker did anything. After it, the
                # worker died with the helper; what it started did not,
                # and holds the group id.
                if self._pgid is not None:
                    lost, self._pgid = self._pgid, None
                    finish(lambda: _abandon_group(lost))  # noqa: B023 - called at once
                raise
            if reply is None:
                return None
            err, kind, status, pid = reply
            if self._pgid is None:
                if err < 0 or kind != _ffi.REPLY_STARTED:
                    self._rc = err or -errno.EPROTO
                else:
                    self._pgid = pid
                continue
            self._rc = result_code(err, status)
        return self._rc

    def cancel(self) -> None:
        if self._rc is None and self._fd >= 0:
            _cancel(self._fd, self._pgid)

    def close(self) -> None:
        if self._fd >= 0:
            _helper.close_request(self._fd)
            self._fd = -1
