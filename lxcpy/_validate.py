"""Refuse bad input before it reaches C (and before anything touches disk)."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from typing import Any


def text(value: Any, what: str) -> str:
    """A str with no NUL: the form every string passed to C must have."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be str, not {type(value).__name__}")
    if "\0" in value:
        raise ValueError(f"{what} must not contain a NUL character: {value!r}")
    return value


def name(value: Any, what: str = "container name") -> str:
    """A container (or snapshot) name: one path component, never empty,
    '.' or '..', no '/', no whitespace or control characters (liblxc
    writes names into config lines and passes them to shell templates)."""
    text(value, what)
    if value in ("", ".", ".."):
        raise ValueError(f"invalid {what}: {value!r}")
    if "/" in value or any(ch.isspace() or not ch.isprintable() for ch in value):
        raise ValueError(
            f"invalid {what} (no '/', whitespace or control characters allowed): {value!r}"
        )
    return str(value)


def path(value: Any, what: str = "path") -> str:
    """A str or os.PathLike path, not empty, no NUL."""
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{what} must be str or os.PathLike, not {type(value).__name__}")
    p = os.fspath(value)
    if isinstance(p, bytes):
        p = os.fsdecode(p)
    text(p, what)
    if p == "":
        raise ValueError(f"{what} must not be empty")
    return p


def config_key(value: Any) -> str:
    text(value, "config key")
    if value == "" or any(ch in value for ch in "\n\r= \t"):
        raise ValueError(f"invalid config key: {value!r}")
    return str(value)


def config_value(value: Any, key: str) -> str:
    text(value, f"value of {key}")
    if "\n" in value or "\r" in value:
        raise ValueError(f"value of {key} must not contain a newline: {value!r}")
    return str(value)


def strings(values: Any, what: str) -> list[str]:
    """A list or tuple of str (a lone str is refused: it is a common slip)."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(f"{what} must be a sequence of str, not {type(values).__name__}")
    return [text(v, f"item of {what}") for v in values]


def timeout(value: Any, what: str = "timeout", *, allow_none: bool = True) -> float | None:
    """A non-negative number of seconds, or None for no limit."""
    if value is None:
        if allow_none:
            return None
        raise TypeError(f"{what} must be a number")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{what} must be a number of seconds, not {type(value).__name__}")
    if math.isnan(value) or value < 0:
        raise ValueError(f"{what} must be >= 0, not {value!r}")
    return float(value)


def whole_seconds(value: float) -> int:
    """liblxc counts whole seconds: round up, so a limit is never shortened."""
    if math.isinf(value):
        return -1
    return max(0, math.ceil(value))
