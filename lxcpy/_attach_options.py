"""The attach options: checked (``options``, before anything runs), then
resolved to numbers (``resolve``: user and group names looked up in the
container's own /etc/passwd and /etc/group).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

from lxcpy import _ffi, _validate
from lxcpy.namespace import Namespace

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
        if ns & ~int(
            Namespace.MOUNT
            | Namespace.PID
            | Namespace.UTS
            | Namespace.IPC
            | Namespace.USER
            | Namespace.NET
            | Namespace.CGROUP
        ):
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


def _file_id(row: list[str], field: int, spec: UserSpec, file: str) -> int:
    """The id in a row of the container's passwd or group file: a uid_t
    or gid_t, else ValueError (the file is the container's: untrusted)."""
    text = row[field] if len(row) > field else ""
    if not (text.isascii() and text.isdigit()) or not 0 <= int(text) < _NO_ID:
        raise ValueError(f"invalid id for {spec!r} in the container's /etc/{file}: {text!r}")
    return int(text)


def _resolve(o: Options, init_pid: int) -> _ffi.AttachOptions:
    uid = gid = -1
    if o.user is not None:
        row = lookup(db(init_pid, "passwd"), o.user, "user", "passwd")
        if isinstance(o.user, int):
            uid = o.user
        elif row is not None:
            uid = _file_id(row, 2, o.user, "passwd")
        primary = row[3] if row is not None and len(row) > 3 else ""
        if primary.isascii() and primary.isdigit() and int(primary) < _NO_ID:
            gid = int(primary)
    if o.group is not None or o.groups:
        grp = db(init_pid, "group")
    if o.group is not None:
        row = lookup(grp, o.group, "group", "group")
        if isinstance(o.group, int):
            gid = o.group
        else:
            gid = _file_id(row, 2, o.group, "group") if row is not None else -1
    groups = None
    if o.groups is not None:
        groups = []
        for g in o.groups:
            row = lookup(grp, g, "group", "group") if isinstance(g, str) else None
            groups.append(g if isinstance(g, int) else _file_id(row, 2, g, "group") if row else 0)
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
