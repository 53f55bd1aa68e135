"""The helper protocol. The wire format is one table
(csrc/common/hproto_table.h). Requests are packed by C
(csrc/common/hproto.c), the code lxcpy-helper decodes them with, from a
request struct that hpack() fills by field name after the table's
descriptors (HKINDS); Python moves the bytes and the fds (lxcpy._helper),
placing the fds by their named slots (hfds())."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, cast

from lxcpy._ffi._lib import EXTENSION_PATH, ffi, lib
from lxcpy._ffi.attach import AttachOptions, _attach_opts
from lxcpy._ffi.encoding import _argv, enc

HELPER_PATH: str = os.path.join(os.path.dirname(EXTENSION_PATH), "lxcpy-helper")
HREP_DONE: int = lib.LXCPY_HREP_DONE
HREP_PONG: int = lib.LXCPY_HREP_PONG
HREP_STARTED: int = lib.LXCPY_HREP_STARTED
HREP_HELLO: int = lib.LXCPY_HREP_HELLO
HMAX_MSG: int = int(lib.lxcpy_hmax_msg())
# This build's protocol version (a hash of the table), which its helper
# must say in its HELLO.
HPROTO_VERSION: int = int(lib.lxcpy_hproto_version())
_HREPLY_SIZE: int = ffi.sizeof("struct lxcpy_hreply")

HOP_PING: int = lib.LXCPY_HOP_PING
HOP_START: int = lib.LXCPY_HOP_START
HOP_CREATE: int = lib.LXCPY_HOP_CREATE
HOP_ATTACH: int = lib.LXCPY_HOP_ATTACH
# The fd slots: slot 0 of every request is its reply socket (hsend adds it).
HFD_START_CONFIG: int = lib.LXCPY_HFD_START_CONFIG
HFD_START_LOG: int = lib.LXCPY_HFD_START_LOG
HFD_CREATE_CONFIG: int = lib.LXCPY_HFD_CREATE_CONFIG
HFD_CREATE_LOG: int = lib.LXCPY_HFD_CREATE_LOG
HFD_CREATE_OUTPUT: int = lib.LXCPY_HFD_CREATE_OUTPUT
HFD_ATTACH_LOG: int = lib.LXCPY_HFD_ATTACH_LOG
HFD_ATTACH_ERR: int = lib.LXCPY_HFD_ATTACH_ERR

HT_I32: int = lib.LXCPY_HT_I32
HT_I64: int = lib.LXCPY_HT_I64
HT_STR: int = lib.LXCPY_HT_STR
HT_STRV: int = lib.LXCPY_HT_STRV
HT_I32V: int = lib.LXCPY_HT_I32V
HT_FD: int = lib.LXCPY_HT_FD


class HField(NamedTuple):
    """A field of a request kind, as the table has it."""

    name: str
    type: int  # HT_*
    check: str  # the name of the helper's check (hproto.c)
    offset: int  # in the kind's request struct


class HKind(NamedTuple):
    """A request kind, as the table has it."""

    name: str
    op: int  # HOP_*
    size: int  # of its request struct
    fields: tuple[HField, ...]
    slots: tuple[tuple[str, str], ...]  # (name, check) of slots 1, 2...


def _hkinds() -> dict[int, HKind]:
    def text(p: Any) -> str:
        return str(ffi.string(p).decode())

    out = {}
    for i in range(int(lib.lxcpy_hnkinds())):
        k = lib.lxcpy_hkind_at(i)
        fields = tuple(
            HField(text(f.name), int(f.type), text(f.check), int(f.offset))
            for f in (k.fields[j] for j in range(k.nfields))
        )
        slots = tuple((text(s.name), text(s.check)) for s in (k.slots[j] for j in range(k.nslots)))
        out[int(k.op)] = HKind(text(k.name), int(k.op), int(k.size), fields, slots)
    return out


# Every request kind of the table, by op.
HKINDS: dict[int, HKind] = _hkinds()

# A field's value for hpack: an int (I32, I64; FD: an fd or -1), bytes or
# None (STR), a list of bytes or None (STRV), a list of ints or None (I32V).
HValue = int | bytes | Sequence[bytes] | Sequence[int] | None


def _hsize(value: HValue) -> int:
    """An upper bound of a field's size on the wire."""
    if isinstance(value, bytes):
        return len(value) + 5
    if value is None or isinstance(value, int):
        return 8
    return 4 + sum(len(v) + 5 if isinstance(v, bytes) else 4 for v in value)


def hpack(op: int, fields: Mapping[str, HValue]) -> tuple[bytes, list[int]] | None:
    """Pack a request of kind op from its fields by name (every field of
    the table's kind, no other); returns the message and the fds of its FD
    fields, each once, to send after the kind's fixed slots (hfds()), or
    None when it is too large for the protocol. Nothing is checked here:
    the helper checks (tests pack what lxcpy never sends)."""
    kind = HKINDS[op]
    names = [f.name for f in kind.fields]
    if sorted(fields) != sorted(names):
        raise ValueError(f"a {kind.name} request has the fields {names}, not {sorted(fields)}")
    req = ffi.new("char[]", kind.size)
    ffi.cast("uint32_t *", req)[0] = op
    keep: list[Any] = []
    for f in kind.fields:
        at = req + f.offset
        value = fields[f.name]
        if f.type == HT_STRV:
            assert value is None or not isinstance(value, (int, bytes))
            arr: Any = ffi.NULL
            if value is not None:
                items = list(value)
                assert all(isinstance(v, bytes) for v in items)
                arr, strings = _argv(cast("list[bytes]", items))
                keep += [arr, strings]
            ffi.cast("char ***", at)[0] = arr
        elif f.type == HT_STR:
            assert value is None or isinstance(value, bytes)
            s: Any = ffi.NULL if value is None else ffi.new("char[]", value)
            keep.append(s)
            ffi.cast("char **", at)[0] = s
        elif f.type == HT_I32V:
            assert value is None or not isinstance(value, (int, bytes))
            vec = ffi.cast("struct lxcpy_hvec *", at)
            if value is None:
                vec.n = -1
            else:
                ints = ffi.new("int32_t[]", [int(v) for v in value] or [0])
                keep.append(ints)
                vec.n = len(value)
                vec.v = ints
        else:
            assert isinstance(value, int)
            ctype = {HT_I32: "int32_t *", HT_I64: "int64_t *", HT_FD: "int *"}[f.type]
            ffi.cast(ctype, at)[0] = value
    cap = min(ffi.sizeof("struct lxcpy_hhdr") + sum(_hsize(v) for v in fields.values()), HMAX_MSG)
    buf = ffi.new("char[]", cap)
    fds = ffi.new("int[]", 16)
    nfds = ffi.new("int *")
    n = int(lib.lxcpy_hpack(buf, cap, req, fds, 16, nfds))
    if n < 0:
        return None
    return bytes(ffi.buffer(buf, n)), [int(fds[i]) for i in range(nfds[0])]


def hfds(op: int, slots: Mapping[int, int], extra: Sequence[int] = ()) -> list[int]:
    """The fds to send with a request of kind op after its reply socket:
    its fixed slots from {HFD_<KIND>_<SLOT>: fd}, every one of them, then
    ``extra`` (the fds hpack returned)."""
    kind = HKINDS[op]
    n = len(kind.slots)
    if sorted(slots) != list(range(1, n + 1)):
        raise ValueError(f"a {kind.name} request's fd slots are 1..{n}, not {sorted(slots)}")
    return [*(slots[i] for i in range(1, n + 1)), *extra]


def hpack_ping() -> bytes:
    packed = hpack(HOP_PING, {})
    assert packed is not None
    return packed[0]


def hpack_start(name: str, lxcpath: bytes, use_init: bool, cmd: list[bytes] | None) -> bytes | None:
    packed = hpack(
        HOP_START, {"name": enc(name), "lxcpath": lxcpath, "use_init": int(use_init), "cmd": cmd}
    )
    return None if packed is None else packed[0]


def hpack_create(
    name: str, lxcpath: bytes, template: str | None, backend: str | None, args: list[str]
) -> bytes | None:
    packed = hpack(
        HOP_CREATE,
        {
            "name": enc(name),
            "lxcpath": lxcpath,
            "flags": 0,
            "template": _enc_opt(template),
            "backend": _enc_opt(backend),
            "args": [enc(a) for a in args],
        },
    )
    return None if packed is None else packed[0]


def hpack_attach(
    name: bytes,
    lxcpath: bytes,
    o: AttachOptions,
    liblxc_stdio: Sequence[int],
    child_stdio: Sequence[int],
    errfd: int,
    argv: list[bytes],
    logfd: int,
) -> tuple[bytes, list[int]] | None:
    """The ATTACH request hsend_attach sends, and the fds that go with it
    (after the reply socket); None when it is too large for the protocol.
    (For tests of the helper's checks; lxcpy itself packs and sends in
    one call.)"""
    p, _keep = _attach_opts(o, liblxc_stdio, child_stdio, errfd)
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
    liblxc_stdio: Sequence[int],
    child_stdio: Sequence[int],
    errfd: int,
    argv: list[bytes],
    logfd: int,
) -> int:
    """Pack an ATTACH request (as hpack_attach) and send it (as hsend):
    our end of the reply socket, or -errno (-E2BIG: too large for the
    protocol; the caller then attaches in-process)."""
    p, _keep = _attach_opts(o, liblxc_stdio, child_stdio, errfd)
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
