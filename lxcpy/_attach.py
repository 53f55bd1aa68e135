"""Running things inside a container: options, stdio plumbing, and the
attach call itself, behind ``Container.run/popen/attach/attach_shell``.

The program's child runs no Python: the shim's exec function puts the
caller's fds in place, changes directory and calls execvp, and reports on a
CLOEXEC error pipe how far it got ({stage, errno} pairs; READY first). EOF
after READY alone means the program was executed; no READY at all means
liblxc failed while setting the child up (its reason is in the container's
log, which the child writes too).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import io
import os
import signal
import struct
import subprocess
import sys
import threading
import traceback
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn, TypedDict

from lxcpy import _attachable, _ffi, _helper, _validate
from lxcpy._check import LogCapture, Operation
from lxcpy.errors import AttachError, NotRunningError
from lxcpy.namespace import Namespace
from lxcpy.process import Process

if TYPE_CHECKING:
    from lxcpy.container import Container

PIPE = subprocess.PIPE
STDOUT = subprocess.STDOUT
DEVNULL = subprocess.DEVNULL

UserSpec = int | str

_PAIR = struct.Struct("=ii")
_PIPE_SIZE = 1 << 20

# The personalities liblxc knows by name (lxc.arch).
PERSONALITIES = {"linux": 0x0000, "linux64": 0x0000, "x86_64": 0x0000, "amd64": 0x0000,
                 "linux32": 0x0008, "x86": 0x0008, "i386": 0x0008, "i686": 0x0008}


# -- options --------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    """The attach options, validated; user and group names still unresolved."""

    env: tuple[bytes, ...] = ()
    clear_env: bool = False
    keep_env: tuple[bytes, ...] = ()
    cwd: bytes | None = None
    user: UserSpec | None = None
    group: UserSpec | None = None
    groups: tuple[UserSpec, ...] | None = None
    namespaces: int = -1
    personality: int = -1
    move_to_cgroup: bool = True
    drop_capabilities: bool = True
    no_new_privs: bool = False
    lsm_label: bytes | None = None
    remount_proc_sys: bool = False


def _flag(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{what} must be bool, not {type(value).__name__}")
    return value


def _bytes(value: Any, what: str) -> bytes:
    """str, bytes or PathLike, encoded like os.fsencode; no NUL."""
    if isinstance(value, (str, bytes, os.PathLike)):
        data = os.fsencode(value)
    else:
        raise TypeError(f"{what} must be str, bytes or os.PathLike, not {type(value).__name__}")
    if b"\0" in data:
        raise ValueError(f"{what} must not contain a NUL character: {value!r}")
    return data


def _env_key(key: Any, what: str) -> bytes:
    if not isinstance(key, (str, bytes)):
        raise TypeError(f"{what} must be str or bytes, not {type(key).__name__}")
    data = _bytes(key, what)
    if not data or b"=" in data:
        raise ValueError(f"invalid {what} (empty, or contains '='): {key!r}")
    return data


def _id_spec(value: Any, what: str) -> UserSpec:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError(f"{what} must be an int or a name, not {type(value).__name__}")
    if isinstance(value, int):
        if not 0 <= value < 0xFFFFFFFF:
            raise ValueError(f"{what} out of range: {value}")
        return value
    _validate.text(value, what)
    if not value or ":" in value or "\n" in value:
        raise ValueError(f"invalid {what}: {value!r}")
    return value


class AttachOptions(TypedDict, total=False):
    """The attach options that run(), popen(), attach() and attach_shell()
    take as keywords (see Container.run)."""

    env: Mapping[str, str] | None
    clear_env: bool
    keep_env: Sequence[str]
    cwd: str | os.PathLike[str] | None
    user: int | str | None
    group: int | str | None
    groups: Sequence[int | str] | None
    namespaces: Namespace | None
    personality: int | str | None
    move_to_cgroup: bool
    drop_capabilities: bool
    no_new_privs: bool
    lsm_label: str | None
    remount_proc_sys: bool


def options(
    *,
    env: Mapping[Any, Any] | None = None,
    clear_env: bool = False,
    keep_env: Iterable[Any] = (),
    cwd: Any = None,
    user: Any = None,
    group: Any = None,
    groups: Iterable[Any] | None = None,
    namespaces: Any = None,
    personality: Any = None,
    move_to_cgroup: bool = True,
    drop_capabilities: bool = True,
    no_new_privs: bool = False,
    lsm_label: Any = None,
    remount_proc_sys: bool = False,
) -> Options:
    """Check every option (TypeError/ValueError) before anything runs."""
    extra: list[bytes] = []
    if env is not None:
        if not isinstance(env, Mapping):
            raise TypeError(f"env must be a mapping, not {type(env).__name__}")
        for key, value in env.items():
            k = _env_key(key, "env key")
            if not isinstance(value, (str, bytes)):
                raise TypeError(f"env value of {key!r} must be str or bytes")
            extra.append(k + b"=" + _bytes(value, f"env value of {key!r}"))
    if isinstance(keep_env, (str, bytes)) or not isinstance(keep_env, Iterable):
        raise TypeError("keep_env must be a sequence of variable names")
    keep = tuple(_env_key(k, "keep_env name") for k in keep_env)
    wd = None
    if cwd is not None:
        wd = _bytes(cwd, "cwd")
        if not wd:
            raise ValueError("cwd must not be empty")
    grps: tuple[UserSpec, ...] | None = None
    if groups is not None:
        if isinstance(groups, (str, bytes)) or not isinstance(groups, Iterable):
            raise TypeError("groups must be a sequence of group ids or names")
        grps = tuple(_id_spec(g, "group in groups") for g in groups)
    ns = -1
    if namespaces is not None:
        if isinstance(namespaces, bool) or not isinstance(namespaces, int):
            raise TypeError(f"namespaces must be lxcpy.Namespace flags, not {namespaces!r}")
        ns = int(namespaces)
        if ns & ~int(Namespace.MOUNT | Namespace.PID | Namespace.UTS | Namespace.IPC
                     | Namespace.USER | Namespace.NET | Namespace.CGROUP):
            raise ValueError(f"unknown namespace flags: {namespaces!r}")
    pers = -1
    if personality is not None:
        if isinstance(personality, str):
            if personality not in PERSONALITIES:
                raise ValueError(f"unknown personality {personality!r}")
            pers = PERSONALITIES[personality]
        elif isinstance(personality, int) and not isinstance(personality, bool):
            if not 0 <= personality < 1 << 32:
                raise ValueError(f"personality out of range: {personality}")
            pers = personality
        else:
            raise TypeError("personality must be an int or a name such as 'linux32'")
    label = None
    if lsm_label is not None:
        label = _ffi.enc(_validate.text(lsm_label, "lsm_label"))
        if not label:
            raise ValueError("lsm_label must not be empty")
    return Options(
        env=tuple(extra),
        clear_env=_flag(clear_env, "clear_env"),
        keep_env=keep,
        cwd=wd,
        user=None if user is None else _id_spec(user, "user"),
        group=None if group is None else _id_spec(group, "group"),
        groups=grps,
        namespaces=ns,
        personality=pers,
        move_to_cgroup=_flag(move_to_cgroup, "move_to_cgroup"),
        drop_capabilities=_flag(drop_capabilities, "drop_capabilities"),
        no_new_privs=_flag(no_new_privs, "no_new_privs"),
        lsm_label=label,
        remount_proc_sys=_flag(remount_proc_sys, "remount_proc_sys"),
    )


DEFAULT = options()


def argv(args: Any) -> list[bytes]:
    """A non-empty sequence of str, bytes or PathLike, without NUL."""
    if isinstance(args, (str, bytes, os.PathLike)):
        raise TypeError(
            "args must be a sequence such as ['ls', '-l'] (no shell parses a string)"
        )
    if not isinstance(args, Iterable):
        raise TypeError(f"args must be a sequence, not {type(args).__name__}")
    out = [_bytes(a, "item of args") for a in args]
    if not out:
        raise ValueError("args must not be empty")
    if not out[0]:
        raise ValueError("the program name must not be empty")
    return out


# -- users and groups, from the container's own files ----------------------------


def _db(init_pid: int, name: str) -> list[list[str]]:
    path = f"/proc/{init_pid}/root/etc/{name}"
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return [ln.rstrip("\n").split(":") for ln in f if ln.strip() and ln[0] != "#"]
    except FileNotFoundError:
        return []


def _lookup(rows: list[list[str]], spec: UserSpec, what: str, file: str) -> list[str] | None:
    for row in rows:
        if len(row) < 3:
            continue
        if (isinstance(spec, str) and row[0] == spec) or (
            isinstance(spec, int) and row[2] == str(spec)
        ):
            return row
    if isinstance(spec, str):
        raise KeyError(f"{what} {spec!r} not found in the container's /etc/{file}")
    return None


# Resolved options that name no user or group: the same every time.
_resolved: dict[Options, _ffi.AttachOptions] = {}


def resolve(o: Options, init_pid: int) -> _ffi.AttachOptions:
    """Numbers for user/group names, read in the container's /etc/passwd
    and /etc/group (through /proc/<init pid>/root). A user's primary group
    is used when no group is given."""
    if o.user is None and o.group is None and o.groups is None:
        done = _resolved.get(o)
        if done is None:
            done = _resolve(o, init_pid)
            if len(_resolved) >= 64:
                _resolved.clear()
            _resolved[o] = done
        return done
    return _resolve(o, init_pid)


def _resolve(o: Options, init_pid: int) -> _ffi.AttachOptions:
    uid = gid = -1
    if o.user is not None:
        row = _lookup(_db(init_pid, "passwd"), o.user, "user", "passwd")
        uid = o.user if isinstance(o.user, int) else int(row[2]) if row else -1
        if row is not None and len(row) > 3 and row[3].isdigit():
            gid = int(row[3])
    if o.group is not None or o.groups:
        grp = _db(init_pid, "group")
    if o.group is not None:
        row = _lookup(grp, o.group, "group", "group")
        gid = o.group if isinstance(o.group, int) else int(row[2]) if row else -1
    groups = None
    if o.groups is not None:
        groups = []
        for g in o.groups:
            row = _lookup(grp, g, "group", "group") if isinstance(g, str) else None
            groups.append(g if isinstance(g, int) else int(row[2]) if row else 0)
    return _ffi.AttachOptions(
        namespaces=o.namespaces,
        personality=o.personality,
        uid=uid,
        gid=gid,
        move_to_cgroup=o.move_to_cgroup,
        drop_capabilities=o.drop_capabilities,
        no_new_privs=o.no_new_privs,
        remount_proc_sys=o.remount_proc_sys,
        clear_env=o.clear_env,
        extra_env=o.env,
        keep_env=o.keep_env,
        lsm_label=o.lsm_label,
        groups=groups,
        cwd=o.cwd,
    )


# -- stdio ----------------------------------------------------------------------------


def check_std(value: Any, what: str) -> None:
    """What subprocess accepts: None, PIPE, DEVNULL, STDOUT (stderr only),
    an fd, or an object with fileno()."""
    if value is None:
        return
    if isinstance(value, bool):
        raise TypeError(f"{what} must be None, PIPE, DEVNULL, an fd or a file object")
    if isinstance(value, int):
        if value == STDOUT and what != "stderr":
            raise ValueError(f"STDOUT is only valid for stderr, not {what}")
        if value < 0 and value not in (PIPE, DEVNULL, STDOUT):
            raise ValueError(f"invalid {what}: {value}")
        return
    if not callable(getattr(value, "fileno", None)):
        raise TypeError(f"{what} must be None, PIPE, DEVNULL, an fd or a file object")


# lxcpy's own fds (pipes, duplicates) as (fd, st_dev, st_ino): a Python
# child closes those that are still the same files, so that it does not
# hold another attach's pipes open for its whole life.
_own_fds: dict[int, tuple[int, int]] = {}
_own_lock = threading.Lock()


def _own(*fds: int) -> None:
    with _own_lock:
        for fd in fds:
            with contextlib.suppress(OSError):
                st = os.fstat(fd)
                _own_fds[fd] = (st.st_dev, st.st_ino)


def _disown(fd: int) -> None:
    with _own_lock:
        _own_fds.pop(fd, None)


def _close(fd: int) -> None:
    _disown(fd)
    with contextlib.suppress(OSError):
        os.close(fd)


def _high(fd: int) -> int:
    """fd, moved to >= 3 if it is below (liblxc dup2()s onto 0-2)."""
    if fd >= 3:
        return fd
    high = _dupfd(fd)
    os.close(fd)
    return high


def _dupfd(fd: int) -> int:
    import fcntl

    return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)


def _pipe() -> tuple[int, int]:
    r, w = os.pipe()
    r, w = _high(r), _high(w)
    _own(r, w)
    return r, w


def _grow(fd: int) -> None:
    """Bigger pipes: fewer wake-ups for large outputs (best effort)."""
    import fcntl

    with contextlib.suppress(OSError, AttributeError):
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, _PIPE_SIZE)


class Plumbing:
    """The fds of one attach: liblxc's (own pipes, -1 for /dev/null), the
    child's (caller fds the shim puts on 0-2, -1 for none), the parent's
    pipe ends, and the fds to close once the child exists."""

    def __init__(self) -> None:
        self.lxc = [-1, -1, -1]
        self.child = [-1, -1, -1]
        self.parent: list[int | None] = [None, None, None]
        self.temp: list[int] = []
        # Duplicates of the caller's own 0-2: not lxcpy's pipes, so not
        # worth registering (see _own_fds).
        self.inherit: list[int] = []

    def close_temp(self) -> None:
        temp, self.temp = self.temp, []
        for fd in temp:
            _close(fd)
        inherit, self.inherit = self.inherit, []
        for fd in inherit:
            os.close(fd)

    def close_all(self) -> None:
        self.close_temp()
        for i, fd in enumerate(self.parent):
            if fd is not None:
                _close(fd)
                self.parent[i] = None


def _caller_fd(fd: int, what: str) -> int:
    """A CLOEXEC duplicate >= 3 of a caller's fd, for the child's use."""
    try:
        return _dupfd(fd)
    except OSError as e:
        raise OSError(e.errno, f"{what}: bad file descriptor {fd}") from None


def plumb(stdin: Any, stdout: Any, stderr: Any) -> Plumbing:
    p = Plumbing()
    try:
        for i, spec in enumerate((stdin, stdout, stderr)):
            what = ("stdin", "stdout", "stderr")[i]
            if spec == STDOUT and i == 2:
                p.lxc[2], p.child[2] = p.lxc[1], p.child[1]
            elif spec is None:
                try:
                    fd = _dupfd(i)
                except OSError:
                    continue  # the caller has no such fd: /dev/null
                p.inherit.append(fd)
                p.child[i] = fd
            elif spec == PIPE:
                r, w = _pipe()
                if i == 0:
                    p.parent[0], p.lxc[0] = w, r
                else:
                    p.parent[i], p.lxc[i] = r, w
                    _grow(r)
                p.temp.append(p.lxc[i])
            elif spec == DEVNULL:
                pass
            else:
                fd = spec if isinstance(spec, int) else int(spec.fileno())
                if i > 0 and hasattr(spec, "flush"):
                    with contextlib.suppress(OSError, ValueError):
                        spec.flush()
                dup = _caller_fd(fd, what)
                p.temp.append(dup)
                p.child[i] = dup
        _own(*p.temp)
    except BaseException:
        p.close_all()
        raise
    return p


# -- the attach ---------------------------------------------------------------------


class _Lease:
    """A liblxc handle used by one attach at a time, never by another
    thread meanwhile: liblxc's forked children release the handle
    (lxc_container_put takes its lock), so a lock on it held by another
    thread at fork time would deadlock them. Each has its own log."""

    __slots__ = ("capture", "handle")

    def __init__(self, c: Container) -> None:
        h = _ffi.handle_new(c.name, _ffi.enc_path(c.lxcpath))
        if h is None:
            err = _ffi.errno()
            raise AttachError(
                f"liblxc could not open a handle: {os.strerror(err)}",
                container=c.name, operation="attach", errno=err,
            )
        self.handle = h
        self.capture = LogCapture(_ffi.log_fd(h))


_pools: weakref.WeakKeyDictionary[Container, list[_Lease]] = weakref.WeakKeyDictionary()
_pools_lock = threading.Lock()


def _lease(c: Container) -> _Lease:
    with _pools_lock:
        pool = _pools.get(c)
        if pool:
            return pool.pop()
    return _Lease(c)


def _unlease(c: Container, lease: _Lease) -> None:
    with _pools_lock:
        if not c.closed:
            _pools.setdefault(c, []).append(lease)
            return
    _ffi.handle_free(lease.handle)


def release(c: Container) -> None:
    """Free the attach handles of a Container being closed, and what it
    knew of the container's init."""
    _attachable.release(c)
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
) -> Process:
    """Attach ``target`` (an argv to execute, or a Python child function)
    and return its Process once it runs (the program executed)."""
    for value, what in ((stdin, "stdin"), (stdout, "stdout"), (stderr, "stderr")):
        check_std(value, what)
    init_pid = _attachable.check(c)
    if opts.user is not None or opts.group is not None or opts.groups:
        init_pid = init_pid or c.init_pid or 0
        if init_pid <= 0:
            raise NotRunningError("the container is not running", container=c.name,
                                  operation="attach")
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
    try:
        err_r, err_w = _pipe()
        lease = _lease(c)
        try:
            op = Operation(lease.capture, lease.handle, c.name, "attach")
            with op:
                h = op.handle
                sent = None
                if not callable(target) and _helper.enabled():
                    sent = _helper_attach(op, functools.partial(
                        _ffi.hsend_attach, name=_ffi.enc(c.name), lxcpath=_ffi.enc_path(c.lxcpath),
                        o=resolved, lxc_fds=p.lxc, child_fds=p.child, errfd=err_w, argv=target,
                        logfd=_ffi.log_fd(h)))
                if sent is not None:
                    rc, pid, remote = sent
                elif callable(target):
                    rc, pid = _ffi.attach_call(h, resolved, p.lxc, p.child, err_w, target)
                else:
                    rc, pid = _ffi.attach_run(h, resolved, p.lxc, p.child, err_w, target)
                _close(err_w)
                err_w = -1
                p.close_temp()
                if rc < 0:
                    op.fail("liblxc could not attach a process to the container")
                reports = _read_reports(err_r)
                stages = [s for s, _ in reports]
                if STAGE_READY not in stages:
                    code = _reap(pid, remote)
                    op.fail(f"liblxc could not set up the attached process ({_how(code)})")
                failed = [(s, e) for s, e in reports if s != STAGE_READY]
                if failed:
                    _reap(pid, remote)
                    _raise_child_error(*failed[0], target, opts)
        finally:
            _unlease(c, lease)
    except BaseException:
        p.close_all()
        if remote is not None:
            remote.close()
        raise
    finally:
        for fd in (err_r, err_w):
            if fd >= 0:
                _close(fd)
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


def _helper_attach(
    op: Operation, send: Callable[[int], int]
) -> tuple[int, int, _helper.Remote | None] | None:
    """Have lxcpy's helper attach (it runs the liblxc calls, so their forks
    copy a small process, not this one). (rc, pid, remote); None when the
    request is too large for the helper (a huge environment): the caller
    then attaches in-process."""
    try:
        sock, (err, kind, _status, pid), pidfd, h = _helper.open_request(send)
    except _helper.HelperLost as e:
        op.fail(f"lxcpy's helper process failed: {e}")
    except OSError as e:
        if e.errno == errno.E2BIG:
            return None
        raise
    if err < 0 or kind != _ffi.HREP_STARTED:
        os.close(sock)
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


# -- the Python child of attach(func) ---------------------------------------------------


def _exit_code(value: Any) -> int:
    """sys.exit()'s rules: None -> 0, an int -> itself, anything else is
    printed to stderr -> 1."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value & 0xFF
    with contextlib.suppress(Exception):
        print(value, file=sys.stderr)
    return 1


def _fresh_stdio() -> None:
    """sys.stdin/stdout/stderr on the child's fds 0-2 (the caller's may
    have been replaced by objects that do not write to fd 1 and 2)."""

    def stream(fd: int, mode: str, old: Any, errors: str) -> io.TextIOWrapper:
        enc = getattr(old, "encoding", None) or "utf-8"
        raw = io.FileIO(fd, mode, closefd=False)
        buffered: Any = io.BufferedWriter(raw) if mode == "w" else io.BufferedReader(raw)
        return io.TextIOWrapper(buffered, encoding=enc, errors=errors,
                                line_buffering=(mode == "w" and fd == 2))

    sys.stdin = stream(0, "r", sys.stdin, "strict")
    sys.stdout = stream(1, "w", sys.stdout, "strict")
    sys.stderr = stream(2, "w", sys.stderr, "backslashreplace")
    for name in ("stdin", "stdout", "stderr"):
        setattr(sys, f"__{name}__", getattr(sys, name))


def _close_inherited(own: dict[int, tuple[int, int]]) -> None:
    for fd, ident in own.items():
        if fd < 3:
            continue
        with contextlib.suppress(OSError):
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) == ident:
                os.close(fd)


def _sync_environ() -> None:
    """Make os.environ what liblxc set up in the child (the C environ)."""
    env = _ffi.c_environ()
    for key in list(os.environb):
        if key not in env:
            del os.environb[key]
    for key, value in env.items():
        if os.environb.get(key) != value:
            os.environb[key] = value


def child_function(
    func: Callable[..., Any], args: Sequence[Any], kwargs: Mapping[str, Any]
) -> Callable[[], int]:
    """What the attached child runs: func(*args, **kwargs), its stdio
    flushed, then os._exit with its status."""

    def child() -> int:
        status = 1
        try:
            with _own_lock:
                own = dict(_own_fds)
            _close_inherited(own)
            _sync_environ()
            _fresh_stdio()
            try:
                status = _exit_code(func(*args, **kwargs))
            except SystemExit as e:
                status = _exit_code(e.code)
            except BaseException:
                traceback.print_exc()
                status = 1
        except BaseException:
            with contextlib.suppress(BaseException):
                traceback.print_exc()
        finally:
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(BaseException):
                    stream.flush()
            os._exit(status)

    return child


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
) -> Process:
    cmd = argv(args)
    text = _text_mode(text, encoding, errors)
    return spawn(c, cmd, args, opts, stdin, stdout, stderr, text, encoding, errors)


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
    with popen(c, args, opts, stdin=stdin, stdout=stdout, stderr=stderr, text=text,
               encoding=encoding, errors=errors) as proc:
        try:
            out, err = proc.communicate(input, timeout=limit)
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
    init_pid = _attachable.check(c) or c.init_pid
    if shell is None:
        shell = "/bin/sh"
        if init_pid:
            user = opts.user if opts.user is not None else 0
            with contextlib.suppress(KeyError):
                row = _lookup(_db(init_pid, "passwd"), user, "user", "passwd")
                if row is not None and len(row) > 6 and row[6]:
                    shell = row[6]
    proc = popen(c, [shell], opts, stdin=None, stdout=None, stderr=None, text=False,
                 encoding=None, errors=None)
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
