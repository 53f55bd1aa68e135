"""Running things inside a container: the attach call itself, behind
``Container.run/popen/attach/attach_shell``. The options are checked and
resolved in ``_attach_options``, the stdio is set up in ``_stdio``, and the
Python child of attach(func) is in ``_pychild``.

The program's child runs no Python: the shim's exec function puts the
caller's fds in place, changes directory and calls execvp, and reports on a
CLOEXEC error pipe how far it got ({stage, errno} pairs; READY first). EOF
after READY alone means the program was executed; no READY at all means
liblxc failed while setting the child up (its reason is in the container's
log, which the child writes too).
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import os
import signal
import struct
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from lxcpy import _attach_ready, _ffi, _helper, _sigint, _validate, _worker
from lxcpy._attach_options import (
    DEFAULT,
    AttachOptions,
    Options,
    argv,
    db,
    lookup,
    options,
    resolve,
)
from lxcpy._operation import LogCapture, Operation
from lxcpy._pychild import child_function
from lxcpy._stdio import PIPE, check_std, close, pipe, plumb
from lxcpy.errors import AttachError, ExitStatusLostError, NotRunningError
from lxcpy.process import Process

if TYPE_CHECKING:
    from lxcpy.container import Container

# What container.py and the tests use from here (DEFAULT, AttachOptions,
# options and resolve are re-exported from _attach_options).
__all__ = [
    "DEFAULT",
    "AttachOptions",
    "attach",
    "attach_shell",
    "options",
    "popen",
    "release",
    "resolve",
    "run",
]

_PAIR = struct.Struct("=ii")


# -- the attach ---------------------------------------------------------------------


class _Lease:
    """A liblxc handle used by one attach at a time, never by another
    thread meanwhile: liblxc's forked children release the handle
    (lxc_container_put takes its lock), so a lock on it held by another
    thread at fork time would deadlock them. Each has its own log, and
    remembers the container (name, lxcpath) it was opened on: after a
    rename it is dropped, never used under the new name."""

    __slots__ = ("capture", "handle", "key")

    def __init__(self, c: Container) -> None:
        self.key = (c.name, c.lxcpath)
        h = _ffi.handle_new(c.name, _ffi.enc_path(c.lxcpath))
        if h is None:
            err = _ffi.errno()
            raise AttachError(
                f"liblxc could not open a handle: {os.strerror(err)}",
                container=c.name,
                operation="attach",
                errno=err,
            )
        self.handle = h
        self.capture = LogCapture(_ffi.log_fd(h))


_pools: weakref.WeakKeyDictionary[Container, list[_Lease]] = weakref.WeakKeyDictionary()
_pools_lock = threading.Lock()


def _after_fork_in_child() -> None:
    # Another thread of the parent may have held it at the fork.
    global _pools_lock
    _pools_lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _lease(c: Container) -> _Lease:
    key = (c.name, c.lxcpath)
    with _pools_lock:
        pool = _pools.get(c)
        if pool and pool[-1].key == key:
            return pool.pop()
    return _Lease(c)


def _unlease(c: Container, lease: _Lease) -> None:
    with _pools_lock:
        if not c.closed and lease.key == (c.name, c.lxcpath):
            _pools.setdefault(c, []).append(lease)
            return
    _ffi.handle_free(lease.handle)


def release(c: Container) -> None:
    """Free the attach handles of a Container being closed (or whose handle
    is replaced: renamed, destroyed), and what it knew of the container's
    init. Handles in use are freed when their attach returns them."""
    _attach_ready.release(c)
    with _pools_lock:
        pool = _pools.pop(c, [])
    for lease in pool:
        _ffi.handle_free(lease.handle)


def _read_reports(fd: int) -> list[tuple[int, int]]:
    data = b""
    while True:
        chunk = os.read(fd, 64)
        if not chunk:
            break
        data += chunk
    n = len(data) // _PAIR.size
    return [_PAIR.unpack_from(data, i * _PAIR.size) for i in range(n)]


def spawn(
    c: Container,
    target: list[bytes] | Callable[[], int],
    args: Any,
    opts: Options,
    stdin: Any,
    stdout: Any,
    stderr: Any,
    text: bool,
    encoding: str | None,
    errors: str | None,
    deadline: float | None = None,
) -> Process:
    """Attach ``target`` (an argv to execute, or a Python child function)
    and return its Process once it runs (the program executed). Not
    running by ``deadline`` (a time.monotonic() value: a container or
    monitor that does not answer): subprocess.TimeoutExpired, and nothing
    of the attempt is left running.

    A Ctrl-C that comes meanwhile is held back until the process (if any)
    is known, then it is killed and reaped and KeyboardInterrupt raised: a
    run() or popen() interrupted at any moment leaves no process and no fd
    behind (lxcpy._sigint)."""
    with _sigint.held() as held:
        try:
            proc = _spawn(
                c, target, args, opts, stdin, stdout, stderr, text, encoding, errors, held, deadline
            )
        except BaseException as e:
            if held.pending and not isinstance(e, KeyboardInterrupt):
                raise KeyboardInterrupt from e
            raise
        if held.pending:
            _abandon(proc)
            raise KeyboardInterrupt
    return proc


def _abandon(proc: Process) -> None:
    """Kill and reap a process whose start was interrupted; close its pipes."""
    proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired, ExitStatusLostError):
        proc.wait(_ABANDON_WAIT)  # else the reaper gets it, when dropped
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


_ABANDON_WAIT = 2.0


def _spawn(
    c: Container,
    target: list[bytes] | Callable[[], int],
    args: Any,
    opts: Options,
    stdin: Any,
    stdout: Any,
    stderr: Any,
    text: bool,
    encoding: str | None,
    errors: str | None,
    held: _sigint.Held,
    deadline: float | None,
) -> Process:
    for value, what in ((stdin, "stdin"), (stdout, "stdout"), (stderr, "stderr")):
        check_std(value, what)
    try:
        init_pid = _attach_ready.check(c, deadline, held)
    except _attach_ready.CheckTimeout:
        raise subprocess.TimeoutExpired(args, 0.0) from None
    if opts.names_ids:
        init_pid = init_pid or c.init_pid or 0
        if init_pid <= 0:
            raise NotRunningError(
                "the container is not running", container=c.name, operation="attach"
            )
    resolved = resolve(opts, init_pid)
    if callable(target):
        # Output buffered in this process would be printed twice.
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                if stream is not None:
                    stream.flush()
    p = plumb(stdin, stdout, stderr)
    err_r = err_w = -1
    remote: _helper.Remote | None = None
    # An in-process attach given up on (its deadline passed while liblxc
    # waited for the monitor): its thread owns the lease and the fds now.
    handed_off = False
    try:
        err_r, err_w = pipe()
        lease = _lease(c)
        try:
            op = Operation(lease.capture, lease.handle, c.name, "attach")
            with op:
                h = op.handle
                sent = None
                if _worker.attach_in_helper(target):
                    cmd, logfd = target, _ffi.log_fd(h)

                    def send(ctl: int) -> int:
                        # Once sent, the request holds its own references to
                        # the child's fds: ours go now, while the helper works.
                        nonlocal err_w
                        fd = _ffi.send_attach(
                            ctl,
                            _ffi.enc(c.name),
                            _ffi.enc_path(c.lxcpath),
                            resolved,
                            p.lxc,
                            p.child,
                            err_w,
                            cmd,
                            logfd,
                        )
                        if fd >= 0:
                            close(err_w)
                            err_w = -1
                            p.close_temp()
                        return fd

                    sent = _helper_attach(op, send, held, args, deadline, err_r)
                if sent is not None:
                    rc, pid, remote = sent
                else:
                    # What a failed attach leaves open of the init is closed:
                    # known by what the kept pidfd of it is.
                    known = _attach_ready.init_id(c)
                    w, tgt = err_w, target

                    def call() -> tuple[int, int]:
                        if callable(tgt):
                            with _helper.fork_exempt():
                                return _ffi.attach_call(
                                    h, resolved, p.lxc, p.child, w, tgt, init_pid, known
                                )
                        return _ffi.attach_run(h, resolved, p.lxc, p.child, w, tgt, init_pid, known)

                    # In a thread of its own (see _bounded): the deadline
                    # or a Ctrl-C hands what comes later to that thread.
                    late = _Late(lease, p, err_r, err_w)
                    handed = [False]
                    try:
                        got = _bounded(call, deadline, held, late, op.fail, handed)
                    finally:
                        handed_off = handed[0]
                    if got is None:
                        if held.pending:
                            raise KeyboardInterrupt
                        raise subprocess.TimeoutExpired(args, 0.0)
                    rc, pid = got
                if err_w >= 0:
                    close(err_w)
                    err_w = -1
                p.close_temp()
                if rc < 0:
                    _fail(op, c, init_pid, "liblxc could not attach a process to the container")
                reports = _read_reports(err_r)
                stages = [s for s, _ in reports]
                if STAGE_READY not in stages:
                    code = _reap(pid, remote)
                    why = f"liblxc could not set up the attached process ({_how(code)})"
                    _fail(op, c, init_pid, why)
                failed = [(s, e) for s, e in reports if s != STAGE_READY]
                if failed:
                    _reap(pid, remote)
                    _raise_child_error(*failed[0], target, opts)
        finally:
            if not handed_off:
                _unlease(c, lease)
    except BaseException:
        if not handed_off:
            p.close_all()
        if remote is not None:
            remote.close()
        raise
    finally:
        for fd in (err_r, err_w):
            if fd >= 0 and not handed_off:
                close(fd)
    return Process(
        args,
        pid,
        stdin=p.parent[0],
        stdout=p.parent[1],
        stderr=p.parent[2],
        text=text,
        encoding=encoding,
        errors=errors,
        remote=remote,
    )


def _kill_reap(pid: int) -> None:
    """Kill and reap a child attached for a caller that gave up."""
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


class _Late:
    """What an in-process attach given up on leaves to its thread: once
    liblxc returns, the process it attached (if any) is killed and reaped,
    and the fds and the handle closed."""

    def __init__(self, lease: _Lease, p: Any, err_r: int, err_w: int) -> None:
        self.lease, self.p, self.fds = lease, p, (err_r, err_w)

    def __call__(self, got: tuple[int, int] | None) -> None:
        if got is not None and got[1] > 0:
            _kill_reap(got[1])
        for fd in self.fds:
            if fd >= 0:
                with contextlib.suppress(OSError):
                    close(fd)
        self.p.close_all()
        _ffi.handle_free(self.lease.handle)


def _bounded(
    call: Callable[[], tuple[int, int]],
    deadline: float | None,
    held: _sigint.Held,
    late: Callable[[tuple[int, int] | None], None],
    fail: Callable[[str], NoReturn],
    handed: list[bool],
) -> tuple[int, int] | None:
    """call() (an in-process attach) in a thread of its own, never in the
    caller's: liblxc first asks the container's monitor, which may not
    answer, and leaks the init's pidfd when called from a single-threaded
    process (csrc/common/attach_run.c). None once ``deadline`` (None: none)
    passed or a Ctrl-C came first: the thread then calls late() with what
    call() returned (None if it raised) when it returns, and handed[0] is
    set (also when the wait raised); fail() when no thread can be started."""
    box: list[tuple[int, int] | BaseException] = []
    done = threading.Event()
    lock = threading.Lock()
    gave_up = False

    def run() -> None:
        got: tuple[int, int] | BaseException
        try:
            got = call()
        except BaseException as e:
            got = e
        with lock:
            box.append(got)
            left = gave_up
            done.set()
        if left:
            late(None if isinstance(got, BaseException) else got)

    # The caller's context variables go with it (into attach(func)'s child).
    ctx = contextvars.copy_context()
    t = threading.Thread(target=ctx.run, args=(run,), name="lxcpy-attach", daemon=True)
    try:
        t.start()
    except RuntimeError as e:  # "can't start new thread": nothing ran
        fail(f"could not start a thread to attach in ({e})")
    try:
        while True:
            left = 0.2 if deadline is None else max(0.0, min(0.2, deadline - time.monotonic()))
            if done.wait(left):
                break
            if held.pending or (deadline is not None and time.monotonic() >= deadline):
                with lock:
                    if not done.is_set():
                        gave_up = True
                        handed[0] = True
                        return None
                break
    except BaseException:
        # Raised by a signal handler of the caller's own (held() leaves
        # those alone): what liblxc still uses is the thread's now.
        with lock:
            if not done.is_set():
                gave_up = True
                handed[0] = True
        if handed[0]:
            raise
        t.join()
        got = box[0]
        if not isinstance(got, BaseException) and got[1] > 0:
            _kill_reap(got[1])  # attached for a caller that is gone
        raise
    t.join()
    if isinstance(box[0], BaseException):
        raise box[0]
    return box[0]


def _fail(op: Operation, c: Container, init_pid: int, message: str) -> NoReturn:
    """An attach failed: NotRunningError when the container stopped
    meanwhile (its init exiting or gone: liblxc then says anything, such as
    "Cannot allocate memory - Failed to clone attached process"), else
    AttachError; with liblxc's reason in the details either way."""
    if (
        _attach_ready.init_exited(c)
        or (init_pid > 0 and _attach_ready.exiting(init_pid))
        or _ffi.state(op.handle) not in _ALIVE
    ):
        op.fail(f"the container stopped while attaching ({message})", error=NotRunningError)
    op.fail(message)


# States in which a container has an init to attach to.
_ALIVE = ("RUNNING", "FROZEN", "FREEZING", "THAWED")


def _helper_attach(
    op: Operation,
    send: Callable[[int], int],
    held: _sigint.Held,
    args: Any,
    deadline: float | None,
    err_r: int,
) -> tuple[int, int, _helper.Remote | None] | None:
    """Have lxcpy's helper attach (it runs the liblxc calls, so their forks
    copy a small process, not this one). (rc, pid, remote); None when the
    request is too large for the helper (a huge environment): the caller
    then attaches in-process."""
    try:
        sock, reply, pidfd, h = _helper.open_request_held(send, held, deadline, err_r)
    except _helper.ReplyTimeout:
        raise subprocess.TimeoutExpired(args, 0.0) from None
    except _helper.HelperLost as e:
        op.fail(f"lxcpy's helper process failed: {e}")
    except OSError as e:
        if e.errno == errno.E2BIG:
            return None
        raise
    if reply is None:
        # Ctrl-C, and no answer came in time: the request is given up on.
        raise KeyboardInterrupt
    err, kind, _status, pid = reply
    if err < 0 or kind != _ffi.REPLY_STARTED:
        _helper.close_request(sock)
        if pidfd >= 0:
            os.close(pidfd)
        return (err if err < 0 else -errno.EPROTO), -1, None
    if pidfd < 0:
        # The helper could not open one (it always can on Linux >= 5.3).
        with contextlib.suppress(OSError):
            pidfd = os.pidfd_open(pid)
    return 0, pid, _helper.Remote(sock, pidfd, h)


STAGE_READY = _ffi.STAGE_READY


def _reap(pid: int, remote: _helper.Remote | None = None) -> int:
    """The exit code of a child that failed to set up: ours, or the
    helper's (its DONE reply)."""
    if remote is not None:
        reply = remote.wait()
        if reply is None or reply[0] < 0:
            return 0
        return os.waitstatus_to_exitcode(reply[2])
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return 0
    return os.waitstatus_to_exitcode(status)


def _how(code: int) -> str:
    return f"killed by signal {-code}" if code < 0 else f"exit status {code}"


def _raise_child_error(
    stage: int, err: int, target: list[bytes] | Callable[[], int], opts: Options
) -> NoReturn:
    if stage == _ffi.STAGE_EXEC and isinstance(target, list):
        raise OSError(err, os.strerror(err), os.fsdecode(target[0]))
    if stage == _ffi.STAGE_CHDIR and opts.cwd is not None:
        raise OSError(err, os.strerror(err), os.fsdecode(opts.cwd))
    raise OSError(err, f"setting up the attached process's stdio: {os.strerror(err)}")


# -- the public operations ---------------------------------------------------------------


def popen(
    c: Container,
    args: Any,
    opts: Options,
    *,
    stdin: Any,
    stdout: Any,
    stderr: Any,
    text: bool,
    encoding: str | None,
    errors: str | None,
    deadline: float | None = None,
) -> Process:
    cmd = argv(args)
    text = _text_mode(text, encoding, errors)
    return spawn(c, cmd, args, opts, stdin, stdout, stderr, text, encoding, errors, deadline)


def attach(
    c: Container,
    func: Callable[..., Any],
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    opts: Options,
    *,
    stdin: Any,
    stdout: Any,
    stderr: Any,
    text: bool,
    encoding: str | None,
    errors: str | None,
) -> Process:
    if not callable(func):
        raise TypeError(f"func must be callable, not {type(func).__name__}")
    text = _text_mode(text, encoding, errors)
    child = child_function(func, args, kwargs)
    return spawn(c, child, func, opts, stdin, stdout, stderr, text, encoding, errors)


def _text_mode(text: Any, encoding: Any, errors: Any) -> bool:
    if encoding is not None:
        _validate.text(encoding, "encoding")
    if errors is not None:
        _validate.text(errors, "errors")
    return bool(text) or encoding is not None or errors is not None


def run(
    c: Container,
    args: Any,
    opts: Options,
    *,
    input: Any,
    capture_output: bool,
    stdin: Any,
    stdout: Any,
    stderr: Any,
    text: bool,
    encoding: str | None,
    errors: str | None,
    timeout: float | None,
    check: bool,
) -> subprocess.CompletedProcess[Any]:
    if input is not None:
        if stdin is not None:
            raise ValueError("stdin and input arguments may not both be used.")
        if not isinstance(input, (bytes, bytearray, memoryview, str)):
            raise TypeError(f"input must be bytes or str, not {type(input).__name__}")
        stdin = PIPE
    if capture_output:
        if stdout is not None or stderr is not None:
            raise ValueError("stdout and stderr arguments may not be used with capture_output.")
        stdout = stderr = PIPE
    limit = _validate.timeout(timeout)
    text = _text_mode(text, encoding, errors)
    if isinstance(input, str) and not text:
        raise TypeError("input must be bytes unless text, encoding or errors is given")
    if not isinstance(input, str) and input is not None and text:
        raise TypeError("input must be str in text mode")
    # The timeout bounds the whole call: the attach too (a container or
    # monitor that does not answer).
    deadline = None if limit is None else time.monotonic() + limit
    try:
        proc = popen(
            c,
            args,
            opts,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            text=text,
            encoding=encoding,
            errors=errors,
            deadline=deadline,
        )
    except subprocess.TimeoutExpired as exc:
        exc.timeout = timeout if timeout is not None else 0.0
        raise
    with proc:
        try:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            out, err = proc.communicate(input, timeout=left)
        except subprocess.TimeoutExpired as exc:
            proc.kill()
            proc.wait()
            exc.timeout = timeout if timeout is not None else 0.0
            exc.output, exc.stderr = proc._result()
            raise
        except BaseException:
            proc.kill()
            raise
        code = proc.poll()
        assert code is not None
    if check and code:
        raise subprocess.CalledProcessError(code, args, output=out, stderr=err)
    return subprocess.CompletedProcess(args, code, out, err)


def attach_shell(c: Container, opts: Options, shell: Any) -> int:
    """The user's shell (from the container's passwd; /bin/sh otherwise) on
    the caller's terminal. Like os.system, the caller ignores SIGINT and
    SIGQUIT until the shell exits (they are the shell's)."""
    init_pid = _attach_ready.check(c) or c.init_pid
    if shell is None:
        shell = "/bin/sh"
        if init_pid:
            user = opts.user if opts.user is not None else 0
            with contextlib.suppress(KeyError):
                row = lookup(db(init_pid, "passwd"), user, "user", "passwd")
                if row is not None and len(row) > 6 and row[6]:
                    shell = row[6]
    proc = popen(
        c,
        [shell],
        opts,
        stdin=None,
        stdout=None,
        stderr=None,
        text=False,
        encoding=None,
        errors=None,
    )
    main = threading.current_thread() is threading.main_thread()
    saved = []
    if main:
        for sig in (signal.SIGINT, signal.SIGQUIT):
            saved.append((sig, signal.signal(sig, signal.SIG_IGN)))
    try:
        return proc.wait()
    finally:
        for sig, handler in saved:
            signal.signal(sig, handler)
