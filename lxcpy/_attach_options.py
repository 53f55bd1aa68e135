"""The attach options: one table (OPTIONS: each option's keyword, check,
default and the member of the C struct its value goes to), next to the
AttachOptions TypedDict of the public keywords. They are checked
(``options``, before anything runs), then resolved to what the C struct
takes (``resolve``: user and group names looked up in the container's own
/etc/passwd and /etc/group) and marshalled member by member
(lxcpy._ffi._attach_opts). The C side's one list is
csrc/common/attach_table.h: adding an option is one entry in each (and a
key in AttachOptions; tests check that the three agree).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypedDict

from lxcpy import _ffi, _validate
from lxcpy.namespace import Namespace

if TYPE_CHECKING:
    from typing_extensions import Unpack

UserSpec = int | str

# The personalities liblxc knows by name (lxc.arch).
PERSONALITIES = {
    "linux": 0x0000,
    "linux64": 0x0000,
    "x86_64": 0x0000,
    "amd64": 0x0000,
    "linux32": 0x0008,
    "x86": 0x0008,
    "i386": 0x0008,
    "i686": 0x0008,
}


# -- the checks ---------------------------------------------------------------------
#
# Each takes what the caller passed (the option's default when nothing)
# and the option's name, and returns the validated value, or raises
# TypeError or ValueError.


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


# uid_t and gid_t: (uid_t)-1 means "no id" to the kernel and to liblxc.
_NO_ID = 0xFFFFFFFF


def _id_spec(value: Any, what: str) -> UserSpec:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError(f"{what} must be an int or a name, not {type(value).__name__}")
    if isinstance(value, int):
        if not 0 <= value < _NO_ID:
            raise ValueError(f"{what} out of range: {value}")
        return value
    _validate.text(value, what)
    if not value or ":" in value or "\n" in value:
        raise ValueError(f"invalid {what}: {value!r}")
    return value


def _opt_id(value: Any, what: str) -> UserSpec | None:
    return None if value is None else _id_spec(value, what)


def _env(value: Any, what: str) -> tuple[bytes, ...]:
    """NAME=value entries."""
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise TypeError(f"{what} must be a mapping, not {type(value).__name__}")
    out = []
    for key, v in value.items():
        k = _env_key(key, f"{what} key")
        if not isinstance(v, (str, bytes)):
            raise TypeError(f"{what} value of {key!r} must be str or bytes")
        out.append(k + b"=" + _bytes(v, f"{what} value of {key!r}"))
    return tuple(out)


def _env_names(value: Any, what: str) -> tuple[bytes, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise TypeError(f"{what} must be a sequence of variable names")
    return tuple(_env_key(k, f"{what} name") for k in value)


def _cwd(value: Any, what: str) -> bytes | None:
    if value is None:
        return None
    wd = _bytes(value, what)
    if not wd:
        raise ValueError(f"{what} must not be empty")
    return wd


def _groups(value: Any, what: str) -> tuple[UserSpec, ...] | None:
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise TypeError(f"{what} must be a sequence of group ids or names")
    return tuple(_id_spec(g, "group in groups") for g in value)


_ALL_NAMESPACES = int(
    Namespace.MOUNT
    | Namespace.PID
    | Namespace.UTS
    | Namespace.IPC
    | Namespace.USER
    | Namespace.NET
    | Namespace.CGROUP
)


def _namespaces(value: Any, what: str) -> int:
    """CLONE_NEW* flags; -1: the container's."""
    if value is None:
        return -1
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be lxcpy.Namespace flags, not {value!r}")
    if int(value) & ~_ALL_NAMESPACES:
        raise ValueError(f"unknown namespace flags: {value!r}")
    return int(value)


def _personality(value: Any, what: str) -> int:
    """-1: the container's."""
    if value is None:
        return -1
    if isinstance(value, str):
        if value not in PERSONALITIES:
            raise ValueError(f"unknown {what} {value!r}")
        return PERSONALITIES[value]
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value < 1 << 32:
            raise ValueError(f"{what} out of range: {value}")
        return value
    raise TypeError(f"{what} must be an int or a name such as 'linux32'")


def _label(value: Any, what: str) -> bytes | None:
    if value is None:
        return None
    label = _ffi.enc(_validate.text(value, what))
    if not label:
        raise ValueError(f"{what} must not be empty")
    return label


# -- the options ------------------------------------------------------------------


class AttachOptions(TypedDict, total=False):
    """The attach options that run(), popen(), attach() and attach_shell()
    take as keywords (see Container.run): one key per entry of OPTIONS,
    in its order (a test checks)."""

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


@dataclass(frozen=True)
class Option:
    """One attach option: its keyword (an AttachOptions key), its check
    (what the caller passed -> the validated value), its default (what
    the caller passes by not passing it) and the member of struct
    lxcpy_attach_opts its value goes to (csrc/common/attach_table.h
    lists them), as _ffi._attach_opts sets that member's C type.
    user, group and groups are names or numbers until resolve()."""

    name: str
    check: Callable[[Any, str], Any]
    default: Any
    member: str


# The attach options, one entry each: their only list on the Python side.
OPTIONS: tuple[Option, ...] = (
    Option("env", _env, None, "extra_env"),
    Option("clear_env", _flag, False, "clear_env"),
    Option("keep_env", _env_names, (), "keep_env"),
    Option("cwd", _cwd, None, "cwd"),
    Option("user", _opt_id, None, "uid"),
    Option("group", _opt_id, None, "gid"),
    Option("groups", _groups, None, "groups"),
    Option("namespaces", _namespaces, None, "namespaces"),
    Option("personality", _personality, None, "personality"),
    Option("move_to_cgroup", _flag, True, "move_to_cgroup"),
    Option("drop_capabilities", _flag, True, "drop_capabilities"),
    Option("no_new_privs", _flag, False, "no_new_privs"),
    Option("lsm_label", _label, None, "lsm_label"),
    Option("remount_proc_sys", _flag, False, "remount_proc_sys"),
)
_INDEX = {o.name: i for i, o in enumerate(OPTIONS)}


@dataclass(frozen=True)
class Options:
    """The attach options, validated: one value per entry of OPTIONS, in
    its order, also by name (``o.cwd``); user and group names still
    unresolved. Hashable: the key of resolve()'s cache."""

    values: tuple[Any, ...]

    def __getattr__(self, name: str) -> Any:
        i = _INDEX.get(name)
        if i is None:
            raise AttributeError(f"no attach option {name!r}")
        return self.values[i]

    @property
    def names_ids(self) -> bool:
        """A user, group or groups is given: resolve() reads the
        container's /etc/passwd or /etc/group."""
        return self.user is not None or self.group is not None or bool(self.groups)


_DEFAULTS = tuple(o.check(o.default, o.name) for o in OPTIONS)


def options(**given: Unpack[AttachOptions]) -> Options:
    """Check every option given (TypeError/ValueError) before anything runs."""
    values = list(_DEFAULTS)
    for name, value in given.items():
        i = _INDEX.get(name)
        if i is None:
            raise TypeError(f"options() got an unexpected keyword argument '{name}'")
        values[i] = OPTIONS[i].check(value, name)
    return Options(tuple(values))


DEFAULT = options()


def argv(args: Any) -> list[bytes]:
    """A non-empty sequence of str, bytes or PathLike, without NUL."""
    if isinstance(args, (str, bytes, os.PathLike)):
        raise TypeError("args must be a sequence such as ['ls', '-l'] (no shell parses a string)")
    if not isinstance(args, Iterable):
        raise TypeError(f"args must be a sequence, not {type(args).__name__}")
    out = [_bytes(a, "item of args") for a in args]
    if not out:
        raise ValueError("args must not be empty")
    if not out[0]:
        raise ValueError("the program name must not be empty")
    return out


# -- users and groups, from the container's own files ----------------------------


def db(init_pid: int, name: str) -> list[list[str]]:
    path = f"/proc/{init_pid}/root/etc/{name}"
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return [ln.rstrip("\n").split(":") for ln in f if ln.strip() and ln[0] != "#"]
    except FileNotFoundError:
        return []


def lookup(rows: list[list[str]], spec: UserSpec, what: str, file: str) -> list[str] | None:
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
_resolved: dict[Options, _ffi.AttachFields] = {}


def resolve(o: Options, init_pid: int) -> _ffi.AttachFields:
    """The options by member of struct lxcpy_attach_opts, with numbers for
    user/group names, read in the container's /etc/passwd and /etc/group
    (through /proc/<init pid>/root). A user's primary group is used when
    no group is given."""
    if not o.names_ids:
        done = _resolved.get(o)
        if done is None:
            done = _fields(o, _ids(o, init_pid))
            if len(_resolved) >= 64:
                _resolved.clear()
            _resolved[o] = done
        return done
    return _fields(o, _ids(o, init_pid))


def _fields(o: Options, ids: Mapping[str, _ffi.AttachValue]) -> _ffi.AttachFields:
    """Each option's value (ids' for those it has) by its member."""
    return MappingProxyType(
        {opt.member: ids.get(opt.name, value) for opt, value in zip(OPTIONS, o.values, strict=True)}
    )


def _file_id(row: list[str], field: int, spec: UserSpec, file: str) -> int:
    """The id in a row of the container's passwd or group file: a uid_t
    or gid_t, else ValueError (the file is the container's: untrusted)."""
    text = row[field] if len(row) > field else ""
    if not (text.isascii() and text.isdigit()) or not 0 <= int(text) < _NO_ID:
        raise ValueError(f"invalid id for {spec!r} in the container's /etc/{file}: {text!r}")
    return int(text)


def _ids(o: Options, init_pid: int) -> dict[str, _ffi.AttachValue]:
    """The numbers of the user, group and groups options (by option name):
    -1 for no user or group, None for no groups."""
    user: UserSpec | None = o.user
    group: UserSpec | None = o.group
    groups_given: tuple[UserSpec, ...] | None = o.groups
    uid = gid = -1
    if user is not None:
        row = lookup(db(init_pid, "passwd"), user, "user", "passwd")
        if isinstance(user, int):
            uid = user
        elif row is not None:
            uid = _file_id(row, 2, user, "passwd")
        primary = row[3] if row is not None and len(row) > 3 else ""
        if primary.isascii() and primary.isdigit() and int(primary) < _NO_ID:
            gid = int(primary)
    if group is not None or groups_given:
        grp = db(init_pid, "group")
    if group is not None:
        row = lookup(grp, group, "group", "group")
        if isinstance(group, int):
            gid = group
        else:
            gid = _file_id(row, 2, group, "group") if row is not None else -1
    groups = None
    if groups_given is not None:
        groups = []
        for g in groups_given:
            row = lookup(grp, g, "group", "group") if isinstance(g, str) else None
            groups.append(g if isinstance(g, int) else _file_id(row, 2, g, "group") if row else 0)
    return {"user": uid, "group": gid, "groups": groups}
