"""The helper protocol's table as the tests use it (csrc/common/wire_table.h,
read through lxcpy._ffi.wire.WIRE_KINDS): valid and invalid values for each of its
checks, requests packed from them, and the helper's own decoder
(csrc/common/wire.c, built once per session with tests/wire_decode.c) to
read packed requests back."""

from __future__ import annotations

import atexit
import functools
import os
import shlex
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from lxcpy._ffi import wire
from lxcpy._ffi._lib import ffi, lib
from lxcpy._ffi.attach import AttachFields, _attach_opts
from lxcpy._ffi.encoding import _argv

NAME_MAX = 255
PATH_MAX = 4096
ALL_NS = (
    lib.CLONE_NEWNS
    | lib.CLONE_NEWPID
    | lib.CLONE_NEWUTS
    | lib.CLONE_NEWIPC
    | lib.CLONE_NEWUSER
    | lib.CLONE_NEWNET
    | lib.CLONE_NEWCGROUP
)
EVERY_BYTE = bytes(range(1, 256))  # but NUL
TYPE_NAMES = {
    wire.FIELD_I32: "I32",
    wire.FIELD_I64: "I64",
    wire.FIELD_STR: "STR",
    wire.FIELD_STRV: "STRV",
    wire.FIELD_I32V: "I32V",
    wire.FIELD_FD: "FD",
}

_NAMES_OK: list[wire.FieldValue] = [b"a", b"x" * NAME_MAX, "é-日本_.x".encode()]
_NAMES_BAD: list[wire.FieldValue] = [
    b"",
    b".",
    b"..",
    b"a/b",
    b"a b",
    b"a\tb",
    "a\u00a0b".encode(),
    "a\u2028b".encode(),
    b"x" * (NAME_MAX + 1),
    b"\xff",
    b"\xc0\xaf",  # an overlong "/"
]

# For each (type, check) of the table: values its check accepts, the
# first being the default; boundary values first of all. FD values are
# fd numbers (the packer only numbers them).
VALID: dict[tuple[str, str], list[wire.FieldValue]] = {
    ("I32", "BOOL"): [0, 1],
    ("I32", "CREATE_FLAGS"): [0, lib.LXC_CREATE_QUIET],
    ("I32", "NAMESPACES"): [-1, 0, ALL_NS, lib.CLONE_NEWNET],
    ("I64", "U32_OR_NONE"): [-1, 0, 2**32 - 1],
    ("STR", "NAME"): _NAMES_OK,
    ("STR", "OPT_NAME"): [None, *_NAMES_OK],
    ("STR", "PATH"): [
        b"/tmp/x",
        b"/",
        b"/" + b"x" * (PATH_MAX - 2),
        b"/" + EVERY_BYTE.replace(b"\n", b"").replace(b"\r", b""),
    ],
    ("STR", "OPT_ABSPATH"): [None, b"/", b"/" + EVERY_BYTE],
    ("STR", "OPT_NONEMPTY"): [None, b"x", EVERY_BYTE],
    ("STR", "OPT_TEXT"): [None, b"x", "\U0010ffff\u00e9".encode()],
    ("STR", "TEMPLATE"): [None, b"busybox", "é".encode()],
    ("STRV", "ANY"): [None, [], [b""], [EVERY_BYTE, b"", b"x" * 1000]],
    ("STRV", "CMD"): [None, [b""], [b"/bin/sh", b"-c", b""]],
    ("STRV", "ARGV"): [[b"/bin/true"], [b"x"], [b"/bin/sh", b"", EVERY_BYTE]],
    ("STRV", "LINES"): [[], [b""], [b"a", EVERY_BYTE.replace(b"\n", b"").replace(b"\r", b"")]],
    ("STRV", "ENV"): [None, [], [b"A=", b"A=b=c", b"X=" + EVERY_BYTE]],
    ("STRV", "ENV_NAMES"): [None, [], [b"A", b"PATH", EVERY_BYTE.replace(b"=", b"")]],
    ("I32V", "GROUPS"): [None, [], [0, 2**31 - 1, -(2**31), -2]],
    ("FD", "ANY"): [-1, 100],
    ("FD", "OPT_FIFO"): [-1, 100],
}

# And values it refuses (FD fields: an index out of range, see the tests).
INVALID: dict[tuple[str, str], list[wire.FieldValue]] = {
    ("I32", "BOOL"): [-1, 2, 2**31 - 1],
    ("I32", "CREATE_FLAGS"): [-1, lib.LXC_CREATE_QUIET << 1],
    ("I32", "NAMESPACES"): [-2, 1, ALL_NS | 1, -(2**31)],
    ("I64", "U32_OR_NONE"): [-2, 2**32, -(2**63), 2**63 - 1],
    ("STR", "NAME"): [None, *_NAMES_BAD],
    ("STR", "OPT_NAME"): _NAMES_BAD,
    ("STR", "PATH"): [None, b"", b"relative", b"/a\nb", b"/a\rb", b"/" + b"x" * (PATH_MAX - 1)],
    ("STR", "OPT_ABSPATH"): [b"", b"x", b"./x"],
    ("STR", "OPT_NONEMPTY"): [b""],
    ("STR", "OPT_TEXT"): [b"", b"\xff", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"],
    ("STR", "TEMPLATE"): [b"", b"a\nb", b"a\rb", b"\xff"],
    ("STRV", "ANY"): [],
    ("STRV", "CMD"): [[]],
    ("STRV", "ARGV"): [None, [], [b""], [b"", b"x"]],
    ("STRV", "LINES"): [None, [b"a\nb"], [b"ok", b"\r"]],
    ("STRV", "ENV"): [[b"A"], [b"=x"], [b"A=1", b""]],
    ("STRV", "ENV_NAMES"): [[b""], [b"A=b"], [b"A", b"="]],
    ("I32V", "GROUPS"): [[-1], [0, -1]],
    ("FD", "ANY"): [],
    ("FD", "OPT_FIFO"): [],
}


def key(f: wire.WireField) -> tuple[str, str]:
    return TYPE_NAMES[f.type], f.check


def defaults(op: int) -> dict[str, wire.FieldValue]:
    """Valid fields for a request of kind op: each its first valid value."""
    return {f.name: VALID[key(f)][0] for f in wire.WIRE_KINDS[op].fields}


def pack(op: int, fields: Mapping[str, wire.FieldValue]) -> tuple[bytes, list[int]]:
    packed = wire.pack_request(op, fields)
    assert packed is not None
    return packed


Decoded = tuple[str, dict[str, object]]


def _value(kind: str, words: list[str]) -> object:
    if kind in ("I32", "I64", "FD"):
        return int(words[0])
    if words[0] == "-":
        return None
    if kind == "STR":
        assert words[0].startswith("s:")
        return bytes.fromhex(words[0][2:])
    count, items = int(words[0]), words[1:]
    assert len(items) == count
    if kind == "STRV":
        return [bytes.fromhex(w[2:]) for w in items]
    return [int(w) for w in items]


_REPO = Path(__file__).resolve().parents[1]


@functools.cache
def _decoder() -> str:
    """tests/wire_decode.c and the helper's decoder (csrc/common/wire.c)
    built into a temporary directory, removed at exit."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")  # CC may carry words
    flags = subprocess.run(
        ["pkg-config", "--cflags", "lxc"], capture_output=True, text=True, check=False
    )
    if cc is None or flags.returncode != 0:
        pytest.skip("building the protocol decoder needs a C compiler and lxc's pkg-config")
    out = tempfile.mkdtemp(prefix="lxcpy-wire-decode-")
    atexit.register(shutil.rmtree, out, True)
    exe = os.path.join(out, "wire-decode")
    r = subprocess.run(
        [
            *shlex.split(cc or ""),
            "-std=gnu11",
            "-Wall",
            "-Werror",
            f"-I{_REPO / 'csrc' / 'decl'}",
            f"-I{_REPO / 'csrc' / 'common'}",
            *flags.stdout.split(),
            str(_REPO / "csrc" / "common" / "wire.c"),
            str(_REPO / "tests" / "wire_decode.c"),
            "-o",
            exe,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    return exe


def decode(msgs: Sequence[bytes]) -> list[Decoded | int]:
    """Decode msgs with the helper's own decoder: for each, (kind, fields
    by name) or the errno it was refused with."""
    data = b"".join(struct.pack("I", len(m)) + m for m in msgs)
    r = subprocess.run(
        [_decoder()],
        input=data,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    out: list[Decoded | int] = []
    for block in r.stdout.decode().split("\n\n")[:-1]:
        first, *lines = block.split("\n")
        word, what = first.split(" ")
        if word == "refused":
            out.append(int(what))
            continue
        assert word == "ok"
        fields: dict[str, object] = {}
        for line in lines:
            name, kind, *words = line.split(" ")
            fields[name] = _value(kind, words)
        out.append((what, fields))
    assert len(out) == len(msgs)
    return out


def decode_one(msg: bytes) -> Decoded | int:
    return decode([msg])[0]


def expected(op: int, fields: Mapping[str, wire.FieldValue], fds: list[int]) -> dict[str, object]:
    """What the decoder should give for a request packed from fields (fds:
    what pack_request returned): the same values, FD fields as their index among
    the fds sent (the reply socket is 0, then the fixed slots)."""
    kind = wire.WIRE_KINDS[op]
    out: dict[str, object] = {}
    for f in kind.fields:
        value = fields[f.name]
        if f.type == wire.FIELD_FD:
            assert isinstance(value, int)
            value = -1 if value < 0 else 1 + len(kind.slots) + fds.index(value)
        elif isinstance(value, (list, tuple)):
            value = list(value)
        out[f.name] = value
    return out


def repacked(msg: bytes, fds: list[int], **changes: wire.FieldValue) -> tuple[bytes, list[int]]:
    """A request (msg, sent with fds after its reply socket) packed again
    with some fields changed, by name; the fds to send with it."""
    decoded = decode_one(msg)
    assert not isinstance(decoded, int), decoded
    name, fields = decoded
    op = next(k.op for k in wire.WIRE_KINDS.values() if k.name == name)
    kind = wire.WIRE_KINDS[op]
    sent = [-1, *fds]
    values: dict[str, wire.FieldValue] = {}
    for f in kind.fields:
        v = fields[f.name]
        if f.type == wire.FIELD_FD:
            assert isinstance(v, int)
            v = -1 if v < 0 else sent[v]
        values[f.name] = v  # type: ignore[assignment]
    values.update(changes)
    new, extra = pack(op, values)
    return new, [*fds[: len(kind.slots)], *extra]


def with_header(msg: bytes, **fields: int) -> bytes:
    """msg with fields of its header (struct lxcpy_request_header's, by name) set."""
    out = bytearray(msg)
    for name, value in fields.items():
        off = ffi.offsetof("struct lxcpy_request_header", name)
        out[off : off + 4] = struct.pack("I", value & 0xFFFFFFFF)
    return bytes(out)


HEADER_SIZE: int = ffi.sizeof("struct lxcpy_request_header")


def pack_attach(
    name: bytes,
    lxcpath: bytes,
    o: AttachFields,
    liblxc_stdio: Sequence[int],
    child_stdio: Sequence[int],
    errfd: int,
    argv: list[bytes],
    logfd: int,
) -> tuple[bytes, list[int]] | None:
    """The ATTACH request lxcpy's _ffi.send_attach sends (packed by the
    same C, lxcpy_pack_attach_request), and the fds that go with it after
    the reply socket; None when it is too large for the protocol. lxcpy
    itself packs and sends in one call: this is for the tests of the
    helper's checks."""
    p, _keep = _attach_opts(o, liblxc_stdio, child_stdio, errfd)
    cargv, _strings = _argv(argv)
    fds = ffi.new("int[]", lib.LXCPY_ATTACH_REQUEST_FDS)
    nfds = ffi.new("int *")
    buf = ffi.new("char[]", wire.WIRE_MAX_MSG)
    rc = int(
        lib.lxcpy_pack_attach_request(
            buf,
            wire.WIRE_MAX_MSG,
            name,
            lxcpath,
            p,
            cargv,
            logfd,
            fds,
            lib.LXCPY_ATTACH_REQUEST_FDS,
            nfds,
        )
    )
    if rc < 0:
        return None
    return bytes(ffi.buffer(buf, rc)), [int(fds[i]) for i in range(nfds[0])]


def parse_reply(data: bytes) -> tuple[int, int, int, int] | None:
    """(err, kind, status, pid) of one reply (struct lxcpy_reply); None
    when it is not one."""
    if len(data) != ffi.sizeof("struct lxcpy_reply"):
        return None
    r = ffi.new("struct lxcpy_reply *")
    ffi.memmove(r, data, ffi.sizeof("struct lxcpy_reply"))
    return int(r.err), int(r.kind), int(r.status), int(r.pid)
