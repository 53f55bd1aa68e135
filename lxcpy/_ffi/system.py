"""Module level: liblxc's version, API extensions, global configuration,
logging, and the containers of an lxcpath."""

from __future__ import annotations

from lxcpy._ffi._lib import ffi, lib
from lxcpy._ffi.encoding import _str, enc

LIST_DEFINED: int = lib.LXCPY_LIST_DEFINED
LIST_ACTIVE: int = lib.LXCPY_LIST_ACTIVE


def version() -> str:
    return _str(lib.lxcpy_version()) or ""


def has_api_extension(name: str) -> bool:
    return bool(lib.lxcpy_has_api_extension(enc(name)))


def config_item_supported(key: str) -> bool:
    return bool(lib.lxcpy_config_item_supported(enc(key)))


def global_config_item(key: str) -> str | None:
    return _str(lib.lxcpy_global_config_item(enc(key)))


def log_setup(level: str) -> int:
    return int(lib.lxcpy_log_setup(enc(level)))


def list_containers(lxcpath: bytes, which: int) -> list[str] | None:
    out = ffi.new("char ***")
    n = lib.lxcpy_list(lxcpath, which, out)
    if n < 0:
        return None
    try:
        return [ffi.string(out[0][i]).decode("utf-8", "replace") for i in range(n)]
    finally:
        lib.lxcpy_free_strv(out[0])
