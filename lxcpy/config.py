"""A container's configuration as a mapping of liblxc keys to values."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, MutableMapping
from typing import TYPE_CHECKING

from lxcpy import _ffi, _validate
from lxcpy._handles import guard_methods
from lxcpy.errors import ConfigError, NotRunningError

if TYPE_CHECKING:
    from lxcpy.container import Container

__all__ = ["Config", "validated_items"]


def validated_items(items: Mapping[str, str]) -> list[tuple[str, str]]:
    """Check keys and values (types, NUL, newlines, known keys) before any
    of them reaches C; return them as a list."""
    if not isinstance(items, Mapping):
        raise TypeError(f"config must be a mapping, not {type(items).__name__}")
    out = []
    for key, value in items.items():
        k = _validate.config_key(key)
        out.append((k, _validate.config_value(value, k)))
    for k, _ in out:
        _known(k)
    return out


# Key families liblxc matches by prefix (lxc.cgroup.<controller.file>...).
_PREFIXES = (
    "lxc.cgroup.",
    "lxc.cgroup2.",
    "lxc.namespace.share.",
    "lxc.prlimit.",
    "lxc.sysctl.",
    "lxc.proc.",
)
_NET = re.compile(r"^lxc\.net\.\d+\.[a-z0-9_.]+$")


def _known(key: str) -> None:
    """ConfigError for a key liblxc would not know (the check liblxc makes
    when setting, which config_item_supported() is stricter than)."""
    if _ffi.config_item_supported(key) or _NET.match(key):
        return
    if key.startswith(_PREFIXES) and not key.endswith("."):
        return
    raise ConfigError(f"unknown config key {key!r}", operation="config")


class Config(MutableMapping[str, str]):
    """``c.config[key]`` reads, sets and deletes the container's in-memory
    configuration (``save()`` writes it to the config file).

    Reading an unset key raises ``KeyError``; a key liblxc does not know
    raises ``ConfigError``. Setting a key replaces every value it had, also
    for multi-valued keys (see ``append()`` and ``get_list()``). A value
    with a newline or carriage return, or with a leading or trailing space
    or tab (liblxc's parser would drop those when it reads the file back),
    raises ``ValueError``.
    """

    __slots__ = ("_container",)

    def __init__(self, container: Container) -> None:
        self._container = container

    def _h(self) -> _ffi.Handle:
        return self._container._handle()

    def _fail(self, message: str) -> ConfigError:
        return ConfigError(message, container=self._container.name, operation="config")

    # -- reading ------------------------------------------------------------

    def _raw(self, key: str) -> str | None:
        k = _validate.config_key(key)
        h = self._h()
        _known(k)
        return _ffi.get_config_item(h, k)

    def __getitem__(self, key: str) -> str:
        value = self._raw(key)
        if not value:
            raise KeyError(key)
        return value.rstrip("\n")

    def get_list(self, key: str) -> list[str]:
        """Every value of a multi-valued key (``lxc.mount.entry``...); [] if unset."""
        value = self._raw(key)
        return [v for v in (value or "").split("\n") if v]

    def supported_keys(self, prefix: str | None = None) -> list[str]:
        """The keys liblxc knows, below ``prefix`` (liblxc's get_keys)."""
        if prefix is not None:
            _validate.config_key(prefix)
        raw = _ffi.get_keys(self._h(), prefix)
        if raw is None:
            raise self._fail(f"liblxc lists no keys below {prefix!r}")
        return [k for k in raw.split("\n") if k]

    def _network_indexes(self) -> list[int]:
        h = self._h()
        out = []
        for i in range(1 << 10):
            if _ffi.get_config_item(h, f"lxc.net.{i}.type") is None:
                break
            out.append(i)
        return out

    def keys(self, prefix: str | None = None) -> list[str]:  # type: ignore[override]
        """The keys that hold a value (below ``prefix``, if given), sorted."""
        if prefix is not None:
            _validate.config_key(prefix)
        h = self._h()
        names = [k for k in self.supported_keys() if not k.startswith("lxc.net")]
        for i in self._network_indexes():
            names += [f"lxc.net.{i}.{sub}" for sub in self.supported_keys(f"lxc.net.{i}")]
        found = []
        for k in names:
            if prefix is not None and not k.startswith(prefix):
                continue
            if _ffi.get_config_item(h, k):
                found.append(k)
        return sorted(set(found))

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        try:
            return bool(self._raw(key))
        except (ConfigError, ValueError):
            return False

    def running(self, key: str) -> str:
        """The value in effect in the running container (KeyError if unset)."""
        k = _validate.config_key(key)
        h = self._h()
        _known(k)
        if not _ffi.is_running(h):
            raise NotRunningError(
                "the container is not running", container=self._container.name, operation="config"
            )
        value = _ffi.get_running_config_item(h, k)
        if value is None or value == "":
            raise KeyError(key)
        return value

    # -- writing ------------------------------------------------------------

    def _set_all(self, key: str, values: list[str]) -> None:
        h = self._h()
        old = self.get_list(key)
        if old:
            _ffi.clear_config_item(h, key)
        for v in values:
            if not _ffi.set_config_item(h, key, v):
                _ffi.clear_config_item(h, key)
                for o in old:
                    _ffi.set_config_item(h, key, o)
                raise self._fail(f"liblxc refused {key} = {v!r}")

    def __setitem__(self, key: str, value: str) -> None:
        k = _validate.config_key(key)
        v = _validate.config_value(value, k)
        self._h()
        _known(k)
        self._set_all(k, [v])

    def append(self, key: str, value: str) -> None:
        """Add one more value to a multi-valued key."""
        k = _validate.config_key(key)
        v = _validate.config_value(value, k)
        h = self._h()
        _known(k)
        if not _ffi.set_config_item(h, k, v):
            raise self._fail(f"liblxc refused {k} = {v!r}")

    def __delitem__(self, key: str) -> None:
        k = _validate.config_key(key)
        h = self._h()
        _known(k)
        if not self._raw(k):
            raise KeyError(key)
        if not _ffi.clear_config_item(h, k):
            raise self._fail(f"liblxc could not clear {k}")

    # -- the file -------------------------------------------------------------

    def save(self, path: str | os.PathLike[str] | None = None) -> None:
        """Write the configuration to the container's config file (or ``path``)."""
        p = None if path is None else _ffi.enc_path(_validate.path(path))
        if not _ffi.save_config(self._h(), p):
            raise self._fail(f"liblxc could not save the config to {path or 'its file'}")

    def load(self, path: str | os.PathLike[str] | None = None) -> None:
        """Read a config file (the container's own by default) on top of
        the configuration in memory."""
        p = None if path is None else _ffi.enc_path(_validate.path(path))
        h = self._h()
        ok = _ffi.load_config(h, p)
        _ffi.log_attach(h)
        if not ok:
            raise self._fail(f"liblxc could not load the config from {path or 'its file'}")

    def clear(self) -> None:
        """Drop the whole configuration from memory (the file is untouched)."""
        h = self._h()
        _ffi.clear_config(h)
        _ffi.log_attach(h)

    def __repr__(self) -> str:
        return f"<lxcpy.Config of {self._container.name!r}>"


# Calls through the view count as calls on its Container (lxcpy._handles).
guard_methods(Config, lambda cfg: cfg._container._slot)
