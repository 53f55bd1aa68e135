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


def line(value: Any, what: str) -> str:
    """A str that fits on one line of a config file: no NUL, no newline,
    no carriage return (liblxc writes such strings into config lines, where
    a newline would add a line of the caller's choosing)."""
    text(value, what)
    if "\n" in value or "\r" in value:
        raise ValueError(f"{what} must not contain a newline or carriage return: {value!r}")
    return str(value)


# liblxc writes a container's name into its config as lxc.uts.name (create
# with a template, clone), and its config parser refuses a host name longer
# than HOST_NAME_MAX (64): a 65-character name cannot be created or cloned.
NAME_MAX_LEN = 64


def container_name(value: Any, what: str = "container name") -> str:
    """A container name: a name() of at most NAME_MAX_LEN characters."""
    name(value, what)
    if len(value) > NAME_MAX_LEN:
        raise ValueError(
            f"{what} is {len(value)} characters long; liblxc allows at most {NAME_MAX_LEN} "
            f"(it becomes the container's host name, lxc.uts.name): {value!r}"
        )
    return str(value)


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
    """A str or os.PathLike path, not empty, no NUL, newline or carriage
    return (liblxc writes paths into config lines)."""
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{what} must be str or os.PathLike, not {type(value).__name__}")
    p = os.fspath(value)
    if isinstance(p, bytes):
        p = os.fsdecode(p)
    line(p, what)
    if p == "":
        raise ValueError(f"{what} must not be empty")
    return p


def config_key(value: Any) -> str:
    text(value, "config key")
    if value == "" or any(ch in value for ch in "\n\r= \t"):
        raise ValueError(f"invalid config key: {value!r}")
    return str(value)


def config_value(value: Any, key: str) -> str:
    """A value liblxc can write and read back unchanged: one line, and no
    leading or trailing blank (its config parser strips those on reading)."""
    line(value, f"value of {key}")
    if value != value.strip(" \t"):
        raise ValueError(
            f"value of {key} must not start or end with a space or tab "
            f"(liblxc drops them when it reads the config back): {value!r}"
        )
    return str(value)


def strings(values: Any, what: str) -> list[str]:
    """A list or tuple of str (a lone str is refused: it is a common slip)."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(f"{what} must be a sequence of str, not {type(values).__name__}")
    return [text(v, f"item of {what}") for v in values]


def lines(values: Any, what: str) -> list[str]:
    """strings(), each fitting on one config line (see line())."""
    return [line(v, f"item of {what}") for v in strings(values, what)]


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
