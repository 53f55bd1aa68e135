"""Module-level facts about liblxc and the host."""

from __future__ import annotations

import os

from lxcpy import _ffi, _validate
from lxcpy.errors import LxcError

__all__ = [
    "config_item_supported",
    "default_lxcpath",
    "global_config_item",
    "has_api_extension",
    "list_containers",
    "lxc_version",
]


def lxc_version() -> str:
    """liblxc's version, e.g. ``"5.0.2"``."""
    return _ffi.version()


def has_api_extension(name: str) -> bool:
    """Whether this liblxc has the named API extension (e.g. ``"mount_injection"``)."""
    return _ffi.has_api_extension(_validate.text(name, "extension name"))


def config_item_supported(key: str) -> bool:
    """Whether this liblxc knows the configuration key."""
    return _ffi.config_item_supported(_validate.text(key, "config key"))


def global_config_item(key: str) -> str:
    """A value of liblxc's global configuration (``lxc.lxcpath``,
    ``lxc.default_config``, ``lxc.bdev.lvm.vg``...); ``KeyError`` if unknown."""
    value = _ffi.global_config_item(_validate.text(key, "config key"))
    if value is None:
        raise KeyError(key)
    return value


def default_lxcpath() -> str:
    """Where containers live when no lxcpath is given (``lxc.lxcpath``)."""
    return global_config_item("lxc.lxcpath")


def list_containers(
    lxcpath: str | os.PathLike[str] | None = None, *, active: bool = True, defined: bool = True
) -> list[str]:
    """Sorted names of the containers in ``lxcpath``: those defined, those
    active (running), or both (the default)."""
    path = default_lxcpath() if lxcpath is None else _validate.path(lxcpath, "lxcpath")
    which = (_ffi.LIST_ACTIVE if active else 0) | (_ffi.LIST_DEFINED if defined else 0)
    if which == 0:
        return []
    if not os.path.isdir(path):
        return []
    names = _ffi.list_containers(_ffi.enc_path(path), which)
    if names is None:
        raise LxcError(f"liblxc could not list the containers in {path}", operation="list")
    return sorted(set(names))
