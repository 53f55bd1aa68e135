"""Values across the boundary: strings and paths to C (NUL refused), C
strings and arrays back, and errno."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from lxcpy._ffi._lib import ffi, lib


def enc(value: str) -> bytes:
    """UTF-8 for C; a NUL would silently cut the string short, so refuse it."""
    data = value.encode("utf-8")
    if b"\0" in data:
        raise ValueError(f"embedded NUL character in {value!r}")
    return data


def enc_path(value: str | os.PathLike[str]) -> bytes:
    data = os.fsencode(value)
    if b"\0" in data:
        raise ValueError(f"embedded NUL character in path {value!r}")
    return data


def _opt(value: bytes | None) -> Any:
    return ffi.NULL if value is None else value


def _str(ptr: Any) -> str | None:
    """Copy a borrowed C string (not freed here)."""
    if ptr == ffi.NULL:
        return None
    return str(ffi.string(ptr).decode("utf-8", "replace"))


def _take_str(ptr: Any) -> str | None:
    """Copy a C string that liblxc malloc'ed for us, and free it."""
    if ptr == ffi.NULL:
        return None
    try:
        return str(ffi.string(ptr).decode("utf-8", "replace"))
    finally:
        lib.lxcpy_free(ptr)


def _argv(args: Sequence[bytes]) -> tuple[Any, list[Any]]:
    """A NULL-terminated char*[]; the second item keeps the strings alive."""
    keep = [ffi.new("char[]", a) for a in args]
    return ffi.new("char *[]", [*keep, ffi.NULL]), keep


def errno() -> int:
    return int(ffi.errno)
