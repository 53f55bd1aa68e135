"""Attach (csrc/decl/attach.decl.h): the options struct, running a program
(no Python in the child) or a Python callable attached, and the attached
child's C environment."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from lxcpy._ffi._lib import ffi, lib
from lxcpy._ffi.encoding import _argv
from lxcpy._ffi.handles import Handle

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
    o: AttachOptions, liblxc_stdio: Sequence[int], child_stdio: Sequence[int], errfd: int
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
        p.liblxc_stdio[i] = liblxc_stdio[i]
        p.child_stdio[i] = child_stdio[i]
    if o.cwd is not None:
        cwd = ffi.new("char[]", o.cwd)
        keep.append(cwd)
        p.cwd = cwd
    p.errfd = errfd
    return p, keep


def attach_run(
    h: Handle,
    o: AttachOptions,
    liblxc_stdio: Sequence[int],
    child_stdio: Sequence[int],
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
    p, _keep = _attach_opts(o, liblxc_stdio, child_stdio, errfd)
    p.init_pid = init_pid
    p.init_dev, p.init_ino = init_id
    cargv, _strings = _argv(argv)
    pid = ffi.new("int *")
    rc = lib.lxcpy_attach_run(h.c, p, cargv[0], cargv, pid)
    return int(rc), int(pid[0])


def attach_call(
    h: Handle,
    o: AttachOptions,
    liblxc_stdio: Sequence[int],
    child_stdio: Sequence[int],
    errfd: int,
    child: Callable[[], int],
    init_pid: int = 0,
    init_id: tuple[int, int] = (0, 0),
) -> tuple[int, int]:
    """Fork a child attached to the container that calls ``child()``
    (which should not return: it ends with os._exit). Returns (0, pid) or
    (-errno, -1)."""
    p, _keep = _attach_opts(o, liblxc_stdio, child_stdio, errfd)
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
