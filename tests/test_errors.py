"""Errors: typed, carrying liblxc's own reason; bad input refused before C
with nothing written to disk."""

from __future__ import annotations

import os
import pathlib

import pytest
from helpers import NO_NET

import lxcpy

BAD_NAMES = [
    "",
    ".",
    "..",
    "a/b",
    "../x",
    "/abs",
    "a\0b",
    "\0",
    "x\ny",
    "with space",
    "\t",
    "a\x7f",
]


def _tree(path: str) -> list[str]:
    out = []
    for root, dirs, files in os.walk(path):
        out += [os.path.join(root, n) for n in dirs + files]
    return sorted(out)


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_container_names_refused(name: str, lxcpath: str) -> None:
    with pytest.raises(ValueError):
        lxcpy.Container(name, lxcpath)
    assert _tree(lxcpath) == []


@pytest.mark.parametrize("name", [None, 1, b"web", ["web"], pathlib.Path("web")])
def test_non_str_names_refused(name: object, lxcpath: str) -> None:
    with pytest.raises(TypeError):
        lxcpy.Container(name, lxcpath)  # type: ignore[arg-type]


def test_bad_lxcpath_refused() -> None:
    with pytest.raises(ValueError):
        lxcpy.Container("x", "/tmp/a\0b")
    with pytest.raises(ValueError):
        lxcpy.Container("x", "")
    with pytest.raises(TypeError):
        lxcpy.Container("x", 5)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_names_for_rename_and_clone(name: str, container: lxcpy.Container) -> None:
    before = _tree(container.lxcpath)
    with pytest.raises(ValueError):
        container.rename(name)
    with pytest.raises(ValueError):
        container.clone(name)
    assert _tree(container.lxcpath) == before
    assert container.name == "ct"


def test_bad_create_input_writes_nothing(lxcpath: str) -> None:
    c = lxcpy.Container("new", lxcpath)
    bad_calls = [
        lambda: c.create("busybox", config={"lxc.uts.name": "a\nlxc.hook.pre-start = /x"}),
        lambda: c.create("busybox", config={"lxc.uts.name": "a\0b"}),
        lambda: c.create("busybox", config={"lxc.uts.name": "a\rb"}),
        lambda: c.create("busybox", config={1: "x"}),  # type: ignore[dict-item]
        lambda: c.create("busybox", config={"lxc.uts.name": 5}),  # type: ignore[dict-item]
        lambda: c.create("busybox", config={"lxc.bad key": "x"}),
        lambda: c.create("busybox", config=[("lxc.uts.name", "x")]),  # type: ignore[arg-type]
        lambda: c.create("busybox", args="--help"),
        lambda: c.create("busybox", args=["a\0b"]),
        lambda: c.create("busy\0box"),
        lambda: c.create(""),
        lambda: c.create(5),  # type: ignore[arg-type]
        lambda: c.create("busybox", backend="../dir"),
    ]
    for call in bad_calls:
        with pytest.raises((TypeError, ValueError)):
            call()
    assert _tree(lxcpath) == []
    assert not c.defined
    c.close()


def test_unknown_config_key_in_create_is_config_error(lxcpath: str) -> None:
    with lxcpy.Container("new", lxcpath) as c:
        with pytest.raises(lxcpy.ConfigError):
            c.create("busybox", config={"lxc.no.such.key": "1"})
        assert _tree(lxcpath) == []


def test_bad_config_input(container: lxcpy.Container) -> None:
    cfg = container.config
    with pytest.raises(ValueError):
        cfg["lxc.uts.name"] = "a\nlxc.hook.start = /bin/evil"
    with pytest.raises(ValueError):
        cfg["lxc.uts.name"] = "a\0"
    with pytest.raises(TypeError):
        cfg["lxc.uts.name"] = 1  # type: ignore[assignment]
    with pytest.raises(TypeError):
        cfg[1] = "x"  # type: ignore[index]
    with pytest.raises(ValueError):
        cfg["lxc.uts\0.name"] = "x"
    with pytest.raises(lxcpy.ConfigError):
        cfg["lxc.no.such.key"] = "x"
    with pytest.raises(lxcpy.ConfigError):
        _ = cfg["lxc.no.such.key"]
    assert isinstance(lxcpy.ConfigError("x"), ValueError)
    assert cfg["lxc.uts.name"] == "ct"


def test_config_invalid_value_is_config_error_and_keeps_old(container: lxcpy.Container) -> None:
    with pytest.raises(lxcpy.ConfigError) as ei:
        container.config["lxc.tty.max"] = "not-a-number"
    assert ei.value.container == "ct"
    assert container.config["lxc.tty.max"] == "5"


def test_precondition_errors(container: lxcpy.Container, lxcpath: str) -> None:
    with pytest.raises(lxcpy.NotRunningError):
        container.stop()
    with pytest.raises(lxcpy.NotRunningError):
        container.shutdown()
    with pytest.raises(lxcpy.NotRunningError):
        container.freeze()
    with pytest.raises(lxcpy.NotRunningError):
        container.reboot()
    with pytest.raises(lxcpy.AlreadyDefinedError) as ei:
        container.create("busybox")
    assert isinstance(ei.value, FileExistsError)
    container.start()
    with pytest.raises(lxcpy.AlreadyRunningError):
        container.start()
    with pytest.raises(lxcpy.AlreadyRunningError):
        container.destroy()
    with pytest.raises(lxcpy.AlreadyRunningError):
        container.rename("other")
    container.stop()

    ghost = lxcpy.Container("ghost", lxcpath)
    for call in (
        ghost.start,
        ghost.stop,
        ghost.destroy,
        ghost.freeze,
        lambda: ghost.clone("g2"),
        lambda: ghost.rename("g3"),
    ):
        with pytest.raises(lxcpy.NotDefinedError) as nd:
            call()
        assert isinstance(nd.value, LookupError)
        assert nd.value.container == "ghost"
    ghost.close()


def test_clone_onto_existing_name(container: lxcpy.Container, base: lxcpy.Container) -> None:
    with pytest.raises(lxcpy.AlreadyDefinedError):
        base.clone("ct", lxcpath=container.lxcpath, snapshot=True)


def test_start_error_names_the_missing_bridge(container: lxcpy.Container) -> None:
    container.config["lxc.net.0.type"] = "veth"
    container.config["lxc.net.0.link"] = "lxcpynobr0"
    container.config.save()
    with pytest.raises(lxcpy.StartError) as ei:
        container.start()
    err = ei.value
    assert err.container == "ct"
    assert err.operation == "start"
    assert "lxcpynobr0" in str(err)
    assert any("lxcpynobr0" in line for line in err.details)
    assert "'ct'" in str(err) and "start" in str(err)
    assert container.state is lxcpy.State.STOPPED


def test_create_error_keeps_template_output_and_leaves_nothing(lxcpath: str) -> None:
    with lxcpy.Container("bad", lxcpath) as c:
        with pytest.raises(lxcpy.CreateError) as ei:
            c.create("busybox", ["--no-such-option"], config=NO_NET)
        assert "no-such-option" in ei.value.output
        assert "no-such-option" in str(ei.value)
        assert not c.defined
    assert _tree(lxcpath) == []


def test_failed_create_removes_what_it_made(lxcpath: str) -> None:
    # A failed create removes the container directory and the lxcpath
    # directories the call created (a name too long for liblxc is refused
    # before anything is made).
    nested = os.path.join(lxcpath, "new", "deeper")
    for where in (lxcpath, nested):
        with pytest.raises(ValueError):
            lxcpy.Container("x" * 255, where)
        with lxcpy.Container("x", where) as c, pytest.raises(lxcpy.CreateError):
            c.create("no-such-template-xyz", config=NO_NET)
        assert _tree(lxcpath) == []


def test_create_error_missing_template(lxcpath: str) -> None:
    with lxcpy.Container("bad", lxcpath) as c:
        with pytest.raises(lxcpy.CreateError) as ei:
            c.create("no-such-template-xyz", config=NO_NET)
        assert "no-such-template-xyz" in str(ei.value)
        assert ei.value.details
    assert _tree(lxcpath) == []


def test_error_hierarchy() -> None:
    for cls in (
        lxcpy.NotDefinedError,
        lxcpy.AlreadyDefinedError,
        lxcpy.NotRunningError,
        lxcpy.AlreadyRunningError,
        lxcpy.ConfigError,
        lxcpy.CreateError,
        lxcpy.StartError,
        lxcpy.StopError,
        lxcpy.DestroyError,
        lxcpy.CloneError,
        lxcpy.SnapshotError,
        lxcpy.AttachError,
        lxcpy.CgroupError,
        lxcpy.CheckpointError,
        lxcpy.FreezeError,
        lxcpy.RenameError,
        lxcpy.RebootError,
    ):
        assert issubclass(cls, lxcpy.LxcError)
    assert issubclass(lxcpy.UnsupportedError, NotImplementedError)
    e = lxcpy.StartError(
        "boom",
        container="web",
        operation="start",
        details=["lxc web 20260101000000.000 ERROR start - start.c:f:1 - why"],
    )
    assert str(e).startswith("container 'web': start: boom")
    assert "liblxc: why" in str(e)
    assert e.details and e.container == "web" and e.operation == "start"
