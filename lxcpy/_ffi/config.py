"""A container's configuration: load, save, clear, and items set, cleared
and read (liblxc's two-call buffer protocol, _sized)."""

from __future__ import annotations

from typing import Any

from lxcpy._ffi._lib import ffi, lib
from lxcpy._ffi.encoding import _opt, _take_str, enc
from lxcpy._ffi.handles import Handle


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
