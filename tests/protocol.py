"""The helper protocol's table as the tests use it (csrc/common/hproto_table.h,
read through lxcpy._ffi.HKINDS): valid and invalid values for each of its
checks, requests packed from them, and the helper's own decoder
(``lxcpy-helper --selftest-decode``) to read packed requests back."""

from __future__ import annotations

import struct
import subprocess
from collections.abc import Mapping, Sequence

from lxcpy import _ffi
from lxcpy._ffi import ffi

NAME_MAX = 255
PATH_MAX = 4096
ALL_NS = (
    _ffi.lib.CLONE_NEWNS
    | _ffi.lib.CLONE_NEWPID
    | _ffi.lib.CLONE_NEWUTS
    | _ffi.lib.CLONE_NEWIPC
    | _ffi.lib.CLONE_NEWUSER
    | _ffi.lib.CLONE_NEWNET
    | _ffi.lib.CLONE_NEWCGROUP
)
EVERY_BYTE = bytes(range(1, 256))  # but NUL
TYPE_NAMES = {
    _ffi.HT_I32: "I32",
    _ffi.HT_I64: "I64",
    _ffi.HT_STR: "STR",
    _ffi.HT_STRV: "STRV",
    _ffi.HT_I32V: "I32V",
    _ffi.HT_FD: "FD",
}

_NAMES_OK: list[_ffi.HValue] = [b"a", b"x" * NAME_MAX, "é-日本_.x".encode()]
_NAMES_BAD: list[_ffi.HValue] = [
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
VALID: dict[tuple[str, str], list[_ffi.HValue]] = {
    ("I32", "BOOL"): [0, 1],
    ("I32", "CREATE_FLAGS"): [0, _ffi.lib.LXC_CREATE_QUIET],
    ("I32", "NAMESPACES"): [-1, 0, ALL_NS, _ffi.lib.CLONE_NEWNET],
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
INVALID: dict[tuple[str, str], list[_ffi.HValue]] = {
    ("I32", "BOOL"): [-1, 2, 2**31 - 1],
    ("I32", "CREATE_FLAGS"): [-1, _ffi.lib.LXC_CREATE_QUIET << 1],
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


def key(f: _ffi.HField) -> tuple[str, str]:
    return TYPE_NAMES[f.type], f.check


def defaults(op: int) -> dict[str, _ffi.HValue]:
    """Valid fields for a request of kind op: each its first valid value."""
    return {f.name: VALID[key(f)][0] for f in _ffi.HKINDS[op].fields}


def pack(op: int, fields: Mapping[str, _ffi.HValue]) -> tuple[bytes, list[int]]:
    packed = _ffi.hpack(op, fields)
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


def decode(msgs: Sequence[bytes]) -> list[Decoded | int]:
    """Decode msgs with the helper's own decoder: for each, (kind, fields
    by name) or the errno it was refused with."""
    data = b"".join(struct.pack("I", len(m)) + m for m in msgs)
    r = subprocess.run(
        [_ffi.HELPER_PATH, "--selftest-decode"],
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


def expected(op: int, fields: Mapping[str, _ffi.HValue], fds: list[int]) -> dict[str, object]:
    """What the decoder should give for a request packed from fields (fds:
    what hpack returned): the same values, FD fields as their index among
    the fds sent (the reply socket is 0, then the fixed slots)."""
    kind = _ffi.HKINDS[op]
    out: dict[str, object] = {}
    for f in kind.fields:
        value = fields[f.name]
        if f.type == _ffi.HT_FD:
            assert isinstance(value, int)
            value = -1 if value < 0 else 1 + len(kind.slots) + fds.index(value)
        elif isinstance(value, (list, tuple)):
            value = list(value)
        out[f.name] = value
    return out


def repacked(msg: bytes, fds: list[int], **changes: _ffi.HValue) -> tuple[bytes, list[int]]:
    """A request (msg, sent with fds after its reply socket) packed again
    with some fields changed, by name; the fds to send with it."""
    decoded = decode_one(msg)
    assert not isinstance(decoded, int), decoded
    name, fields = decoded
    op = next(k.op for k in _ffi.HKINDS.values() if k.name == name)
    kind = _ffi.HKINDS[op]
    sent = [-1, *fds]
    values: dict[str, _ffi.HValue] = {}
    for f in kind.fields:
        v = fields[f.name]
        if f.type == _ffi.HT_FD:
            assert isinstance(v, int)
            v = -1 if v < 0 else sent[v]
        values[f.name] = v  # type: ignore[assignment]
    values.update(changes)
    new, extra = pack(op, values)
    return new, [*fds[: len(kind.slots)], *extra]


def with_header(msg: bytes, **fields: int) -> bytes:
    """msg with fields of its header (struct lxcpy_hhdr's, by name) set."""
    out = bytearray(msg)
    for name, value in fields.items():
        off = ffi.offsetof("struct lxcpy_hhdr", name)
        out[off : off + 4] = struct.pack("I", value & 0xFFFFFFFF)
    return bytes(out)


HEADER_SIZE: int = ffi.sizeof("struct lxcpy_hhdr")
