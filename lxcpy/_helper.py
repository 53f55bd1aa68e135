"""lxcpy's helper process: where the fork-heavy liblxc work runs.

liblxc forks the calling process to start a container (and to create or
clone one); the cost of a fork grows with the caller's memory, and a
daemonized start closes the caller's inherited fds one by one. lxcpy
therefore sends that work to a small C process it owns, ``lxcpy-helper``
(built with the extension, see ``csrc/helper/main.c``), so its cost is that
of a small process whatever the caller holds.

- One helper per process, shared by threads; spawned lazily with
  ``os.posix_spawn`` (vfork-based, cheap from a large caller), one end of a
  ``socketpair(AF_UNIX, SOCK_SEQPACKET)`` as its fd 3. Nobody else can talk
  to it.
- Each request travels with its own reply socket (SCM_RIGHTS), so every
  calling thread waits on its own socket with the GIL released.
- The helper exits when the control socket reaches EOF, that is when every
  copy of this process's end is closed: when this process is gone. A forked
  child closes its copy at once (``os.register_at_fork``) and spawns its
  own helper if it needs one.
- A helper that died is reaped and replaced on the next call; a request it
  had not answered yet raises ``HelperLost``.
- Its first message is a HELLO with its protocol version, which must be
  this build's (``_ffi.HPROTO_VERSION``, passed to it too: it refuses
  another): a helper from another build, or one that says no HELLO
  within ``_HELLO_WITHIN`` seconds, is killed and raises
  ``lxcpy.HelperError``.
- ``LXCPY_HELPER=0`` in the environment (read at every call) makes lxcpy
  do the work in-process, as it also does when the executable is missing.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import fcntl
import os
import select
import signal
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import NamedTuple

from lxcpy import _ffi, _sigint
from lxcpy._operation import LOG_LEVEL
from lxcpy.errors import HelperError

__all__ = [
    "HelperLost",
    "Remote",
    "enabled",
    "helper_pid",
    "open_request",
    "request",
]

ENV = "LXCPY_HELPER"


class HelperLost(Exception):
    """The helper died before it answered a request."""


class _Helper:
    __slots__ = ("pid", "pidfd", "sock")

    def __init__(self, pid: int, sock: socket.socket) -> None:
        self.pid = pid
        self.sock = sock
        # Signals go through a pidfd: should someone else's os.wait() reap
        # the helper, its pid may be reused, the pidfd never is.
        try:
            self.pidfd: int | None = os.pidfd_open(pid)
        except (OSError, AttributeError):
            self.pidfd = None

    def close(self) -> None:
        self.sock.close()
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None


_lock = threading.Lock()
_current: _Helper | None = None


def enabled() -> bool:
    """Whether to use the helper: LXCPY_HELPER is not "0" and the
    executable exists."""
    if os.environ.get(ENV, "1").strip() == "0":
        return False
    # One is running: it was there (not worth a path lookup per call).
    return _current is not None or os.access(_ffi.HELPER_PATH, os.X_OK)


def _high(fd: int) -> int:
    """A CLOEXEC copy of fd numbered >= 10 (so that the spawn's dup2()s
    onto 0-3 cannot clobber a source fd)."""
    return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)


def _spawn() -> _Helper:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        try:
            hnull, hsock = _high(null), _high(theirs.fileno())
        finally:
            os.close(null)
        try:
            pid = os.posix_spawn(
                _ffi.HELPER_PATH,
                # The protocol version it must speak, and the same liblxc
                # log level as in-process.
                [_ffi.HELPER_PATH, str(_ffi.HPROTO_VERSION), LOG_LEVEL],
                dict(os.environ),
                file_actions=[
                    (os.POSIX_SPAWN_DUP2, hnull, 0),
                    (os.POSIX_SPAWN_DUP2, hnull, 1),
                    (os.POSIX_SPAWN_DUP2, hnull, 2),
                    (os.POSIX_SPAWN_DUP2, hsock, 3),
                ],
                # Its own session: a Ctrl-C on the caller's terminal is
                # for the caller, not for the helper.
                setsid=True,
                setsigmask=(),
            )
        finally:
            os.close(hnull)
            os.close(hsock)
    except BaseException:
        ours.close()
        raise
    finally:
        theirs.close()
    h = _Helper(pid, ours)
    try:
        _hello(h)
    except BaseException:
        _reap(h, kill=True)
        raise
    return h


# How long a new helper may take to say its HELLO (on a loaded machine).
_HELLO_WITHIN = 10.0


def _hello(h: _Helper) -> None:
    """Wait for a new helper's HELLO (in slices: Ctrl-C gets through);
    HelperError unless it speaks this build's protocol."""
    path, want = _ffi.HELPER_PATH, _ffi.HPROTO_VERSION
    fd = h.sock.fileno()
    deadline = time.monotonic() + _HELLO_WITHIN
    while True:
        rc, reply, passed = _ffi.hrecv(fd, True)
        if passed >= 0:
            os.close(passed)
        if rc not in (-errno.EAGAIN, -errno.EINTR):
            break
        left = deadline - time.monotonic()
        if left <= 0:
            raise HelperError(
                f"lxcpy's helper {path} said no hello within {_HELLO_WITHIN:g} s "
                f"(protocol version {want} expected): is it from another build?",
                path=path,
                expected=want,
            )
        _wait_readable(fd, min(left, 1.0))
    if reply is None or reply[1] != _ffi.HREP_HELLO:
        what = "exited before it said hello" if rc == 0 else "sent no hello this build understands"
        raise HelperError(
            f"lxcpy's helper {path} {what} (protocol version {want} expected): "
            "is it from another build?",
            path=path,
            expected=want,
        )
    err, _kind, found, _pid = reply
    found &= 0xFFFFFFFF
    if found != want or err:
        raise HelperError(
            f"lxcpy's helper {path} speaks protocol version {found}, this lxcpy "
            f"version {want}: it is from another build (reinstall lxcpy)",
            path=path,
            expected=want,
            found=found,
        )


def _reap(h: _Helper, kill: bool) -> None:
    """Close our end (the helper exits on EOF), or kill it, and reap it;
    through its pidfd where there is one, so that a reused pid is never
    signalled or waited for."""
    h.sock.close()
    if h.pidfd is None:
        with contextlib.suppress(ProcessLookupError):
            if kill:
                os.kill(h.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(h.pid, 0)
        return
    with contextlib.suppress(ProcessLookupError):
        if kill:
            signal.pidfd_send_signal(h.pidfd, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitid(os.P_PIDFD, h.pidfd, os.WEXITED)
    h.close()


def _get() -> _Helper:
    global _current
    with _lock:
        h = _current
        if h is not None:
            try:
                done, _ = os.waitpid(h.pid, os.WNOHANG)
            except ChildProcessError:
                done = h.pid  # reaped by someone else (os.wait())
            if done == 0:
                return h
            h.close()
            _current = None
        _current = _spawn()
        return _current


def _discard(h: _Helper) -> None:
    """Forget a helper that stopped answering, if nobody did already."""
    global _current
    with _lock:
        if _current is not h:
            return
        _current = None
    _reap(h, kill=True)


def _after_fork_in_child() -> None:
    """A forked child drops the parent's helper: it closes its copy of the
    control socket (so the helper still sees EOF when the parent goes) and
    never waits for a process that is not its child."""
    global _current, _lock
    h, _current = _current, None
    _lock = threading.Lock()
    if h is not None:
        h.close()


def _at_exit() -> None:
    global _current
    h, _current = _current, None
    if h is not None:
        _reap(h, kill=False)  # it exits on EOF


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_at_exit)


_GONE = (errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN, errno.EBADF)


def _send(send: Callable[[int], int]) -> tuple[int, _Helper]:
    """Send one request with ``send(control socket)``, which returns our
    end of its reply socket (an fd, CLOEXEC, the caller's to close) or
    -errno. A helper found dead when sending is replaced once."""
    for attempt in (0, 1):
        h = _get()
        mine = send(h.sock.fileno())
        if mine >= 0:
            return mine, h
        err = OSError(-mine, os.strerror(-mine))
        if -mine not in _GONE:
            raise OSError(-mine, f"cannot send a request to lxcpy's helper: {err.strerror}")
        _discard(h)
        if attempt:
            raise HelperLost("lxcpy's helper process cannot be reached") from err
    raise AssertionError("unreachable")


def _packed(msg: bytes, fds: Sequence[int]) -> Callable[[int], int]:
    return lambda ctl: _ffi.hsend(ctl, msg, fds)


def _lost(h: _Helper) -> HelperLost:
    _discard(h)
    return HelperLost("lxcpy's helper process died before it answered")


def _recv(fd: int, h: _Helper) -> tuple[tuple[int, int, int, int], int]:
    """Wait for one reply on a request's socket: (reply, the fd it carried
    or -1). EOF or a malformed reply: HelperLost."""
    while True:
        # A signal handler runs between two tries (and may raise).
        rc, reply, passed = _ffi.hrecv(fd, False)
        if rc != -errno.EINTR:
            break
    if reply is None:
        if rc < 0 and rc != -errno.EPROTO:
            raise OSError(-rc, f"cannot read lxcpy's helper's reply: {os.strerror(-rc)}")
        raise _lost(h)
    return reply, passed


def request(msg: bytes, fds: Sequence[int] = ()) -> tuple[int, int, int, int]:
    """Send one packed request with its fds; return the helper's reply
    (err, kind, status, pid). One that dies before answering raises
    HelperLost."""
    mine, h = _send(_packed(msg, fds))
    try:
        reply, passed = _recv(mine, h)
    finally:
        os.close(mine)
    if passed >= 0:
        os.close(passed)
    return reply


class Remote(NamedTuple):
    """A process the helper attached and waits for: the request's socket
    (an fd: its DONE reply comes there), the process's pidfd, and the
    helper."""

    fd: int
    pidfd: int
    helper: _Helper

    def close(self) -> None:
        os.close(self.fd)
        if self.pidfd >= 0:
            os.close(self.pidfd)

    def lost(self) -> None:
        """The socket reached EOF with no reply: the helper is dying or
        dead (it never drops a request unanswered). Replace it now: until
        the last of its threads is gone, it still looks alive to
        waitpid() and takes requests it will never answer."""
        _discard(self.helper)

    def poll(self) -> tuple[int, int, int, int] | None:
        """The next reply if one has come; None if not yet. EOF or a
        malformed reply raise HelperLost."""
        rc, reply, passed = _ffi.hrecv(self.fd, True)
        if passed >= 0:
            os.close(passed)
        if rc in (-errno.EAGAIN, -errno.EINTR):
            return None
        if reply is None:
            if rc == 0:
                self.lost()
            raise HelperLost("lxcpy's helper process died before it answered")
        return reply

    def wait(self) -> tuple[int, int, int, int] | None:
        """Wait for the next reply; None when the helper died first."""
        try:
            reply, passed = _recv(self.fd, self.helper)
        except HelperLost:
            return None
        if passed >= 0:
            os.close(passed)
        return reply


def open_request(
    msg: bytes | Callable[[int], int], fds: Sequence[int] = ()
) -> tuple[int, tuple[int, int, int, int], int, _Helper]:
    """Send one request whose reply socket stays open for more replies (an
    attach: STARTED, then DONE): a packed message with its fds, or a
    function that sends one (see _send). Returns the socket (an fd, the
    caller's to close), the first reply, the fd it carried (or -1;
    CLOEXEC, the caller's to close) and the helper."""
    mine, h = _send(msg if callable(msg) else _packed(msg, fds))
    try:
        reply, passed = _recv(mine, h)
    except BaseException:
        os.close(mine)
        raise
    return mine, reply, passed, h


def open_request_held(
    send: Callable[[int], int], held: _sigint.Held
) -> tuple[int, tuple[int, int, int, int] | None, int, _Helper]:
    """open_request() with a SIGINT held back (see lxcpy._sigint): the wait
    for the first reply goes in slices and, once a SIGINT came, waits at
    most ``_ABANDON_WAIT`` more seconds for a reply already on its way; the
    reply is None if none came (the caller closes the socket)."""
    mine, h = _send(send)
    give_up: float | None = None
    while True:
        rc, got, passed = _ffi.hrecv(mine, True)
        if rc == 1 or rc not in (-errno.EAGAIN, -errno.EINTR):
            break
        now = time.monotonic()
        if held.pending and give_up is None:
            give_up = now + _ABANDON_WAIT
        if give_up is not None and now >= give_up:
            return mine, None, -1, h
        _wait_readable(mine, 1.0 if give_up is None else give_up - now)
    if got is None:
        os.close(mine)
        if rc < 0 and rc != -errno.EPROTO:
            raise OSError(-rc, f"cannot read lxcpy's helper's reply: {os.strerror(-rc)}")
        raise _lost(h)
    return mine, got, passed, h


# How long a request abandoned on Ctrl-C still waits for a reply already
# on its way (the process it starts is then killed, not left running).
_ABANDON_WAIT = 1.0


def _wait_readable(fd: int, seconds: float) -> None:
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    poller.poll(max(1, int(seconds * 1000)))


def helper_pid() -> int:
    """The helper's pid as it reports it (spawning it if needed)."""
    err, kind, _status, pid = request(_ffi.hpack_ping())
    if err or kind != _ffi.HREP_PONG:
        raise OSError(-err or errno.EPROTO, "lxcpy's helper did not answer a ping")
    return pid


def current_pid() -> int | None:
    """The pid of this process's helper, without spawning one."""
    h = _current
    return None if h is None else h.pid
