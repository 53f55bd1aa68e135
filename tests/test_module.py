"""Module-level API."""

from __future__ import annotations

import os

import pytest

import lxcpy


def test_version() -> None:
    v = lxcpy.lxc_version()
    assert isinstance(v, str)
    assert v.split(".")[0].isdigit()
    assert isinstance(lxcpy.__version__, str)


def test_api_extensions() -> None:
    # Present in every liblxc since 3.0.
    assert lxcpy.has_api_extension("lxc_log") is True
    assert lxcpy.has_api_extension("no_such_extension_xyz") is False


def test_config_item_supported() -> None:
    assert lxcpy.config_item_supported("lxc.uts.name") is True
    assert lxcpy.config_item_supported("lxc.no.such.key") is False


def test_global_config_item_and_default_lxcpath() -> None:
    assert lxcpy.global_config_item("lxc.lxcpath") == lxcpy.default_lxcpath()
    assert os.path.isabs(lxcpy.default_lxcpath())
    with pytest.raises(KeyError):
        lxcpy.global_config_item("lxc.no.such.key")


def test_list_containers(base: lxcpy.Container, lxcpath: str) -> None:
    assert lxcpy.list_containers(lxcpath) == []
    a = base.clone("b", lxcpath=lxcpath, snapshot=True)
    b = base.clone("a", lxcpath=lxcpath, snapshot=True)
    try:
        assert lxcpy.list_containers(lxcpath) == ["a", "b"]
        assert lxcpy.list_containers(lxcpath, active=False) == ["a", "b"]
        assert lxcpy.list_containers(lxcpath, defined=False) == []
        with a.started():
            assert lxcpy.list_containers(lxcpath, defined=False) == ["b"]
            assert lxcpy.list_containers(lxcpath) == ["a", "b"]
        assert lxcpy.list_containers(lxcpath, active=False, defined=False) == []
    finally:
        a.close()
        b.close()


def test_list_containers_missing_dir(tmp_path: os.PathLike[str]) -> None:
    assert lxcpy.list_containers(os.path.join(tmp_path, "nope")) == []


@pytest.mark.parametrize("bad", [1, None, b"x"])
def test_module_functions_refuse_non_str(bad: object) -> None:
    for fn in (lxcpy.has_api_extension, lxcpy.config_item_supported, lxcpy.global_config_item):
        with pytest.raises(TypeError):
            fn(bad)  # type: ignore[arg-type]


def test_module_functions_refuse_nul() -> None:
    for fn in (lxcpy.has_api_extension, lxcpy.config_item_supported, lxcpy.global_config_item):
        with pytest.raises(ValueError):
            fn("lxc.\0lxcpath")
    with pytest.raises(ValueError):
        lxcpy.list_containers("/tmp/\0x")


def test_state_enum() -> None:
    names = [s.name for s in lxcpy.State]
    assert names == [
        "STOPPED",
        "STARTING",
        "RUNNING",
        "STOPPING",
        "ABORTING",
        "FREEZING",
        "FROZEN",
        "THAWED",
    ]
    assert str(lxcpy.State.RUNNING) == "RUNNING"
