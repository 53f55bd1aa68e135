"""checkpoint()/restore() with CRIU. Whether CRIU works on this kernel is
found out at run time (``criu check``); where it cannot, the API must say
so with CriuUnsupportedError, and the real round trip is skipped with
CRIU's own reason."""

from __future__ import annotations

import os

import pytest

import lxcpy
from lxcpy.checkpoint import criu_problem


def test_checkpoint_restore_round_trip(
    running: lxcpy.Container, tmp_path: os.PathLike[str]
) -> None:
    problem = criu_problem()
    if problem is not None:
        pytest.skip(problem)
    d = os.path.join(tmp_path, "dump")
    running.checkpoint(d, stop=True, verbose=False)
    assert not running.running
    assert os.listdir(d)
    running.restore(d)
    assert running.running


def test_unsupported_kernel_says_why(running: lxcpy.Container, tmp_path: os.PathLike[str]) -> None:
    problem = criu_problem()
    if problem is None:
        pytest.skip("criu check passes here: nothing unsupported to report")
    with pytest.raises(lxcpy.CriuUnsupportedError) as e:
        running.checkpoint(os.path.join(tmp_path, "dump"))
    assert isinstance(e.value, NotImplementedError)
    assert isinstance(e.value, lxcpy.CheckpointError)
    assert problem in str(e.value)
    assert running.running  # untouched
    running.stop()
    os.mkdir(os.path.join(tmp_path, "dump2"))
    with pytest.raises(lxcpy.CriuUnsupportedError):
        running.restore(os.path.join(tmp_path, "dump2"))


def test_checkpoint_failures(container: lxcpy.Container, tmp_path: os.PathLike[str]) -> None:
    with pytest.raises(lxcpy.NotRunningError):
        container.checkpoint(str(tmp_path))
    with pytest.raises(FileNotFoundError):
        container.restore(os.path.join(tmp_path, "missing"))
    container.start()
    with pytest.raises(lxcpy.AlreadyRunningError):
        container.restore(str(tmp_path))


def test_checkpoint_bad_input(running: lxcpy.Container, tmp_path: os.PathLike[str]) -> None:
    with pytest.raises(TypeError):
        running.checkpoint(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        running.checkpoint("")
    with pytest.raises(ValueError):
        running.checkpoint("dir\0x")
    with pytest.raises(TypeError):
        running.checkpoint(str(tmp_path), stop="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        running.restore(str(tmp_path), verbose=1)  # type: ignore[arg-type]
    assert os.listdir(tmp_path) == []


def test_checkpoint_not_defined(lxcpath: str, tmp_path: os.PathLike[str]) -> None:
    with lxcpy.Container("ghost", lxcpath) as c:
        with pytest.raises(lxcpy.NotDefinedError):
            c.checkpoint(str(tmp_path))
        with pytest.raises(lxcpy.NotDefinedError):
            c.restore(str(tmp_path))
    assert os.listdir(lxcpath) == []
