"""Handles (struct lxcpy_handle: a container and its log memfd): made with
the gc safety net on, freed at once, and their liblxc error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lxcpy import _sigint
from lxcpy._ffi._lib import ffi, lib
from lxcpy._ffi.encoding import _str, enc

# A struct lxcpy_handle* with ffi.gc attached. Opaque to every other module.
Handle = Any


def _owned(make: Callable[[], Any]) -> Handle | None:
    """Call ``make`` (shim calls that return a new struct lxcpy_handle*, or
    NULL) and put the gc safety net on what it returns, with Ctrl-C held
    back meanwhile (lxcpy._sigint): a KeyboardInterrupt raised between the
    C call's return and ffi.gc would leak the handle and its log memfd. A
    Ctrl-C that came is raised once the handle is freed."""
    with _sigint.held() as held:
        raw = make()
        h = None if raw == ffi.NULL else ffi.gc(raw, lib.lxcpy_handle_free)
    if held.pending:
        if h is not None:
            handle_free(h)
        raise KeyboardInterrupt
    return h


def handle_new(name: str, lxcpath: bytes) -> Handle | None:
    return _owned(lambda: lib.lxcpy_handle_new(enc(name), lxcpath))


def handle_free(h: Handle) -> None:
    """Release now. ffi.release runs the gc destructor and detaches it in
    one C call: never twice, and no Ctrl-C can fall in between."""
    ffi.release(h)


def log_fd(h: Handle) -> int:
    return int(h.logfd)


def log_attach(h: Handle) -> bool:
    return bool(lib.lxcpy_log_attach(h) == 0)


def error_string(h: Handle) -> tuple[int, str | None]:
    return int(lib.lxcpy_error_num(h.c)), _str(lib.lxcpy_error_string(h.c))
