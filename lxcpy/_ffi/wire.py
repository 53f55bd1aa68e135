"""The helper protocol. The wire format is one table
(csrc/common/wire_table.h). Requests are packed by C
(csrc/common/wire.c), the code lxcpy-helper decodes them with, from a
request struct that pack_request() fills by field name after the table's
descriptors (WIRE_KINDS); Python moves the bytes and the fds (lxcpy._helper),
placing the fds by their named slots (request_fds())."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, cast

from lxcpy._ffi._lib import EXTENSION_PATH, ffi, lib
from lxcpy._ffi.attach import AttachFields, _attach_opts
from lxcpy._ffi.encoding import _argv, enc

HELPER_PATH: str = os.path.join(os.path.dirname(EXTENSION_PATH), "lxcpy-helper")
REPLY_DONE: int = lib.LXCPY_REPLY_DONE
REPLY_PONG: int = lib.LXCPY_REPLY_PONG
REPLY_STARTED: int = lib.LXCPY_REPLY_STARTED
REPLY_HELLO: int = lib.LXCPY_REPLY_HELLO
WIRE_MAX_MSG: int = int(lib.lxcpy_wire_max_msg())
# This build's protocol version (a hash of the table), which its helper
# must say in its HELLO.
WIRE_VERSION: int = int(lib.lxcpy_wire_version())

OP_PING: int = lib.LXCPY_OP_PING
OP_START: int = lib.LXCPY_OP_START
OP_CREATE: int = lib.LXCPY_OP_CREATE
OP_ATTACH: int = lib.LXCPY_OP_ATTACH
# The fd slots: slot 0 of every request is its reply socket (send_packed adds it).
FD_START_CONFIG: int = lib.LXCPY_FD_START_CONFIG
FD_START_LOG: int = lib.LXCPY_FD_START_LOG
FD_CREATE_CONFIG: int = lib.LXCPY_FD_CREATE_CONFIG
FD_CREATE_LOG: int = lib.LXCPY_FD_CREATE_LOG
FD_CREATE_OUTPUT: int = lib.LXCPY_FD_CREATE_OUTPUT
FD_ATTACH_LOG: int = lib.LXCPY_FD_ATTACH_LOG
FD_ATTACH_ERR: int = lib.LXCPY_FD_ATTACH_ERR

FIELD_I32: int = lib.LXCPY_FIELD_I32
FIELD_I64: int = lib.LXCPY_FIELD_I64
FIELD_STR: int = lib.LXCPY_FIELD_STR
FIELD_STRV: int = lib.LXCPY_FIELD_STRV
FIELD_I32V: int = lib.LXCPY_FIELD_I32V
FIELD_FD: int = lib.LXCPY_FIELD_FD


class WireField(NamedTuple):
    """A field of a request kind, as the table has it."""

    name: str
    type: int  # FIELD_*
    check: str  # the name of the helper's check (wire.c)
    offset: int  # in the kind's request struct


class WireKind(NamedTuple):
    """A request kind, as the table has it."""

    name: str
    op: int  # OP_*
    size: int  # of its request struct
    fields: tuple[WireField, ...]
    slots: tuple[tuple[str, str], ...]  # (name, check) of slots 1, 2...


def _wire_kinds() -> dict[int, WireKind]:
    def text(p: Any) -> str:
        return str(ffi.string(p).decode())

    out = {}
    for i in range(int(lib.lxcpy_wire_nkinds())):
        k = lib.lxcpy_wire_kind_at(i)
        fields = tuple(
            WireField(text(f.name), int(f.type), text(f.check), int(f.offset))
            for f in (k.fields[j] for j in range(k.nfields))
        )
        slots = tuple((text(s.name), text(s.check)) for s in (k.slots[j] for j in range(k.nslots)))
        out[int(k.op)] = WireKind(text(k.name), int(k.op), int(k.size), fields, slots)
    return out


# Every request kind of the table, by op.
WIRE_KINDS: dict[int, WireKind] = _wire_kinds()

# A field's value for pack_request: an int (I32, I64; FD: an fd or -1), bytes or
# None (STR), a list of bytes or None (STRV), a list of ints or None (I32V).
FieldValue = int | bytes | Sequence[bytes] | Sequence[int] | None


def _wire_size(value: FieldValue) -> int:
    """An upper bound of a field's size on the wire."""
    if isinstance(value, bytes):
        return len(value) + 5
    if value is None or isinstance(value, int):
        return 8
    return 4 + sum(len(v) + 5 if isinstance(v, bytes) else 4 for v in value)


def pack_request(op: int, fields: Mapping[str, FieldValue]) -> tuple[bytes, list[int]] | None:
    """Pack a request of kind op from its fields by name (every field of
    the table's kind, no other); returns the message and the fds of its FD
    fields, each once, to send after the kind's fixed slots (request_fds()), or
    None when it is too large for the protocol. Nothing is checked here:
    the helper checks (tests pack what lxcpy never sends)."""
    kind = WIRE_KINDS[op]
    names = [f.name for f in kind.fields]
    if sorted(fields) != sorted(names):
        raise ValueError(f"a {kind.name} request has the fields {names}, not {sorted(fields)}")
    req = ffi.new("char[]", kind.size)
    ffi.cast("uint32_t *", req)[0] = op
    keep: list[Any] = []
    for f in kind.fields:
        at = req + f.offset
        value = fields[f.name]
        if f.type == FIELD_STRV:
            assert value is None or not isinstance(value, (int, bytes))
            arr: Any = ffi.NULL
            if value is not None:
                items = list(value)
                assert all(isinstance(v, bytes) for v in items)
                arr, strings = _argv(cast("list[bytes]", items))
                keep += [arr, strings]
            ffi.cast("char ***", at)[0] = arr
        elif f.type == FIELD_STR:
            assert value is None or isinstance(value, bytes)
            s: Any = ffi.NULL if value is None else ffi.new("char[]", value)
            keep.append(s)
            ffi.cast("char **", at)[0] = s
        elif f.type == FIELD_I32V:
            assert value is None or not isinstance(value, (int, bytes))
            vec = ffi.cast("struct lxcpy_int_vec *", at)
            if value is None:
                vec.n = -1
            else:
                ints = ffi.new("int32_t[]", [int(v) for v in value] or [0])
                keep.append(ints)
                vec.n = len(value)
                vec.v = ints
        else:
            assert isinstance(value, int)
            ctype = {FIELD_I32: "int32_t *", FIELD_I64: "int64_t *", FIELD_FD: "int *"}[f.type]
            ffi.cast(ctype, at)[0] = value
    cap = min(
        ffi.sizeof("struct lxcpy_request_header") + sum(_wire_size(v) for v in fields.values()),
        WIRE_MAX_MSG,
    )
    buf = ffi.new("char[]", cap)
    fds = ffi.new("int[]", 16)
    nfds = ffi.new("int *")
    n = int(lib.lxcpy_pack_request(buf, cap, req, fds, 16, nfds))
    if n < 0:
        return None
    return bytes(ffi.buffer(buf, n)), [int(fds[i]) for i in range(nfds[0])]


def request_fds(op: int, slots: Mapping[int, int], extra: Sequence[int] = ()) -> list[int]:
    """The fds to send with a request of kind op after its reply socket:
    its fixed slots from {FD_<KIND>_<SLOT>: fd}, every one of them, then
    ``extra`` (the fds pack_request returned)."""
    kind = WIRE_KINDS[op]
    n = len(kind.slots)
    if sorted(slots) != list(range(1, n + 1)):
        raise ValueError(f"a {kind.name} request's fd slots are 1..{n}, not {sorted(slots)}")
    return [*(slots[i] for i in range(1, n + 1)), *extra]


def pack_start(name: str, lxcpath: bytes, use_init: bool, cmd: list[bytes] | None) -> bytes | None:
    packed = pack_request(
        OP_START, {"name": enc(name), "lxcpath": lxcpath, "use_init": int(use_init), "cmd": cmd}
    )
    return None if packed is None else packed[0]


def pack_create(
    name: str, lxcpath: bytes, template: str | None, backend: str | None, args: list[str]
) -> bytes | None:
    packed = pack_request(
        OP_CREATE,
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


def send_packed(ctl: int, msg: bytes, fds: Sequence[int]) -> int:
    """Send a packed request with a new reply socket and fds: our end of
    the reply socket (an fd, CLOEXEC), or -errno."""
    return int(lib.lxcpy_send_request(ctl, msg, len(msg), list(fds), len(fds)))


def send_attach(
    ctl: int,
    name: bytes,
    lxcpath: bytes,
    o: AttachFields,
    liblxc_stdio: Sequence[int],
    child_stdio: Sequence[int],
    errfd: int,
    argv: list[bytes],
    logfd: int,
) -> int:
    """Pack an ATTACH request (in C: lxcpy_pack_attach_request) and send
    it (as send_packed), in one call: our end of the reply socket, or
    -errno (-E2BIG: too large for the protocol; the caller then attaches
    in-process)."""
    p, _keep = _attach_opts(o, liblxc_stdio, child_stdio, errfd)
    cargv, _strings = _argv(argv)
    return int(lib.lxcpy_send_attach_request(ctl, name, lxcpath, p, cargv, logfd))


def recv_reply(fd: int, nonblock: bool) -> tuple[int, tuple[int, int, int, int] | None, int]:
    """One reply: (1, (err, kind, status, pid), the fd it carried or -1);
    (0, None, -1) at EOF; (-errno, None, -1), -EAGAIN when nonblock and
    nothing came yet, -EINTR when a signal came."""
    r = ffi.new("struct lxcpy_reply *")
    passed = ffi.new("int *")
    rc = int(lib.lxcpy_recv_reply(fd, int(nonblock), r, passed))
    if rc != 1:
        return rc, None, -1
    return 1, (int(r.err), int(r.kind), int(r.status), int(r.pid)), int(passed[0])


def _enc_opt(value: str | None) -> bytes | None:
    return None if value is None else enc(value)
