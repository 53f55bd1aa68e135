"""Hostile input and host data: what lxcpy refuses before liblxc writes it,
and what destroy() and create() never touch outside a container's directory."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from helpers import NO_NET
from protocol import parse_reply

import lxcpy

# A newline would add a config line of the caller's choosing (a hook that
# liblxc runs as root at start); a carriage return or NUL is as bad.
INJECT = "\nlxc.hook.pre-start = /bin/false\n#"
BAD_TAILS = [INJECT, "\rx", "\0x"]


@pytest.fixture
def host() -> Iterator[str]:
    """A host directory standing for data that must survive (cleaned up)."""
    path = tempfile.mkdtemp(prefix="lxcpy-host-")
    try:
        yield path
    finally:
        _unmount_below(path)
        shutil.rmtree(path, ignore_errors=True)


def _unmount_below(path: str) -> None:
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        points = [line.split(" ")[4] for line in f]
    for p in reversed(points):
        if p.startswith(path + "/"):
            subprocess.run(["umount", "-l", p], check=False)


def _markers(path: str) -> dict[str, str]:
    """Put files in path; returns what each holds."""
    os.makedirs(os.path.join(path, "sub"), exist_ok=True)
    files = {"keep": "precious\n", "sub/also": "more\n"}
    for name, text in files.items():
        with open(os.path.join(path, name), "w") as f:
            f.write(text)
    return files


def _still_there(path: str, files: dict[str, str]) -> None:
    for name, text in files.items():
        with open(os.path.join(path, name)) as f:
            assert f.read() == text, name


def _tree(path: str) -> list[str]:
    return sorted(
        os.path.relpath(os.path.join(d, n), path) for d, ds, fs in os.walk(path) for n in ds + fs
    )


# -- 1. newlines, carriage returns and NULs --------------------------------------


@pytest.mark.parametrize("tail", BAD_TAILS)
def test_bad_lxcpath_is_refused_before_anything_is_made(host: str, tail: str) -> None:
    # "/srv/a\nlxc.hook..." would put the hook line in the saved config;
    # "<host>/srv\nx" would make liblxc use (and destroy()) <host>/srv.
    os.mkdir(os.path.join(host, "srv"))
    for bad in (os.path.join(host, "a" + tail), os.path.join(host, "srv" + tail)):
        with pytest.raises(ValueError):
            lxcpy.Container("x", bad)
        with pytest.raises(ValueError):
            lxcpy.list_containers(bad)
        with pytest.raises(ValueError), lxcpy.ephemeral("busybox", lxcpath=bad, config=NO_NET):
            pass
    assert _tree(host) == ["srv"]


def test_bad_strings_for_config_lines_are_refused(
    base: lxcpy.Container, host: str, lxcpath: str
) -> None:
    target = os.path.join(host, "lxcpath")
    c = lxcpy.Container("x", target)
    try:
        for tail in BAD_TAILS:
            calls = _bad_calls(c, base, host, target, tail)
            for i, call in enumerate(calls):
                with pytest.raises(ValueError):
                    call()
                assert os.listdir(host) == [], (i, tail)
        assert lxcpy.list_containers(lxcpath) == []
    finally:
        c.close()


def _bad_calls(
    c: lxcpy.Container, base: lxcpy.Container, host: str, target: str, tail: str
) -> list[Callable[[], Any]]:
    return [
        lambda: c.create("busybox" + tail, config=NO_NET),
        lambda: c.create("busybox", ["--x" + tail], config=NO_NET),
        lambda: c.create("busybox", config={**NO_NET, "lxc.init.cwd": "/a" + tail}),
        lambda: c.create("busybox", backend="dir" + tail),
        lambda: base.clone("y", lxcpath=os.path.join(host, "l" + tail), snapshot=True),
        lambda: base.clone("y" + tail, lxcpath=target, snapshot=True),
        lambda: base.config.save(os.path.join(host, "cfg" + tail)),
        lambda: lxcpy.ephemeral("busybox" + tail, lxcpath=target),
        lambda: lxcpy.ephemeral("busybox", ["x" + tail], lxcpath=target),
        lambda: lxcpy.ephemeral(base=base, lxcpath=target, config={"lxc.init.cwd": tail}),
        lambda: lxcpy.ephemeral(base=base, lxcpath=target, name="n" + tail),
    ]


def test_rename_and_restore_refuse_bad_names(container: lxcpy.Container) -> None:
    before = sorted(os.listdir(container.lxcpath))
    for tail in BAD_TAILS:
        with pytest.raises(ValueError):
            container.rename("y" + tail)
        with pytest.raises(ValueError):
            container.restore_snapshot("snap0", "y" + tail)
    assert sorted(os.listdir(container.lxcpath)) == before


def test_snapshot_comment_never_reaches_a_config(container: lxcpy.Container) -> None:
    # liblxc copies a comment into its own file (snaps/snapN/comment);
    # it is never written into a config, so it may span lines.
    comment = "first line" + INJECT + "\nlast"
    name = container.snapshot(comment)
    (snap,) = container.snapshots()
    assert snap.name == name and snap.comment == comment
    configs = [container.config_file, os.path.join(snap.lxcpath, name, "config")]
    for path in configs:
        with open(path) as f:
            assert "lxc.hook" not in f.read(), path


def test_helper_refuses_newlines_in_paths_and_template_lines() -> None:
    import socket

    from lxcpy import _ffi, _helper

    if not os.access(_ffi.HELPER_PATH, os.X_OK):
        pytest.skip("lxcpy-helper was not built")
    fds = [os.memfd_create(n, os.MFD_CLOEXEC) for n in ("cfg", "log", "out")]
    cfg, log, out = fds
    start_fds = _ffi.request_fds(_ffi.OP_START, {_ffi.FD_START_CONFIG: cfg, _ffi.FD_START_LOG: log})
    create_fds = _ffi.request_fds(
        _ffi.OP_CREATE,
        {_ffi.FD_CREATE_CONFIG: cfg, _ffi.FD_CREATE_LOG: log, _ffi.FD_CREATE_OUTPUT: out},
    )
    try:
        msgs = [
            _ffi.pack_start("ct", b"/tmp/a" + INJECT.encode(), False, None),
            _ffi.pack_start("ct", b"/tmp/a\rb", False, None),
            _ffi.pack_create("ct", b"/tmp/a\nb", "busybox", None, []),
            _ffi.pack_create("ct", b"/tmp/a", "busybox" + INJECT, None, []),
            _ffi.pack_create("ct", b"/tmp/a", "busybox", None, ["ok", "x" + INJECT]),
        ]
        h = _helper._get()
        for i, msg in enumerate(msgs):
            assert msg is not None
            mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            with mine:
                use = start_fds if i < 2 else create_fds
                socket.send_fds(h.sock, [msg], [theirs.fileno(), *use])
                theirs.close()
                mine.settimeout(30)
                reply = parse_reply(mine.recv(64))
            assert reply is not None
            assert reply[0] == -22, i  # -EINVAL, refused before any worker
    finally:
        for fd in fds:
            os.close(fd)


# -- 11. create() makes a missing lxcpath ------------------------------------------


def test_create_makes_a_missing_lxcpath(host: str) -> None:
    lxcpath = os.path.join(host, "a", "b", "containers")
    old = os.umask(0o022)
    try:
        with lxcpy.Container("web", lxcpath) as c:
            c.create("busybox", config=NO_NET)
            try:
                assert c.defined
                for d in (os.path.join(host, "a"), os.path.join(host, "a", "b"), lxcpath):
                    assert stat.S_IMODE(os.stat(d).st_mode) == 0o755, d
                assert lxcpy.list_containers(lxcpath) == ["web"]
            finally:
                c.destroy()
    finally:
        os.umask(old)


def test_failed_create_removes_the_lxcpath_it_made(host: str) -> None:
    lxcpath = os.path.join(host, "a", "containers")
    with lxcpy.Container("web", lxcpath) as c, pytest.raises(lxcpy.CreateError):
        c.create("no-such-template-lxcpy", config=NO_NET)
    assert os.listdir(host) == []


# -- 12. failures of OS calls are LxcErrors ------------------------------------------


def test_missing_device_node_is_a_device_error(running: lxcpy.Container) -> None:
    for call in (running.add_device_node, running.remove_device_node):
        with pytest.raises(lxcpy.DeviceError) as ei:
            call("/dev/no-such-device-lxcpy")
        assert isinstance(ei.value, FileNotFoundError)
        assert ei.value.errno == 2 and ei.value.filename == "/dev/no-such-device-lxcpy"
        assert "/dev/no-such-device-lxcpy" in str(ei.value)
    with pytest.raises(lxcpy.DeviceError) as ei:
        running.add_device_node("/dev/null", "/dev/no-such-device-lxcpy")
    assert isinstance(ei.value, FileNotFoundError)


def test_missing_mount_source_is_a_mount_error(running: lxcpy.Container) -> None:
    with pytest.raises(lxcpy.MountError) as ei:
        running.mount("/no/such/source-lxcpy", "/mnt/x")
    assert isinstance(ei.value, FileNotFoundError)


def test_missing_checkpoint_directory_is_a_checkpoint_error(
    container: lxcpy.Container, host: str
) -> None:
    with pytest.raises(lxcpy.CheckpointError) as ei:
        container.restore(os.path.join(host, "none"))
    assert isinstance(ei.value, FileNotFoundError)


def test_unwritable_checkpoint_directory_is_a_checkpoint_error(
    running: lxcpy.Container, host: str
) -> None:
    from lxcpy.checkpoint import criu_problem

    if criu_problem() is not None:
        pytest.skip(f"CRIU cannot work here: {criu_problem()}")
    blocker = os.path.join(host, "file")
    open(blocker, "w").close()
    with pytest.raises(lxcpy.CheckpointError) as ei:
        running.checkpoint(os.path.join(blocker, "dump"))
    assert isinstance(ei.value, NotADirectoryError)


# -- 13. name length and config values liblxc would change -----------------------------


def test_name_length_limit(base: lxcpy.Container, lxcpath: str) -> None:
    ok = "n" * 64
    with base.clone(ok, lxcpath=lxcpath, snapshot=True) as c:
        assert c.defined and c.config["lxc.uts.name"] == ok
        c.start()
        try:
            r = c.run(["hostname"], capture_output=True, text=True)
            assert r.stdout.strip() == ok
        finally:
            c.stop()
        long = "n" * 65
        with pytest.raises(ValueError, match="at most 64"):
            lxcpy.Container(long, lxcpath)
        with pytest.raises(ValueError, match="at most 64"):
            base.clone(long, lxcpath=lxcpath, snapshot=True)
        with pytest.raises(ValueError, match="at most 64"):
            c.rename(long)
        with pytest.raises(ValueError, match="at most 64"):
            lxcpy.ephemeral(base=base, lxcpath=lxcpath, name=long)
        c.destroy()
    assert lxcpy.list_containers(lxcpath) == []


def test_config_values_round_trip_or_are_refused(container: lxcpy.Container) -> None:
    # liblxc's parser drops leading and trailing blanks: refused, naming the key.
    for value in (" /srv", "/srv ", "\t/srv", "/srv\t"):
        with pytest.raises(ValueError, match=r"lxc\.init\.cwd"):
            container.config["lxc.init.cwd"] = value
        with pytest.raises(ValueError, match=r"lxc\.environment"):
            container.config.append("lxc.environment", value)
    # What is accepted comes back unchanged from the file.
    container.config["lxc.init.cwd"] = "/a  b"
    container.config["lxc.environment"] = "A=x  y"
    container.config.save()
    with lxcpy.Container(container.name, container.lxcpath) as again:
        assert again.config["lxc.init.cwd"] == "/a  b"
        assert again.config["lxc.environment"] == "A=x  y"


# -- 14. destroy() and create() never touch host data -------------------------------


def test_destroy_keeps_a_rootfs_outside_the_container(lxcpath: str, host: str) -> None:
    rootfs = os.path.join(host, "rootfs")
    files = _markers(rootfs)
    for opt_in in (False, True):
        c = lxcpy.Container("out", lxcpath)
        try:
            c.create(None, config={**NO_NET, "lxc.rootfs.path": f"dir:{rootfs}"})
            c.destroy(rootfs_outside=opt_in)
            assert not c.defined
            assert not os.path.lexists(os.path.join(lxcpath, "out"))
        finally:
            c.close()
        if not opt_in:
            _still_there(rootfs, files)
        else:
            assert not os.path.exists(rootfs)
    with pytest.raises(TypeError):
        lxcpy.Container("out", lxcpath).destroy(rootfs_outside="yes")  # type: ignore[arg-type]


def test_destroy_keeps_a_rootfs_symlinked_outside(lxcpath: str, host: str) -> None:
    rootfs = os.path.join(host, "rootfs")
    files = _markers(rootfs)
    with lxcpy.Container("out", lxcpath) as c:
        c.create(None, config=NO_NET)
        link = os.path.join(lxcpath, "out", "rootfs-link")
        os.symlink(rootfs, link)
        c.config["lxc.rootfs.path"] = f"dir:{link}"
        c.config.save()
        c.destroy()
        assert not c.defined
    _still_there(rootfs, files)


def test_destroy_refuses_a_mount_inside(container: lxcpy.Container, host: str) -> None:
    files = _markers(host)
    upper = container.config["lxc.rootfs.path"].split(":")[-1]
    point = os.path.join(upper, "mnt", "host")
    os.makedirs(point)
    subprocess.run(["mount", "--bind", host, point], check=True)
    try:
        with pytest.raises(lxcpy.DestroyError, match="mounted") as ei:
            container.destroy()
        assert point in str(ei.value)
        assert container.defined
        _still_there(host, files)
    finally:
        subprocess.run(["umount", point], check=True)
    container.destroy()
    assert not container.defined
    _still_there(host, files)


def test_destroy_refuses_a_symlinked_container_directory(lxcpath: str, host: str) -> None:
    files = _markers(host)
    with open(os.path.join(host, "config"), "w") as f:
        f.write("lxc.net.0.type = empty\nlxc.uts.name = ln\n")
    files["config"] = "lxc.net.0.type = empty\nlxc.uts.name = ln\n"
    link = os.path.join(lxcpath, "ln")
    os.symlink(host, link)
    try:
        with lxcpy.Container("ln", lxcpath) as c:
            assert c.defined
            with pytest.raises(lxcpy.DestroyError, match="symlink"):
                c.destroy()
        _still_there(host, files)
    finally:
        os.unlink(link)


def test_create_refuses_a_symlinked_container_directory(lxcpath: str, host: str) -> None:
    os.symlink(host, os.path.join(lxcpath, "ln"))
    with lxcpy.Container("ln", lxcpath) as c:
        with pytest.raises(lxcpy.CreateError, match="symlink") as ei:
            c.create("busybox", config=NO_NET)
        assert isinstance(ei.value, FileExistsError)
    assert os.listdir(host) == []
    with contextlib.suppress(OSError):
        os.unlink(os.path.join(lxcpath, "ln"))


@pytest.mark.parametrize("fresh_handle", [False, True])
def test_destroy_keeps_an_overlay_upper_outside(
    container: lxcpy.Container, host: str, fresh_handle: bool
) -> None:
    # (liblxc returns lxc.rootfs.path without its "overlay:" once it has
    # parsed it: a fresh handle shows "lower:upper".)
    lower = container.config["lxc.rootfs.path"].split(":")[-2]
    upper = os.path.join(host, "upper")
    files = _markers(upper)
    container.config["lxc.rootfs.path"] = f"overlay:{lower}:{upper}"
    container.config.save()
    if fresh_handle:
        with lxcpy.Container(container.name, container.lxcpath) as again:
            assert again.config["lxc.rootfs.path"] == f"{lower}:{upper}"
            again.destroy()
    else:
        container.destroy()
    assert not container.defined
    assert not os.path.lexists(os.path.join(container.lxcpath, container.name))
    _still_there(upper, files)
    assert os.path.isdir(lower)
