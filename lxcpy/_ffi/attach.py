"""Attach (csrc/decl/attach.decl.h): the options struct (filled member by
member after each member's C type: what the options are is
lxcpy._attach_options's table and csrc/common/attach_table.h), running a program
(no Python in the child) or a Python callable attached, and the attached
child's C environment."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

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
STAGE_CHDIR: int = lib.LXCPY_STAGE_CHDIR
STAGE_EXEC: int = lib.LXCPY_STAGE_EXEC


def _option_members() -> tuple[str, ...]:
    out: list[str] = []
    while (name := lib.lxcpy_attach_option(len(out))) != ffi.NULL:
        out.append(ffi.string(name).decode())
    return tuple(out)


# The attach options' members of struct lxcpy_attach_opts, in the order of
# their one list (csrc/common/attach_table.h).
ATTACH_OPTION_MEMBERS: tuple[str, ...] = _option_members()

# An option's value for _attach_opts, by its member's C type: an int or a
# bool (int32_t, int64_t), bytes or None (char *: NULL), a sequence of
# bytes (char **: NULL when empty), a sequence of ids (0 .. 2**32 - 2) or
# None (struct lxcpy_int_vec: n == -1).
AttachValue = int | bytes | Sequence[bytes] | Sequence[int] | None
# The options, validated and resolved (lxcpy._attach_options.resolve), by
# member: every one of ATTACH_OPTION_MEMBERS.
AttachFields = Mapping[str, AttachValue]


def _members_by_type() -> dict[str, tuple[str, ...]]:
    """ATTACH_OPTION_MEMBERS by how _attach_opts sets them, after their C
    type: "int" (int32_t, int64_t: an int or a bool), "str" (char *),
    "strv" (char **), "ids" (struct lxcpy_int_vec)."""
    kinds = {
        ffi.typeof("char *"): "str",
        ffi.typeof("char * *"): "strv",
        ffi.typeof("struct lxcpy_int_vec"): "ids",
    }
    fields = dict(ffi.typeof("struct lxcpy_attach_opts").fields)
    out: dict[str, list[str]] = {"int": [], "str": [], "strv": [], "ids": []}
    for member in ATTACH_OPTION_MEMBERS:
        ctype = fields[member].type
        kind = "int" if ctype.kind == "primitive" else kinds.get(ctype)
        if kind is None:
            raise TypeError(f"no attach option can have the C type {ctype.cname} ({member})")
        out[kind].append(member)
    return {kind: tuple(members) for kind, members in out.items()}


_BY_TYPE = _members_by_type()


def _strv(values: Sequence[bytes], keep: list[Any]) -> Any:
    if not values:
        return ffi.NULL
    argv, strings = _argv(values)
    keep.extend((argv, strings))
    return argv


def _attach_opts(
    o: AttachFields, liblxc_stdio: Sequence[int], child_stdio: Sequence[int], errfd: int
) -> tuple[Any, list[Any]]:
    """A struct lxcpy_attach_opts: o's options (every one: KeyError for a
    missing one), the stdio fds and the error pipe; and what it points to,
    which must outlive it. The options part is built once per fields
    object (resolve() returns the same one for the same options) and
    copied."""
    template = _templates.get(id(o))
    if template is None or template[0] is not o:
        if len(_templates) >= 64:
            _templates.clear()
        template = (o, *_options_struct(o))
        _templates[id(o)] = template
    p = ffi.new("struct lxcpy_attach_opts *", template[1][0])
    for i in range(3):
        p.liblxc_stdio[i] = liblxc_stdio[i]
        p.child_stdio[i] = child_stdio[i]
    p.errfd = errfd
    return p, [template]


# By id() of the fields: (the fields, their struct, what it points to).
_templates: dict[int, tuple[AttachFields, Any, list[Any]]] = {}


def _options_struct(o: AttachFields) -> tuple[Any, list[Any]]:
    keep: list[Any] = []
    p = ffi.new("struct lxcpy_attach_opts *")
    for member in _BY_TYPE["int"]:
        setattr(p, member, o[member])
    for member in _BY_TYPE["str"]:
        value = o[member]
        if value is not None:
            s = ffi.new("char[]", value)
            keep.append(s)
            setattr(p, member, s)
    for member in _BY_TYPE["strv"]:
        setattr(p, member, _strv(cast("Sequence[bytes]", o[member]), keep))
    for member in _BY_TYPE["ids"]:
        given = cast("Sequence[int] | None", o[member])
        vec = getattr(p, member)
        if given is None:
            vec.n = -1
        else:
            ids = ffi.new("uint32_t[]", list(given) or [0])
            keep.append(ids)
            vec.n = len(given)
            vec.v = ffi.cast("const int32_t *", ids)
    return p, keep


def attach_run(
    h: Handle,
    o: AttachFields,
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
    o: AttachFields,
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
