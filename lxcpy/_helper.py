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
- A helper that died is reaped and replaced before the next request is
  sent (it is single-threaded: once killed, it is a zombie with its
  control socket closed, which the next request sees); a request it had
  not answered yet raises ``HelperLost``.
- Attaches run in the helper's pool of attach workers (csrc/helper/pool.c),
  which wait for the programs they attached and send their exact statuses.
  A worker outlives the helper: a killed helper loses no exit status.
- The sockets of requests in flight are closed in a forked child
  (``os.register_at_fork``): it never holds, nor reads, a reply socket of
  the parent's, so a reply is read by the thread that asked, and a caller
  that gives up (closes its socket) is seen to by the helper at once.
- Its first message is a HELLO with its protocol version, which must be
  this build's (``_ffi.WIRE_VERSION``, passed to it too: it refuses
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
from collections.abc import Callable, Iterator, Sequence
from typing import NamedTuple

from lxcpy import _ffi, _sigint
from lxcpy._operation import LOG_LEVEL
from lxcpy.errors import HelperError

__all__ = [
    "HelperLost",
    "Remote",
    "ReplyTimeout",
    "close_request",
    "enabled",
    "request",
    "shut_down",
    "track",
]

ENV = "LXCPY_HELPER"


class HelperLost(Exception):
    """The helper died before it answered a request."""


class ReplyTimeout(Exception):
    """No reply came by the request's deadline (its socket is closed: the
    helper then kills the attach worker that did not answer)."""


class Helper:
    """The helper process this one talks to: its pid, a pidfd of it and
    the control socket requests are sent on."""

    __slots__ = ("pid", "pidfd", "poller", "sock")

    def __init__(self, pid: int, sock: socket.socket) -> None:
        self.pid = pid
        self.sock = sock
        # Signals go through a pidfd: should someone else's os.wait() reap
        # the helper, its pid may be reused, the pidfd never is.
        try:
            self.pidfd: int | None = os.pidfd_open(pid)
        except (OSError, AttributeError):
            self.pidfd = None
        # Before each request (_dead): one poll() says whether it exited
        # (its pidfd readable) or is exiting (its end of the socket closed).
        self.poller = select.poll()
        self.poller.register(sock.fileno(), select.POLLRDHUP)
        if self.pidfd is not None:
            self.poller.register(self.pidfd, select.POLLIN)

    def close(self) -> None:
        self.sock.close()
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None


_lock = threading.Lock()
_current: Helper | None = None

# The reply sockets of this process's requests in flight (our ends, and
# copies of them): a forked child closes its copies (_after_fork_in_child),
# so that nothing in it can read them, and a caller that gives up is seen
# to at once. A number is in the set only while it is open here (it goes
# out before it is closed), and with what it is (st_dev, st_ino), checked
# before the child closes it: the child never closes an fd of its own.
# _sending is held from a socket's creation (in C) to its registration, and
# taken before each fork (os.register_at_fork), so that no fork falls in
# between; but not before the forks of an in-process attach(func) (see
# fork_exempt: liblxc may wait for a container's monitor for long between
# that hook and its fork, and no other thread's request may wait on it).
_inflight: dict[int, tuple[int, int]] = {}
_sending = threading.Lock()
_exempt = threading.local()
_took: list[bool] = []


def track(fd: int) -> None:
    """Register fd (our end of a request's socket, or a copy of it) as in
    flight (with _sending held, as _send holds it around the send
    function); close it with close_request()."""
    st = os.fstat(fd)
    _inflight[fd] = (st.st_dev, st.st_ino)


@contextlib.contextmanager
def fork_exempt() -> Iterator[None]:
    """Around a call whose forks must not wait for requests being sent
    (attach(func) in-process: its child then may keep a copy of a socket
    being created at that instant, which nothing in it refers to)."""
    _exempt.on = True
    try:
        yield
    finally:
        _exempt.on = False


def _before_fork() -> None:
    took = not getattr(_exempt, "on", False)
    if took:
        _sending.acquire()
    _took.append(took)


def _after_fork_in_parent() -> None:
    if _took.pop():
        _sending.release()


def close_request(fd: int) -> None:
    """Close our end of a request's reply socket (or a copy of it)."""
    _inflight.pop(fd, None)
    os.close(fd)


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


def _spawn() -> Helper:
    if _sigint.pending():
        raise KeyboardInterrupt  # held back by the call: no helper for it
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
                [_ffi.HELPER_PATH, str(_ffi.WIRE_VERSION), LOG_LEVEL],
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
    h = Helper(pid, ours)
    try:
        _hello(h)
    except BaseException:
        _reap(h, kill=True)
        raise
    return h


# How long a new helper may take to say its HELLO (on a loaded machine).
_HELLO_WITHIN = 10.0


def _hello(h: Helper) -> None:
    """Wait for a new helper's HELLO in slices of a fifth of a second, in
    which a Ctrl-C gets through, also one held back by the call that
    needs the helper (lxcpy._sigint.pending: KeyboardInterrupt, and the
    helper is killed); HelperError unless it speaks this build's protocol."""
    path, want = _ffi.HELPER_PATH, _ffi.WIRE_VERSION
    fd = h.sock.fileno()
    deadline = time.monotonic() + _HELLO_WITHIN
    while True:
        rc, reply, passed = _ffi.recv_reply(fd, True)
        if passed >= 0:
            os.close(passed)
        if rc not in (-errno.EAGAIN, -errno.EINTR):
            break
        if _sigint.pending():
            raise KeyboardInterrupt
        left = deadline - time.monotonic()
        if left <= 0:
            raise HelperError(
                f"lxcpy's helper {path} said no hello within {_HELLO_WITHIN:g} s "
                f"(protocol version {want} expected): is it from another build?",
                path=path,
                expected=want,
            )
        _wait_readable(fd, min(left, 0.2))
    if reply is None or reply[1] != _ffi.REPLY_HELLO:
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


def _reap(h: Helper, kill: bool) -> None:
    """Close our end (the helper exits on EOF), or kill it, and reap it;
    through its pidfd where there is one, so that a reused pid is never
    signalled or waited for."""
    # Not while another thread sends on it: its number could be reused
    # under that send.
    with _sending:
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


def _dead(h: Helper, grace: float = 0.0) -> bool:
    """Whether the helper exited (reaped here if so, or by someone else's
    os.wait()): asked of its pidfd where there is one (a pid may be
    reused once reaped, a pidfd never is). One whose end of the control
    socket is closed is exiting (a SIGKILL closes its fds before it is a
    zombie): it is waited for, up to a second, rather than left a zombie
    until this process next asks for a helper; ``grace`` seconds are given
    to one that may be dying (a request's socket read EOF)."""
    try:
        if h.pidfd is not None:
            if grace <= 0 and not h.poller.poll(0):
                return False  # neither exited nor exiting
            if _exiting(h):
                _wait_readable(h.pidfd, 1.0)
            elif grace > 0:
                _wait_readable(h.pidfd, grace)
            return os.waitid(os.P_PIDFD, h.pidfd, os.WEXITED | os.WNOHANG) is not None
        done, _ = os.waitpid(h.pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return done != 0


def _exiting(h: Helper) -> bool:
    """Whether the helper's end of its control socket is closed (no other
    process holds it)."""
    try:
        fd = h.sock.fileno()
        if fd < 0:
            return False
        p = select.poll()
        p.register(fd, select.POLLRDHUP)
        return any(ev & (select.POLLHUP | select.POLLRDHUP) for _, ev in p.poll(0))
    except (OSError, ValueError):
        return False


def _get() -> Helper:
    global _current
    with _lock:
        h = _current
        if h is not None:
            if h.pid > 0 and not _dead(h):
                return h
            h.close()
            _current = None
        _current = _spawn()
        return _current


def _discard(h: Helper) -> None:
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
    never waits for a process that is not its child; and its copies of the
    parent's requests' reply sockets, which it must never read."""
    global _current, _lock, _sending
    h, _current = _current, None
    _lock = threading.Lock()
    _sending = threading.Lock()
    _took.clear()
    fds = list(_inflight.items())
    _inflight.clear()
    for fd, known in fds:
        with contextlib.suppress(OSError):
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) == known:
                os.close(fd)
    if h is not None:
        h.close()


def _at_exit() -> None:
    global _current
    h, _current = _current, None
    if h is not None:
        _reap(h, kill=False)  # it exits on EOF


os.register_at_fork(
    before=_before_fork,
    after_in_parent=_after_fork_in_parent,
    after_in_child=_after_fork_in_child,
)
atexit.register(_at_exit)


_GONE = (errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN, errno.EBADF)


def send_request(send: Callable[[int], int]) -> tuple[int, Helper]:
    """Send one request with ``send(control socket)``, which returns our
    end of its reply socket (an fd, CLOEXEC, the caller's to close) or
    -errno. A helper found dead when sending is replaced once."""
    for attempt in (0, 1):
        h = _get()
        with _sending:
            mine = send(h.sock.fileno())
            if mine >= 0:
                track(mine)
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
    return lambda ctl: _ffi.send_packed(ctl, msg, fds)


def _lost(h: Helper) -> HelperLost:
    """A request's socket reached EOF with no reply: its attach worker died
    (the helper lives on), or the helper did; only a dead helper is
    replaced (killing a live one closed its socket under other threads'
    requests)."""
    if _dead(h, _GRACE):
        _discard(h)
    return HelperLost("lxcpy's helper process died before it answered")


# How long a request whose socket read EOF waits for the helper to be
# dead, if it is dying (else an attach worker died, and the helper lives).
_GRACE = 0.3


def _recv(fd: int, h: Helper) -> tuple[tuple[int, int, int, int], int]:
    """Wait for one reply on a request's socket: (reply, the fd it carried
    or -1). EOF or a malformed reply: HelperLost."""
    while True:
        # A signal handler runs between two tries (and may raise).
        rc, reply, passed = _ffi.recv_reply(fd, False)
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
    mine, h = send_request(_packed(msg, fds))
    try:
        reply, passed = _recv(mine, h)
    finally:
        close_request(mine)
    if passed >= 0:
        os.close(passed)
    return reply


class Remote(NamedTuple):
    """A process the helper attached and waits for: the request's socket
    (an fd: its DONE reply comes there), the process's pidfd, and the
    helper."""

    fd: int
    pidfd: int
    helper: Helper

    def close(self) -> None:
        close_request(self.fd)
        if self.pidfd >= 0:
            os.close(self.pidfd)

    def lost(self) -> None:
        """The socket reached EOF with no reply: the attach worker that
        waited for the process died (killed), maybe with the helper. A
        helper found dead is replaced now."""
        if _dead(self.helper, _GRACE):
            _discard(self.helper)

    def poll(self) -> tuple[int, int, int, int] | None:
        """The next reply if one has come; None if not yet. EOF or a
        malformed reply raise HelperLost."""
        rc, reply, passed = _ffi.recv_reply(self.fd, True)
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


def open_request_held(
    send: Callable[[int], int],
    held: _sigint.Held,
    deadline: float | None = None,
    exec_fd: int = -1,
) -> tuple[int, tuple[int, int, int, int] | None, int, Helper]:
    """Send one request whose reply socket stays open for more replies (an
    attach: STARTED, then DONE) and wait for its first reply, with a SIGINT
    held back (see lxcpy._sigint): the wait goes in slices and, once a
    SIGINT came, waits at most ``_ABANDON_WAIT`` more seconds for a reply
    already on its way; if none came, the reply is None and the socket is
    closed already (-1). No reply by ``deadline`` (a time.monotonic() value):
    ReplyTimeout, the socket closed (the helper then kills the attach
    worker that did not answer; a STARTED already there has its process
    killed).

    With ``exec_fd`` (the read end of an attach's error pipe, whose write
    ends the helper and the attached process hold until it executes its
    program), the wait first goes on until that pipe's EOF or the reply
    socket's hang-up, then reads the reply: one wake-up where the STARTED
    reply, the report that the process is set up and its exec would each
    make one."""
    mine, h = send_request(send)
    give_up: float | None = None
    waiting_exec = exec_fd >= 0
    try:
        while True:
            if not waiting_exec:
                rc, got, passed = _ffi.recv_reply(mine, True)
                if rc == 1 or rc not in (-errno.EAGAIN, -errno.EINTR):
                    break
            now = time.monotonic()
            if held.pending and give_up is None:
                give_up = now + _ABANDON_WAIT
                if waiting_exec:
                    waiting_exec = False  # the reply alone counts now
                    continue
            if give_up is not None and now >= give_up:
                # A STARTED that comes at this instant has its process
                # killed.
                _give_up(mine)
                return -1, None, -1, h
            if deadline is not None and now >= deadline:
                # A STARTED already here has its process killed.
                _give_up(mine)
                raise ReplyTimeout
            # Short slices: a Ctrl-C held back wakes nobody.
            until = now + 0.2 if give_up is None else give_up
            if deadline is not None:
                until = min(until, deadline)
            if waiting_exec:
                waiting_exec = not _hung_up(exec_fd, mine, until - now)
            else:
                _wait_readable(mine, until - now)
    except ReplyTimeout:
        raise
    except BaseException:
        # Raised by a signal handler of the caller's own (held() leaves
        # those alone): the request is given up on, as on a deadline.
        _give_up(mine)
        raise
    if got is None:
        close_request(mine)
        if rc < 0 and rc != -errno.EPROTO:
            raise OSError(-rc, f"cannot read lxcpy's helper's reply: {os.strerror(-rc)}")
        raise _lost(h)
    return mine, got, passed, h


def _hung_up(a: int, b: int, seconds: float) -> bool:
    """Wait until fd a or fd b hangs up (what is to read there does not
    wake it), at most ``seconds``; whether one did."""
    poller = select.poll()
    poller.register(a, 0)
    poller.register(b, 0)
    return bool(poller.poll(max(1, int(seconds * 1000))))


def shut_down(fd: int, how: int) -> None:
    """shutdown() a request's socket (how: socket.SHUT_*), keeping the fd:
    wrapped and detached, never duplicated (a copy would be in no one's
    list of fds in flight, and a fork meanwhile would keep it)."""
    with contextlib.suppress(OSError):
        s = socket.socket(fileno=fd)
        try:
            s.shutdown(how)
        finally:
            s.detach()


def _give_up(fd: int) -> None:
    """Close a request's socket at once (the helper kills the worker still
    attaching for it); a STARTED already there has its process killed.
    Shut down first: a STARTED the worker sends after that fails to go,
    and the worker kills its process itself (pool_started)."""
    shut_down(fd, socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        while True:
            rc, got, passed = _ffi.recv_reply(fd, True)
            if passed >= 0:
                try:
                    if got is not None and got[1] == _ffi.REPLY_STARTED:
                        signal.pidfd_send_signal(passed, signal.SIGKILL)
                finally:
                    os.close(passed)
            if rc != 1:
                break  # nothing more (EAGAIN), or EOF
    close_request(fd)


# How long a request abandoned on Ctrl-C still waits for a reply already
# on its way (the process it starts is then killed, not left running).
_ABANDON_WAIT = 0.5


def _wait_readable(fd: int, seconds: float) -> None:
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    poller.poll(max(1, int(seconds * 1000)))
