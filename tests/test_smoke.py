"""A smoke test of the raw layer and of the fixtures."""

from __future__ import annotations

import lxcpy
from lxcpy import _ffi


def test_raw_layer_version() -> None:
    assert _ffi.version() == lxcpy.lxc_version()
    assert lxcpy.lxc_version().count(".") >= 1


def test_clone_fixture_starts(container: lxcpy.Container) -> None:
    assert container.defined
    assert container.state is lxcpy.State.STOPPED
    with container.started():
        assert container.state is lxcpy.State.RUNNING
        assert container.init_pid is not None
    assert container.state is lxcpy.State.STOPPED
