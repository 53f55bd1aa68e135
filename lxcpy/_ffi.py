"""The thin layer: the one module that touches the cffi extension.

Everything that crosses into C goes through here, so encoding, NULL checks
and buffer sizing can be audited in one file. Functions take and return
Python values; they report failure by their return value (``False``,
``None``, a negative number) and leave the choice of exception to the
caller. Strings are UTF-8 both ways; paths use ``os.fsencode``/``os.fsdecode``.
Nothing here validates names: the Pythonic layer does that before calling.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from lxcpy import (
    _lxc,  # type: ignore[attr-defined,unused-ignore]
    _sigint,
)
from lxcpy._lxc import ffi, lib  # type: ignore[import-not-found,unused-ignore]

# A struct lxcpy_handle* with ffi.gc attached. Opaque to every other module.
Handle = Any

CLONE_KEEPNAME: int = lib.LXC_CLONE_KEEPNAME
CLONE_KEEPMACADDR: int = lib.LXC_CLONE_KEEPMACADDR
CLONE_SNAPSHOT: int = lib.LXC_CLONE_SNAPSHOT
CLONE_MAYBE_SNAPSHOT: int = lib.LXC_CLONE_MAYBE_SNAPSHOT
LIST_DEFINED: int = lib.LXCPY_LIST_DEFINED
LIST_ACTIVE: int = lib.LXCPY_LIST_ACTIVE


# -- encoding -------------------------------------------------------------


def enc(value: str) -> bytes:
    """UTF-8 for C; a NUL would silently cut the string short, so refuse it."""
    data = value.encode("utf-8")
    if b"\0" in data:
        raise ValueError(f"embedded NUL character in {value!r}")
    return data


def enc_path(value: str | os.PathLike[str]) -> bytes:
    data = os.fsencode(value)
    if b"\0" in data:
        raise ValueError(f"embedded NUL character in path {value!r}")
    return data


def _opt(value: bytes | None) -> Any:
    return ffi.NULL if value is None else value


def _str(ptr: Any) -> str | None:
    """Copy a borrowed C string (not freed here)."""
    if ptr == ffi.NULL:
        return None
    return str(ffi.string(ptr).decode("utf-8", "replace"))


def _take_str(ptr: Any) -> str | None:
    """Copy a C string that liblxc malloc'ed for us, and free it."""
    if ptr == ffi.NULL:
        return None
    try:
        return str(ffi.string(ptr).decode("utf-8", "replace"))
    finally:
        lib.lxcpy_free(ptr)


def _argv(args: Sequence[bytes]) -> tuple[Any, list[Any]]:
    """A NULL-terminated char*[]; the second item keeps the strings alive."""
    keep = [ffi.new("char[]", a) for a in args]
    return ffi.new("char *[]", [*keep, ffi.NULL]), keep


def errno() -> int:
    return int(ffi.errno)


# -- module level ---------------------------------------------------------


def version() -> str:
    return _str(lib.lxcpy_version()) or ""


def has_api_extension(name: str) -> bool:
    return bool(lib.lxcpy_has_api_extension(enc(name)))


def config_item_supported(key: str) -> bool:
    return bool(lib.lxcpy_config_item_supported(enc(key)))


def global_config_item(key: str) -> str | None:
    return _str(lib.lxcpy_global_config_item(enc(key)))


def log_setup(level: str) -> int:
    return int(lib.lxcpy_log_setup(enc(level)))


def list_containers(lxcpath: bytes, which: int) -> list[str] | None:
    out = ffi.new("char ***")
    n = lib.lxcpy_list(lxcpath, which, out)
    if n < 0:
        return None
    try:
        return [ffi.string(out[0][i]).decode("utf-8", "replace") for i in range(n)]
    finally:
        lib.lxcpy_free_strv(out[0])


# -- handles --------------------------------------------------------------


def _owned(make: Callable[[], Any]) -> Handle | None:
    """Call ``make`` (shim calls that return a new struct lxcpy_handle*, or
    NULL) and put the gc safety net on what it returns, with Ctrl-C held
    back meanwhile (lxcpy._sigint): a KeyboardInterrupt raised between the
    C call's return and ffi.gc would leak the handle and its log memfd. A
    Ctrl-C that came is raised once the handle is freed."""
    with _sigint.held() as held:
        raw = make()
        h = None if raw == ffi.NULL else ffi.gc(raw, lib.lxcpy_handle_free)
    if held.pending:
        if h is not None:
            handle_free(h)
        raise KeyboardInterrupt
    return h


def handle_new(name: str, lxcpath: bytes) -> Handle | None:
    return _owned(lambda: lib.lxcpy_handle_new(enc(name), lxcpath))


def handle_free(h: Handle) -> None:
    """Release now. ffi.release runs the gc destructor and detaches it in
    one C call: never twice, and no Ctrl-C can fall in between."""
    ffi.release(h)


def log_fd(h: Handle) -> int:
    return int(h.logfd)


def log_attach(h: Handle) -> bool:
    return bool(lib.lxcpy_log_attach(h) == 0)


def error_string(h: Handle) -> tuple[int, str | None]:
    return int(lib.lxcpy_error_num(h.c)), _str(lib.lxcpy_error_string(h.c))


# -- state ----------------------------------------------------------------


def is_defined(h: Handle) -> bool:
    return bool(lib.lxcpy_is_defined(h.c))


def is_running(h: Handle) -> bool:
    return bool(lib.lxcpy_is_running(h.c))


def state(h: Handle) -> str:
    return _str(lib.lxcpy_state(h.c)) or "STOPPED"


def init_pid(h: Handle) -> int:
    return int(lib.lxcpy_init_pid(h.c))


def config_file_name(h: Handle) -> str | None:
    p = lib.lxcpy_config_file_name(h.c)
    if p == ffi.NULL:
        return None
    try:
        return os.fsdecode(ffi.string(p))
    finally:
        lib.lxcpy_free(p)


def config_path(h: Handle) -> str | None:
    p = lib.lxcpy_config_path(h.c)
    return None if p == ffi.NULL else os.fsdecode(ffi.string(p))


# -- configuration ----------------------------------------------------------


def load_config(h: Handle, path: bytes | None) -> bool:
    return bool(lib.lxcpy_load_config(h.c, _opt(path)))


def save_config(h: Handle, path: bytes | None) -> bool:
    return bool(lib.lxcpy_save_config(h.c, _opt(path)))


def clear_config(h: Handle) -> None:
    lib.lxcpy_clear_config(h.c)


def set_config_item(h: Handle, key: str, value: str) -> bool:
    return bool(lib.lxcpy_set_config_item(h.c, enc(key), enc(value)))


def clear_config_item(h: Handle, key: str) -> bool:
    return bool(lib.lxcpy_clear_config_item(h.c, enc(key)))


def _sized(call: Any, h: Handle, key: bytes) -> str | None:
    """liblxc's two-call buffer protocol, in one place: ask for the size,
    then fill a buffer one larger. None when liblxc refuses the key."""
    for _ in range(4):
        n = call(h.c, key, ffi.NULL, 0)
        if n < 0:
            return None
        buf = ffi.new("char[]", n + 1)
        m = call(h.c, key, buf, n + 1)
        if m < 0:
            return None
        if m <= n:  # the value did not grow between the two calls
            return str(ffi.string(buf, m).decode("utf-8", "replace"))
    return None


def get_config_item(h: Handle, key: str) -> str | None:
    return _sized(lib.lxcpy_get_config_item, h, enc(key))


def get_keys(h: Handle, prefix: str | None) -> str | None:
    return _sized(lib.lxcpy_get_keys, h, ffi.NULL if prefix is None else enc(prefix))


def get_running_config_item(h: Handle, key: str) -> str | None:
    return _take_str(lib.lxcpy_get_running_config_item(h.c, enc(key)))


# -- lifecycle ----------------------------------------------------------------


def pid_box() -> Any:
    """An int the shim writes a forked child's pid into (0 until then)."""
    return ffi.new("int *")


def create(
    h: Handle,
    template: str | None,
    backend: str | None,
    args: list[str],
    outfd: int,
    child: Any,
) -> int:
    """Fork a child that creates (its pid into the pid_box ``child``): 0
    or -errno."""
    argv, _keep = _argv([enc(a) for a in args])
    return int(
        lib.lxcpy_create(
            h.c,
            _opt(None if template is None else enc(template)),
            _opt(None if backend is None else enc(backend)),
            0,
            argv,
            outfd,
            child,
        )
    )


def start(h: Handle, use_init: bool, cmd: list[bytes] | None, child: Any) -> int:
    """Fork a child that starts (its pid into the pid_box ``child``): 0 or
    -errno."""
    if cmd is None:
        return int(lib.lxcpy_start(h.c, int(use_init), ffi.NULL, child))
    argv, _keep = _argv(cmd)
    return int(lib.lxcpy_start(h.c, int(use_init), argv, child))


def stop(h: Handle) -> bool:
    return bool(lib.lxcpy_stop(h.c))


def shutdown(h: Handle, timeout: int) -> bool:
    return bool(lib.lxcpy_shutdown(h.c, timeout))


def reboot(h: Handle, timeout: int) -> int:
    return int(lib.lxcpy_reboot(h.c, timeout))


def freeze(h: Handle) -> bool:
    return bool(lib.lxcpy_freeze(h.c))


def unfreeze(h: Handle) -> bool:
    return bool(lib.lxcpy_unfreeze(h.c))


def wait(h: Handle, state: str, timeout: int) -> bool:
    return bool(lib.lxcpy_wait(h.c, enc(state), timeout))


def destroy(h: Handle, with_snapshots: bool) -> bool:
    return bool(lib.lxcpy_destroy(h.c, with_snapshots))


def rename(h: Handle, new_name: str) -> bool:
    return bool(lib.lxcpy_rename(h.c, enc(new_name)))


def clone(
    h: Handle, new_name: str, lxcpath: bytes | None, flags: int, backend: str | None
) -> Handle | None:
    name = enc(new_name)
    path = _opt(lxcpath)
    bdev = _opt(None if backend is None else enc(backend))

    def make() -> Any:
        c = lib.lxcpy_clone(h.c, name, path, flags, bdev)
        return ffi.NULL if c == ffi.NULL else lib.lxcpy_handle_wrap(c)

    return _owned(make)


# -- the other container operations (csrc/ext/container_ops.c) -------------
# cgroups, network, devices, mounts, console, snapshots, checkpoints, fds.
# Every array and string liblxc hands over is copied and freed here.

HAS_MOUNT_API: bool = bool(lib.LXCPY_HAS_MOUNT_API)
HAS_CONSOLE_LOG: bool = bool(lib.LXCPY_HAS_CONSOLE_LOG)
HAS_PIDFD: bool = bool(lib.LXCPY_HAS_PIDFD)
HAS_DEVPTS_FD: bool = bool(lib.LXCPY_HAS_DEVPTS_FD)
HAS_SECCOMP_NOTIFY: bool = bool(lib.LXCPY_HAS_SECCOMP_NOTIFY)


def get_cgroup_item(h: Handle, key: str) -> str | None:
    return _sized(lib.lxcpy_get_cgroup_item, h, enc(key))


def set_cgroup_item(h: Handle, key: str, value: str) -> bool:
    return bool(lib.lxcpy_set_cgroup_item(h.c, enc(key), enc(value)))


def _take_strv(v: Any) -> list[str] | None:
    """Copy a NULL-terminated char** liblxc malloc'ed, and free it all."""
    if v == ffi.NULL:
        return None
    try:
        out = []
        i = 0
        while v[i] != ffi.NULL:
            out.append(ffi.string(v[i]).decode("utf-8", "replace"))
            i += 1
        return out
    finally:
        lib.lxcpy_free_strv(v)


def get_interfaces(h: Handle) -> list[str] | None:
    return _take_strv(lib.lxcpy_get_interfaces(h.c))


def get_ips(h: Handle, interface: str | None, family: str | None, scope: int) -> list[str] | None:
    return _take_strv(
        lib.lxcpy_get_ips(
            h.c,
            _opt(None if interface is None else enc(interface)),
            _opt(None if family is None else enc(family)),
            scope,
        )
    )


def attach_interface(h: Handle, dev: str, dst: str | None) -> bool:
    return bool(lib.lxcpy_attach_interface(h.c, enc(dev), _opt(None if dst is None else enc(dst))))


def detach_interface(h: Handle, dev: str, dst: str | None) -> bool:
    return bool(lib.lxcpy_detach_interface(h.c, enc(dev), _opt(None if dst is None else enc(dst))))


def add_device_node(h: Handle, src: bytes, dst: bytes | None) -> bool:
    return bool(lib.lxcpy_add_device_node(h.c, src, _opt(dst)))


def remove_device_node(h: Handle, src: bytes, dst: bytes | None) -> bool:
    return bool(lib.lxcpy_remove_device_node(h.c, src, _opt(dst)))


def mount(
    h: Handle,
    source: bytes | None,
    target: bytes,
    fstype: str | None,
    flags: int,
    data: str | None,
) -> int:
    return int(
        lib.lxcpy_mount(
            h.c,
            _opt(source),
            target,
            _opt(None if fstype is None else enc(fstype)),
            flags,
            _opt(None if data is None else enc(data)),
        )
    )


def umount(h: Handle, target: bytes, flags: int) -> int:
    return int(lib.lxcpy_umount(h.c, target, flags))


def console_getfd(h: Handle, tty: int) -> tuple[int, int, int]:
    """(pty master fd, reservation socket fd, tty number); fds -1 on failure.
    The caller owns (and must close) both fds."""
    ttynum = ffi.new("int *", tty)
    ptx = ffi.new("int *", -1)
    sock = int(lib.lxcpy_console_getfd(h.c, ttynum, ptx))
    return int(ptx[0]), sock, int(ttynum[0])


def console_log(h: Handle, clear: bool, read: bool, max_bytes: int) -> tuple[int, bytes]:
    """(0 or -errno, the bytes read)."""
    n = ffi.new("uint64_t *", max_bytes)
    data = ffi.new("char **")
    rc = int(lib.lxcpy_console_log(h.c, clear, read, n, data))
    if data[0] == ffi.NULL:
        return rc, b""
    try:
        return rc, bytes(ffi.buffer(data[0], int(n[0]))) if rc == 0 else b""
    finally:
        lib.lxcpy_free(data[0])


def snapshot(h: Handle, comment_file: bytes | None) -> int:
    return int(lib.lxcpy_snapshot(h.c, _opt(comment_file)))


def snapshot_list(h: Handle) -> list[tuple[str, str | None, str | None, str]] | None:
    """Copy each snapshot's (name, comment path, timestamp, lxcpath) out of
    liblxc's array, then free every snapshot and the array at once."""
    out = ffi.new("struct lxc_snapshot **")
    n = int(lib.lxcpy_snapshot_list(h.c, out))
    if n < 0:
        return None
    arr = out[0]
    try:

        def field(i: int, which: int) -> str | None:
            p = lib.lxcpy_snapshot_field(arr, i, which)
            return None if p == ffi.NULL else os.fsdecode(ffi.string(p))

        return [
            (
                field(i, lib.LXCPY_SNAP_NAME) or "",
                field(i, lib.LXCPY_SNAP_COMMENT),
                field(i, lib.LXCPY_SNAP_TIMESTAMP),
                field(i, lib.LXCPY_SNAP_LXCPATH) or "",
            )
            for i in range(n)
        ]
    finally:
        lib.lxcpy_snapshots_free(arr, max(n, 0))


def snapshot_restore(h: Handle, name: str, new_name: str | None) -> bool:
    return bool(
        lib.lxcpy_snapshot_restore(
            h.c, enc(name), _opt(None if new_name is None else enc(new_name))
        )
    )


def snapshot_destroy(h: Handle, name: str) -> bool:
    return bool(lib.lxcpy_snapshot_destroy(h.c, enc(name)))


def snapshot_destroy_all(h: Handle) -> bool:
    return bool(lib.lxcpy_snapshot_destroy_all(h.c))


def checkpoint(h: Handle, directory: bytes, stop: bool, verbose: bool) -> bool:
    return bool(lib.lxcpy_checkpoint(h.c, directory, stop, verbose))


def restore(h: Handle, directory: bytes, verbose: bool) -> int:
    return int(lib.lxcpy_restore(h.c, directory, verbose))


def init_pidfd(h: Handle) -> int:
    return int(lib.lxcpy_init_pidfd(h.c))


def devpts_fd(h: Handle) -> int:
    return int(lib.lxcpy_devpts_fd(h.c))


def seccomp_notify_fd(h: Handle, active: bool) -> int:
    if active:
        return int(lib.lxcpy_seccomp_notify_fd_active(h.c))
    return int(lib.lxcpy_seccomp_notify_fd(h.c))


def may_control(h: Handle) -> bool:
    return bool(lib.lxcpy_may_control(h.c))


# -- attach -------------------------------------------------------------------

NS_MOUNT: int = lib.CLONE_NEWNS
NS_PID: int = lib.CLONE_NEWPID
NS_UTS: int = lib.CLONE_NEWUTS
NS_IPC: int = lib.CLONE_NEWIPC
NS_USER: int = lib.CLONE_NEWUSER
NS_NET: int = lib.CLONE_NEWNET
NS_CGROUP: int = lib.CLONE_NEWCGROUP
STAGE_READY: int = lib.LXCPY_STAGE_READY
STAGE_STDIO: int = lib.LXCPY_STAGE_STDIO
STAGE_CHDIR: int = lib.LXCPY_STAGE_CHDIR
STAGE_EXEC: int = lib.LXCPY_STAGE_EXEC


class AttachOptions(NamedTuple):
    """What ``struct lxcpy_attach_opts`` carries, already validated and
    encoded (-1 = liblxc's default for the numbers)."""

    namespaces: int
    personality: int
    uid: int
    gid: int
    move_to_cgroup: bool
    drop_capabilities: bool
    no_new_privs: bool
    remount_proc_sys: bool
    clear_env: bool
    extra_env: tuple[bytes, ...]
    keep_env: tuple[bytes, ...]
    lsm_label: bytes | None
    groups: list[int] | None
    cwd: bytes | None


def _strv(values: Sequence[bytes], keep: list[Any]) -> Any:
    if not values:
        return ffi.NULL
    argv, strings = _argv(values)
    keep.extend((argv, strings))
    return argv


def _attach_opts(
    o: AttachOptions, lxc_fds: Sequence[int], child_fds: Sequence[int], errfd: int
) -> tuple[Any, list[Any]]:
    keep: list[Any] = []
    p = ffi.new("struct lxcpy_attach_opts *")
    p.namespaces = o.namespaces
    p.personality = o.personality
    p.uid = o.uid
    p.gid = o.gid
    p.move_to_cgroup = int(o.move_to_cgroup)
    p.drop_capabilities = int(o.drop_capabilities)
    p.no_new_privs = int(o.no_new_privs)
    p.remount_proc_sys = int(o.remount_proc_sys)
    p.clear_env = int(o.clear_env)
    p.extra_env = _strv(o.extra_env, keep)
    p.keep_env = _strv(o.keep_env, keep)
    if o.lsm_label is not None:
        label = ffi.new("char[]", o.lsm_label)
        keep.append(label)
        p.lsm_label = label
    if o.groups is None:
        p.ngroups = -1
    else:
        groups = ffi.new("unsigned int[]", max(1, len(o.groups)))
        for i, g in enumerate(o.groups):
            groups[i] = g
        keep.append(groups)
        p.ngroups = len(o.groups)
        p.groups = groups
    for i in range(3):
        p.lxc_fds[i] = lxc_fds[i]
        p.child_fds[i] = child_fds[i]
    if o.cwd is not None:
        cwd = ffi.new("char[]", o.cwd)
        keep.append(cwd)
        p.cwd = cwd
    p.errfd = errfd
    return p, keep


def attach_run(
    h: Handle,
    o: AttachOptions,
    lxc_fds: Sequence[int],
    child_fds: Sequence[int],
    errfd: int,
    argv: list[bytes],
    init_pid: int = 0,
    init_id: tuple[int, int] = (0, 0),
) -> tuple[int, int]:
    """Execute argv (argv[0] searched in PATH) attached to the container
    (whose init is init_pid, init_id the (st_dev, st_ino) of a pidfd of it,
    if known: what a failed attach leaves of it is closed). Returns (0, pid)
    or (-errno, -1). The GIL is released
    meanwhile."""
    p, _keep = _attach_opts(o, lxc_fds, child_fds, errfd)
    p.init_pid = init_pid
    p.init_dev, p.init_ino = init_id
    cargv, _strings = _argv(argv)
    pid = ffi.new("int *")
    rc = lib.lxcpy_attach_run(h.c, p, cargv[0], cargv, pid)
    return int(rc), int(pid[0])


def attach_call(
    h: Handle,
    o: AttachOptions,
    lxc_fds: Sequence[int],
    child_fds: Sequence[int],
    errfd: int,
    child: Callable[[], int],
    init_pid: int = 0,
    init_id: tuple[int, int] = (0, 0),
) -> tuple[int, int]:
    """Fork a child attached to the container that calls ``child()``
    (which should not return: it ends with os._exit). Returns (0, pid) or
    (-errno, -1)."""
    p, _keep = _attach_opts(o, lxc_fds, child_fds, errfd)
    p.init_pid = init_pid
    p.init_dev, p.init_ino = init_id
    handle = ffi.new_handle(child)
    pid = ffi.new("int *")
    rc = lib.lxcpy_attach_call(h.c, p, handle, pid)
    return int(rc), int(pid[0])


@ffi.def_extern()  # type: ignore[untyped-decorator,misc,unused-ignore]
def lxcpy_py_child(payload: Any) -> int:
    """Runs in the attached child (see attach_call)."""
    child: Callable[[], int] = ffi.from_handle(payload)
    return child()


def c_environ() -> dict[bytes, bytes]:
    """The process's C environment (which liblxc set up in an attached
    child; os.environ does not see it)."""
    env = lib.lxcpy_environ()
    out: dict[bytes, bytes] = {}
    if env == ffi.NULL:
        return out
    i = 0
    while env[i] != ffi.NULL:
        key, sep, value = ffi.string(env[i]).partition(b"=")
        if sep and key:
            out[key] = value
        i += 1
    return out


def attach_last_guard() -> int:
    return int(lib.lxcpy_attach_last_guard())


def attach_force_fd_guard(mode: int) -> None:
    """Test hook: 1 uses the fd-snapshot fallback instead of the guard
    thread; 2 disables the guard (liblxc's leak shows); 0 is normal."""
    lib.lxcpy_attach_force_fd_guard(mode)


# -- the helper protocol ----------------------------------------------------
# Requests are packed by C (csrc/hproto.c), the code lxcpy-helper unpacks
# them with; Python moves the bytes and the fds (lxcpy._helper).

HELPER_PATH: str = os.path.join(os.path.dirname(os.path.abspath(_lxc.__file__)), "lxcpy-helper")
HREP_DONE: int = lib.LXCPY_HREP_DONE
HREP_PONG: int = lib.LXCPY_HREP_PONG
HREP_STARTED: int = lib.LXCPY_HREP_STARTED
HMAX_MSG: int = int(lib.lxcpy_hmax_msg())
_HREPLY_SIZE: int = ffi.sizeof("struct lxcpy_hreply")


def _packed(pack: Any, size: int, *args: Any) -> bytes | None:
    """Run one lxcpy_hpack_* into a buffer; None when the request is too
    large for the protocol (the caller then works in-process)."""
    cap = min(size + 256, HMAX_MSG)
    buf = ffi.new("char[]", cap)
    n = int(pack(buf, cap, *args))
    if n < 0:
        return None
    return bytes(ffi.buffer(buf, n))


def _strv_size(args: Sequence[bytes] | None) -> int:
    return sum(len(a) + 1 for a in args or ())


def hpack_ping() -> bytes:
    msg = _packed(lib.lxcpy_hpack_ping, 0)
    assert msg is not None
    return msg


def hpack_start(name: str, lxcpath: bytes, use_init: bool, cmd: list[bytes] | None) -> bytes | None:
    n = enc(name)
    keep: Any = ffi.NULL
    if cmd is not None:
        keep, _strings = _argv(cmd)
    return _packed(
        lib.lxcpy_hpack_start,
        len(n) + len(lxcpath) + _strv_size(cmd),
        n,
        lxcpath,
        int(use_init),
        keep,
    )


def hpack_create(
    name: str, lxcpath: bytes, template: str | None, backend: str | None, args: list[str]
) -> bytes | None:
    n, t, b = enc(name), _enc_opt(template), _enc_opt(backend)
    argv = [enc(a) for a in args]
    arr, _strings = _argv(argv)
    return _packed(
        lib.lxcpy_hpack_create,
        len(n) + len(lxcpath) + len(t or b"") + len(b or b"") + _strv_size(argv),
        n,
        lxcpath,
        _opt(t),
        _opt(b),
        0,
        arr,
    )


def hpack_attach(
    name: bytes,
    lxcpath: bytes,
    o: AttachOptions,
    lxc_fds: Sequence[int],
    child_fds: Sequence[int],
    errfd: int,
    argv: list[bytes],
    logfd: int,
) -> tuple[bytes, list[int]] | None:
    """The ATTACH request hsend_attach sends, and the fds that go with it
    (after the reply socket); None when it is too large for the protocol.
    (For tests of the helper's checks; lxcpy itself packs and sends in
    one call.)"""
    p, _keep = _attach_opts(o, lxc_fds, child_fds, errfd)
    cargv, _strings = _argv(argv)
    fds = ffi.new("int[]", lib.LXCPY_HATTACH_FDS)
    nfds = ffi.new("int *")
    buf = ffi.new("char[]", HMAX_MSG)
    rc = int(
        lib.lxcpy_hpack_attach(
            buf, HMAX_MSG, name, lxcpath, p, cargv, logfd, fds, lib.LXCPY_HATTACH_FDS, nfds
        )
    )
    if rc < 0:
        return None
    return bytes(ffi.buffer(buf, rc)), [int(fds[i]) for i in range(nfds[0])]


def hsend(ctl: int, msg: bytes, fds: Sequence[int]) -> int:
    """Send a packed request with a new reply socket and fds: our end of
    the reply socket (an fd, CLOEXEC), or -errno."""
    return int(lib.lxcpy_hsend(ctl, msg, len(msg), list(fds), len(fds)))


def hsend_attach(
    ctl: int,
    name: bytes,
    lxcpath: bytes,
    o: AttachOptions,
    lxc_fds: Sequence[int],
    child_fds: Sequence[int],
    errfd: int,
    argv: list[bytes],
    logfd: int,
) -> int:
    """Pack an ATTACH request (as hpack_attach) and send it (as hsend):
    our end of the reply socket, or -errno (-E2BIG: too large for the
    protocol; the caller then attaches in-process)."""
    p, _keep = _attach_opts(o, lxc_fds, child_fds, errfd)
    cargv, _strings = _argv(argv)
    return int(lib.lxcpy_hsend_attach(ctl, name, lxcpath, p, cargv, logfd))


def hrecv(fd: int, nonblock: bool) -> tuple[int, tuple[int, int, int, int] | None, int]:
    """One reply: (1, (err, kind, status, pid), the fd it carried or -1);
    (0, None, -1) at EOF; (-errno, None, -1), -EAGAIN when nonblock and
    nothing came yet, -EINTR when a signal came."""
    r = ffi.new("struct lxcpy_hreply *")
    passed = ffi.new("int *")
    rc = int(lib.lxcpy_hrecv(fd, int(nonblock), r, passed))
    if rc != 1:
        return rc, None, -1
    return 1, (int(r.err), int(r.kind), int(r.status), int(r.pid)), int(passed[0])


def hreply(data: bytes) -> tuple[int, int, int, int] | None:
    """(err, kind, status, pid) of one reply; None when it is not one."""
    if len(data) != _HREPLY_SIZE:
        return None
    r = ffi.new("struct lxcpy_hreply *")
    ffi.memmove(r, data, _HREPLY_SIZE)
    return int(r.err), int(r.kind), int(r.status), int(r.pid)


def _enc_opt(value: str | None) -> bytes | None:
    return None if value is None else enc(value)
