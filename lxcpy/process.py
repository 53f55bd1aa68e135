"""``lxcpy.Process``: a process attached to a container, with the manners
of ``subprocess.Popen``.

In-process (``LXCPY_HELPER=0``, and ``attach(func)``), the attached process
is a child of the calling process (liblxc clones it with CLONE_PARENT), so
it is waited for like any child: through a pidfd where the kernel has them
(no pid reuse race, and a timeout costs no polling), else with waitpid.

Through lxcpy's helper process (``run()``/``popen()`` by default), it is the
child of one of the helper's attach workers: the worker reaps it and sends
its exact wait status on the request's own socket, which is what a wait
polls (GIL released); signals go through a pidfd the worker sent along.
The worker outlives the helper; should the worker itself die first, the
status is lost: waiting raises ``ExitStatusLostError``.

A Process dropped before it was waited for is handed to a background
reaper, so no zombie is left behind (and no fd).

After ``os.fork()``, the child's copies of the parent's Processes are not
its children: as with ``subprocess.Popen``, waiting for one there returns
0 at once (its status is not the child's to take), and dropping one does
nothing; the parent's statuses, and its helper, are left alone.
"""

from __future__ import annotations

import contextlib
import io
import locale
import os
import select
import selectors
import signal
import subprocess
import threading
import time
import weakref
from types import TracebackType
from typing import IO, Any

from lxcpy import _ffi, _helper
from lxcpy.errors import ExitStatusLostError

__all__ = ["Process"]

_PIPE_BUF = getattr(select, "PIPE_BUF", 512)
_READ_CHUNK = 1 << 20

# A wait never sleeps on one pidfd longer than this: should another thread
# reap the child meanwhile, its fd number may be reused.
_WAIT_SLICE_MS = 1000


def _wait_readable(fd: int, left: float | None) -> None:
    """Sleep until fd is readable, for at most one slice (or what is left
    of a timeout), with the GIL released."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    ms = _WAIT_SLICE_MS if left is None else int(left * 1000) + 1
    poller.poll(min(_WAIT_SLICE_MS, ms))


# Bumped in a forked child: a _Child or _RemoteChild made in another
# generation belongs to the parent (never reaped, nor its socket read, here).
_generation = 0


def _status(si_code: int, si_status: int) -> int:
    if si_code == os.CLD_EXITED:
        return si_status
    return -si_status


class _Child:
    """The part of a Process the reaper needs: pid, pidfd, exit status.
    It holds no reference to the Process, so a finalizer can own it."""

    __slots__ = ("generation", "lock", "pid", "pidfd", "returncode")

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self.lock = threading.Lock()
        self.generation = _generation
        try:
            self.pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            self.pidfd = -1

    def _done(self, code: int) -> int:
        self.returncode = code
        fd, self.pidfd = self.pidfd, -1
        if fd >= 0:
            os.close(fd)
        return code

    def try_reap(self) -> int | None:
        """Reap without blocking; the exit code, or None while it runs."""
        if self.generation != _generation:
            return _not_ours(self)
        with self.lock:
            if self.returncode is not None:
                return self.returncode
            try:
                if self.pidfd >= 0:
                    res = os.waitid(os.P_PIDFD, self.pidfd, os.WEXITED | os.WNOHANG)
                    if res is None or res.si_pid == 0:
                        return None
                    return self._done(_status(res.si_code, res.si_status))
                pid, status = os.waitpid(self.pid, os.WNOHANG)
                if pid == 0:
                    return None
                return self._done(os.waitstatus_to_exitcode(status))
            except ChildProcessError:
                # Reaped by someone else (os.wait(), SIGCHLD ignored): the
                # status is lost, as subprocess reports it.
                return self._done(0)

    def wait(self, timeout: float | None) -> int | None:
        """Block until it exits (None if timeout passed first). The GIL is
        released while waiting; KeyboardInterrupt gets through."""
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.0005
        while True:
            code = self.try_reap()
            if code is not None:
                return code
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return None
            fd = self.pidfd
            if fd >= 0:
                _wait_readable(fd, left)
            elif left is None:
                # No pidfd: a plain blocking waitpid outside the lock.
                with contextlib.suppress(ChildProcessError):
                    _, status = os.waitpid(self.pid, 0)
                    with self.lock:
                        if self.returncode is None:
                            self._done(os.waitstatus_to_exitcode(status))
            else:
                time.sleep(min(delay, left))
                delay = min(delay * 2, 0.05)

    def send_signal(self, sig: int) -> None:
        # In a forked child, without the lock (see _not_ours).
        with self.lock if self.generation == _generation else contextlib.nullcontext():
            if self.returncode is not None:
                return
            with contextlib.suppress(ProcessLookupError):
                if self.pidfd >= 0:
                    signal.pidfd_send_signal(self.pidfd, sig)
                else:
                    os.kill(self.pid, sig)

    def wait_fd(self) -> int:
        """The fd that is readable once try_reap() has news (-1: none)."""
        return self.pidfd

    def close(self) -> None:
        """Give up on it (the reaper, after a lost status; a forked child)."""
        fd, self.pidfd = self.pidfd, -1
        if fd >= 0:
            os.close(fd)


# What try_reap makes of a helper that is gone: no DONE reply.
_GONE = (-1, 0, 0, 0)


class _RemoteChild:
    """A process that lxcpy's helper attached: an attach worker's child.
    Its status arrives on the request's socket (a DONE reply); signals go
    through the pidfd the worker sent. Same interface as _Child."""

    __slots__ = (
        "fd",
        "generation",
        "lock",
        "lost",
        "pid",
        "pidfd",
        "remote",
        "returncode",
        "why",
    )

    def __init__(self, pid: int, remote: _helper.Remote) -> None:
        self.pid = pid
        self.generation = _generation
        self.fd = remote.fd  # the request's socket; -1 once closed
        self.pidfd = remote.pidfd
        self.remote = remote
        self.returncode: int | None = None
        self.lost = False
        self.why = ""  # what the helper said, if it said why
        self.lock = threading.Lock()

    def close(self) -> None:
        fd, self.fd = self.fd, -1
        pidfd, self.pidfd = self.pidfd, -1
        # In a forked child, the request's socket was closed at the fork
        # (lxcpy._helper): its number may be another fd's by now.
        if fd >= 0 and self.generation == _generation:
            _helper.close_request(fd)
        if pidfd >= 0:
            os.close(pidfd)

    def _lost(self) -> ExitStatusLostError:
        return ExitStatusLostError(
            f"exit status lost: lxcpy's helper process that waited for process {self.pid} "
            f"died while it ran{self.why}",
            operation="attach",
        )

    def wait_fd(self) -> int:
        return self.fd

    def try_reap(self) -> int | None:
        if self.generation != _generation:
            return _not_ours(self)
        with self.lock:
            if self.returncode is not None:
                return self.returncode
            if self.lost or self.fd < 0:
                raise self._lost()
            try:
                reply = self.remote.poll()
            except _helper.HelperLost:
                reply = _GONE  # EOF, or garbled
            if reply is None:
                return None
            if reply[1] != _ffi.REPLY_DONE or reply[0] < 0:
                # The helper is gone or could not wait for its child.
                self.lost = True
                if reply is not _GONE and reply[0] < 0:
                    self.why = f" ({os.strerror(-reply[0])})"
                fd, self.fd = self.fd, -1
                _helper.close_request(fd)
                raise self._lost()
            self.returncode = os.waitstatus_to_exitcode(reply[2])
            self.close()
            return self.returncode

    def wait(self, timeout: float | None) -> int | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            code = self.try_reap()
            if code is not None:
                return code
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return None
            fd = self.wait_fd()
            if fd < 0:
                continue
            _wait_readable(fd, left)

    def send_signal(self, sig: int) -> None:
        # In a forked child, without the lock (see _not_ours).
        with self.lock if self.generation == _generation else contextlib.nullcontext():
            if self.returncode is not None or self.pidfd < 0:
                return
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(self.pidfd, sig)


def _not_ours(child: _Child | _RemoteChild) -> int:
    """In a forked child, a process of the parent's: what subprocess says
    of a process that is not a child (ECHILD): 0. Its fds (the child's
    copies) are closed; the reply socket is never read here: its status is
    the parent's. No lock is taken (another thread of the parent may have
    held it at the fork)."""
    if child.returncode is None:
        child.returncode = 0
    child.close()
    return child.returncode


class _Reaper:
    """Reaps the children of Processes dropped while still running: one
    daemon thread, alive only while there is something to reap."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._children: list[_Child | _RemoteChild] = []
        self._thread: threading.Thread | None = None

    def adopt(self, child: _Child | _RemoteChild) -> None:
        if _reaped(child):
            return
        with self._lock:
            self._children.append(child)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="lxcpy-reaper", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                self._children = [c for c in self._children if not _reaped(c)]
                if not self._children:
                    self._thread = None
                    return
                fds = [fd for c in self._children if (fd := c.wait_fd()) >= 0]
            if fds:
                poller = select.poll()
                for fd in fds:
                    poller.register(fd, select.POLLIN)
                poller.poll(100)
            else:
                time.sleep(0.05)

    def after_fork_in_child(self) -> None:
        """The parent's orphans are not the child's to reap; its thread
        is gone and its lock may have been held."""
        children, self._children = self._children, []
        self._lock = threading.Lock()
        self._thread = None
        for child in children:
            child.close()


def _reaped(child: _Child | _RemoteChild) -> bool:
    """Whether the reaper is done with child (reaped, or its status lost)."""
    try:
        return child.try_reap() is not None
    except ChildProcessError:
        child.close()
        return True


_reaper = _Reaper()


def _after_fork_in_child() -> None:
    global _generation
    _generation += 1
    _reaper.after_fork_in_child()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _orphaned(child: _Child | _RemoteChild) -> None:
    """A Process was garbage collected: reap its child now or later."""
    _reaper.adopt(child)


class Process:
    """A process attached to a container (``Container.popen()`` or
    ``Container.attach()``); behaves like ``subprocess.Popen``.

    ``pid``, ``args``, ``stdin``/``stdout``/``stderr`` (file objects for
    pipes, else None), ``returncode`` (None while running; negative for a
    signal), ``poll()``, ``wait()``, ``communicate()``, ``send_signal()``,
    ``terminate()``, ``kill()``; a context manager that closes the pipes and
    waits on exit.
    """

    def __init__(
        self,
        args: Any,
        pid: int,
        *,
        stdin: int | None = None,
        stdout: int | None = None,
        stderr: int | None = None,
        text: bool = False,
        encoding: str | None = None,
        errors: str | None = None,
        remote: _helper.Remote | None = None,
    ) -> None:
        """Not for users: ``Container.popen()`` makes Processes. Takes
        ownership of the pipe fds given, and of ``remote``: the helper
        request's socket and the process's pidfd, when lxcpy's helper
        attached it."""
        self.args = args
        self.pid = pid
        self._child: _Child | _RemoteChild = (
            _Child(pid) if remote is None else _RemoteChild(pid, remote)
        )
        self._finalizer = weakref.finalize(self, _orphaned, self._child)
        self._finalizer.atexit = False
        self.text_mode = text
        self.encoding = encoding
        self.errors = errors
        self.stdin: IO[Any] | None = None
        self.stdout: IO[Any] | None = None
        self.stderr: IO[Any] | None = None
        if stdin is not None:
            raw = open(stdin, "wb", buffering=-1)  # noqa: SIM115 - owned by the Process
            self.stdin = (
                io.TextIOWrapper(raw, self._encoding(), self._errors(), write_through=True)
                if text
                else raw
            )
        if stdout is not None:
            self.stdout = self._reader(stdout)
        if stderr is not None:
            self.stderr = self._reader(stderr)
        self._out: list[bytes] | None = None
        self._err: list[bytes] | None = None
        self._input: memoryview | None = None
        self._input_offset = 0
        self._communication_started = False

    def _encoding(self) -> str:
        return self.encoding or locale.getpreferredencoding(False)

    def _errors(self) -> str:
        return self.errors or "strict"

    def _reader(self, fd: int) -> IO[Any]:
        raw = open(fd, "rb", buffering=-1)  # noqa: SIM115 - owned by the Process
        if self.text_mode:
            return io.TextIOWrapper(raw, self._encoding(), self._errors())
        return raw

    # -- status ------------------------------------------------------------------

    @property
    def returncode(self) -> int | None:
        return self._child.returncode

    def poll(self) -> int | None:
        """The exit code if the process has ended (reaping it), else None."""
        return self._child.try_reap()

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the process to end and return its exit code; raise
        ``subprocess.TimeoutExpired`` if ``timeout`` seconds pass first."""
        code = self._child.wait(timeout)
        if code is None:
            assert timeout is not None
            raise subprocess.TimeoutExpired(self.args, timeout)
        return code

    def send_signal(self, sig: int) -> None:
        """Send a signal (a no-op once the process has been waited for)."""
        self._child.send_signal(sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    # -- communicate --------------------------------------------------------------

    def communicate(self, input: Any = None, timeout: float | None = None) -> tuple[Any, Any]:
        """Send ``input`` to stdin (then close it), read stdout and stderr
        until EOF, both at once, and wait for the process. Returns
        ``(stdout, stderr)`` (None for a stream not piped). On
        ``TimeoutExpired`` nothing is lost: call it again to go on."""
        if self._communication_started and input:
            raise ValueError("Cannot send input after starting communication")
        if self.stdin is None and self.stdout is None and self.stderr is None:
            if input:
                raise ValueError("input given, but stdin is not a pipe")
            self.wait(timeout)
            return None, None
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self._communication_started:
            self._start_communication(input)
        self._communicate(deadline, timeout)
        code = self._child.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
        if code is None:
            assert timeout is not None
            raise subprocess.TimeoutExpired(self.args, timeout)
        return self._result()

    def _start_communication(self, input: Any) -> None:
        self._communication_started = True
        for stream in (self.stdout, self.stderr):
            if stream is not None and not stream.closed:
                with contextlib.suppress(ValueError, OSError):
                    stream.flush()
        if self.stdin is not None:
            with contextlib.suppress(BrokenPipeError, ValueError):
                self.stdin.flush()
            if input is not None:
                if self.text_mode and isinstance(input, str):
                    input = input.encode(self._encoding(), self._errors())
                self._input = memoryview(input).cast("B")
            else:
                with contextlib.suppress(BrokenPipeError):
                    self.stdin.close()
        elif input is not None and len(input):
            raise ValueError("input given, but stdin is not a pipe")
        self._out = [] if self.stdout is not None else None
        self._err = [] if self.stderr is not None else None

    def _communicate(self, deadline: float | None, timeout: float | None) -> None:
        with selectors.PollSelector() as sel:
            if self.stdin is not None and not self.stdin.closed and self._input is not None:
                sel.register(self.stdin, selectors.EVENT_WRITE)
            if self.stdout is not None and not self.stdout.closed:
                sel.register(self.stdout, selectors.EVENT_READ)
            if self.stderr is not None and not self.stderr.closed:
                sel.register(self.stderr, selectors.EVENT_READ)
            while sel.get_map():
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    assert timeout is not None
                    raise subprocess.TimeoutExpired(
                        self.args,
                        timeout,
                        output=self._joined(self._out),
                        stderr=self._joined(self._err),
                    )
                for key, _ in sel.select(left):
                    stream = key.fileobj
                    if stream is self.stdin:
                        self._write_some(sel)
                        continue
                    data = os.read(key.fd, _READ_CHUNK)
                    if not data:
                        sel.unregister(stream)
                        stream.close()  # type: ignore[union-attr]
                    elif stream is self.stdout:
                        assert self._out is not None
                        self._out.append(data)
                    else:
                        assert self._err is not None
                        self._err.append(data)

    def _write_some(self, sel: selectors.BaseSelector) -> None:
        # One PIPE_BUF per writable event, as subprocess does: a writable
        # pipe has room for that much, and more could block (a program
        # that writes more than it reads would then block on its stdout,
        # which this thread is no longer reading: neither would go on).
        assert self.stdin is not None and self._input is not None
        chunk = self._input[self._input_offset : self._input_offset + _PIPE_BUF]
        try:
            self._input_offset += os.write(self.stdin.fileno(), chunk)
        except BrokenPipeError:
            self._input_offset = len(self._input)
        if self._input_offset >= len(self._input):
            sel.unregister(self.stdin)
            with contextlib.suppress(BrokenPipeError):
                self.stdin.close()

    @staticmethod
    def _joined(chunks: list[bytes] | None) -> bytes | None:
        return None if chunks is None else b"".join(chunks)

    def _decode(self, data: bytes | None) -> Any:
        if data is None or not self.text_mode:
            return data
        text = data.decode(self._encoding(), self._errors())
        return text.replace("\r\n", "\n").replace("\r", "\n")

    def _result(self) -> tuple[Any, Any]:
        return self._decode(self._joined(self._out)), self._decode(self._joined(self._err))

    # -- context manager ------------------------------------------------------------

    def __enter__(self) -> Process:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for stream in (self.stdout, self.stderr):
            if stream is not None:
                stream.close()
        try:
            if self.stdin is not None:
                with contextlib.suppress(BrokenPipeError):
                    self.stdin.close()
        finally:
            if exc_type is KeyboardInterrupt:
                # Like subprocess: do not hang on a second Ctrl-C.
                self._child.wait(0.25)
            else:
                self.wait()

    def __repr__(self) -> str:
        return f"<lxcpy.Process pid={self.pid} returncode={self.returncode}>"
