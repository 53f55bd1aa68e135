"""Checked calls for the extras modules: an ``Operation`` with the
exception class chosen by the caller (see lxcpy._check)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lxcpy._check import Operation
from lxcpy.errors import LxcError

if TYPE_CHECKING:
    from lxcpy.container import Container


def op(container: Container, name: str, error: type[LxcError]) -> Operation:
    return Operation(container._capture, container._handle(), container.name, name, error)
