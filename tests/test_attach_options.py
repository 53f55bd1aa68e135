"""The attach options' one table on each side, and what agrees with them:
the public keywords (the AttachOptions TypedDict) with Python's table
(lxcpy/_attach_options.py: OPTIONS), that table with the C list
(csrc/common/attach_table.h: the members of struct lxcpy_attach_opts and
the helper protocol's ATTACH fields), and every option's value reaching
its member, and the wire, as it should."""

from __future__ import annotations

import os
from typing import Any

import pytest
from helpers import NEEDS_HELPER
from protocol import decode_one, pack_attach

from lxcpy import Namespace, _attach_options, _ffi
from lxcpy._attach_options import OPTIONS, AttachOptions, options, resolve
from lxcpy._ffi._lib import ffi
from lxcpy._ffi.attach import ATTACH_OPTION_MEMBERS
from lxcpy._ffi.wire import OP_ATTACH, WIRE_KINDS

MEMBERS = list(ATTACH_OPTION_MEMBERS)
BY_NAME = {o.name: o for o in OPTIONS}
NO_ID = 2**32 - 1

# What each member holds (read back as member_value() does) for the
# default options.
DEFAULTS: dict[str, Any] = {
    "extra_env": None,
    "clear_env": 0,
    "keep_env": None,
    "cwd": None,
    "uid": -1,
    "gid": -1,
    "groups": None,
    "namespaces": -1,
    "personality": -1,
    "move_to_cgroup": 1,
    "drop_capabilities": 1,
    "no_new_privs": 0,
    "lsm_label": None,
    "remount_proc_sys": 0,
}

# For each option: values other than its default, and what its member then
# holds. Numbers, not names, for users and groups (names are looked up in
# a container: tests/test_attach.py).
SAMPLES: dict[str, list[tuple[Any, Any]]] = {
    "env": [({"A": "1", "B": "x=y", "C": ""}, [b"A=1", b"B=x=y", b"C="]), ({}, None)],
    "clear_env": [(True, 1)],
    "keep_env": [(["PATH", b"HOME"], [b"PATH", b"HOME"])],
    "cwd": [("/tmp", b"/tmp"), (b"rel/\xff", b"rel/\xff")],
    "user": [(0, 0), (NO_ID - 1, NO_ID - 1)],
    "group": [(0, 0), (NO_ID - 1, NO_ID - 1)],
    "groups": [([], []), ([0, 2**31 + 5, NO_ID - 1], [0, 2**31 + 5, NO_ID - 1])],
    "namespaces": [
        (Namespace.NET | Namespace.UTS, int(Namespace.NET | Namespace.UTS)),
        (Namespace(0), 0),
    ],
    "personality": [("linux32", 8), (0, 0), (2**32 - 1, 2**32 - 1)],
    "move_to_cgroup": [(False, 0)],
    "drop_capabilities": [(False, 0)],
    "no_new_privs": [(True, 1)],
    "lsm_label": [("unconfined", b"unconfined"), ("é", "é".encode())],
    "remount_proc_sys": [(True, 1)],
}


def member_value(p: Any, member: str) -> Any:
    """A member of a struct lxcpy_attach_opts, as Python values."""
    value = getattr(p, member)
    ctype = ffi.typeof(value) if isinstance(value, ffi.CData) else None
    if ctype is None:
        return int(value)
    if ctype == ffi.typeof("char *"):
        return None if value == ffi.NULL else ffi.string(value)
    if ctype == ffi.typeof("char * *"):
        if value == ffi.NULL:
            return None
        out = []
        while value[len(out)] != ffi.NULL:
            out.append(ffi.string(value[len(out)]))
        return out
    assert ctype == ffi.typeof("struct lxcpy_int_vec"), ctype
    if value.n < 0:
        return None
    ids = ffi.cast("uint32_t *", value.v)
    return [int(ids[i]) for i in range(value.n)]


def struct_of(opts: _attach_options.Options) -> dict[str, Any]:
    p, _keep = _ffi.attach._attach_opts(resolve(opts, 0), [-1, 0, 1], [2, -1, 3], 9)
    assert list(p.liblxc_stdio) == [-1, 0, 1] and list(p.child_stdio) == [2, -1, 3]
    assert p.errfd == 9
    return {m: member_value(p, m) for m in MEMBERS}


def cases() -> list[tuple[str, Any, Any]]:
    return [(name, value, held) for name in SAMPLES for value, held in SAMPLES[name]]


def test_the_public_keywords_are_the_table() -> None:
    """AttachOptions (what mypy checks run()'s keywords against) has one
    key per entry of OPTIONS, in its order: a new option needs both."""
    assert list(AttachOptions.__annotations__) == [o.name for o in OPTIONS]
    assert AttachOptions.__required_keys__ == frozenset()


def test_the_table_is_the_c_list() -> None:
    """The i-th entry's member is the i-th of attach_table.h's list,
    which are struct lxcpy_attach_opts's members and, in that order, the
    helper's ATTACH fields."""
    assert [o.member for o in OPTIONS] == MEMBERS
    assert len(set(MEMBERS)) == len(MEMBERS)
    struct = [name for name, _field in ffi.typeof("struct lxcpy_attach_opts").fields]
    assert struct[: len(MEMBERS)] == MEMBERS
    fields = [f.name for f in WIRE_KINDS[OP_ATTACH].fields]
    assert [f for f in fields if f in MEMBERS] == MEMBERS


def test_the_tests_know_every_option() -> None:
    assert list(SAMPLES) == [o.name for o in OPTIONS]
    assert list(DEFAULTS) == MEMBERS


def test_defaults_in_the_struct() -> None:
    assert struct_of(_attach_options.DEFAULT) == DEFAULTS
    assert struct_of(options()) == DEFAULTS


@pytest.mark.parametrize(("name", "value", "held"), cases())
def test_each_option_reaches_its_member(name: str, value: Any, held: Any) -> None:
    got = struct_of(options(**{name: value}))
    assert got == {**DEFAULTS, BY_NAME[name].member: held}


def test_all_options_at_once() -> None:
    given = {name: SAMPLES[name][0][0] for name in SAMPLES}
    want = {BY_NAME[name].member: SAMPLES[name][0][1] for name in SAMPLES}
    assert struct_of(options(**given)) == want


def wire(held: Any, member: str) -> Any:
    """A member's value as the helper decodes its field: groups as int32s,
    an empty string vector as one (NULL in the struct)."""
    if member == "groups" and held is not None:
        return [g - 2**32 if g >= 2**31 else g for g in held]
    return held


@NEEDS_HELPER
def test_each_option_reaches_the_wire() -> None:
    """pack_attach packs each member into its ATTACH field: what the
    helper's own decoder reads back (tests/protocol.py's decoder)."""
    for name, value, held in [("", None, None), *cases()]:
        opts = options(**{name: value}) if name else options()
        packed = pack_attach(
            b"c",
            b"/tmp",
            resolve(opts, 0),
            [-1, -1, -1],
            [-1, -1, -1],
            101,
            [b"/bin/true"],
            100,
        )
        assert packed is not None
        decoded = decode_one(packed[0])
        assert not isinstance(decoded, int), (name, decoded)
        kind, fields = decoded
        assert kind == "ATTACH"
        want = dict(DEFAULTS)
        if name:
            want[BY_NAME[name].member] = held
        assert {m: fields[m] for m in MEMBERS} == {m: wire(v, m) for m, v in want.items()}, name
        assert fields["initial_cwd"] == os.getcwd().encode()


def test_options_are_checked_by_the_table() -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'bogus'"):
        options(bogus=1)  # type: ignore[call-arg]
    for o in OPTIONS:
        with pytest.raises((TypeError, ValueError), match=o.name):
            options(**{o.name: object()})


def test_validated_options_are_values() -> None:
    """Equal options are equal and hash alike (resolve()'s cache key); each
    is readable by name; options naming no user or group resolve once."""
    a = options(env={"A": "1"}, cwd="/tmp", no_new_privs=True)
    b = options(no_new_privs=True, cwd=b"/tmp", env={"A": "1"})
    assert a == b and hash(a) == hash(b) and a != options()
    assert a.cwd == b"/tmp" and a.env == (b"A=1",) and a.no_new_privs is True
    with pytest.raises(AttributeError):
        a.bogus  # noqa: B018
    assert not a.names_ids and resolve(a, 0) is resolve(b, 0)
    assert options(groups=()).names_ids is False
    for given in ({"user": 0}, {"group": 0}, {"groups": [0]}):
        assert options(**given).names_ids  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        resolve(a, 0)["cwd"] = b"/"  # type: ignore[index]
