"""The Container class: one liblxc handle and the container's lifecycle."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

from lxcpy import _attach, _ffi, _sigint, _undo, _validate, _worker
from lxcpy import cgroup as _cgroup
from lxcpy import checkpoint as _checkpoint
from lxcpy import console as _console
from lxcpy import devices as _devices
from lxcpy import fds as _fds
from lxcpy import network as _network
from lxcpy import snapshot as _snapshot
from lxcpy._cgroupfs import host_layout
from lxcpy._handles import Slot, guard_methods
from lxcpy._operation import Operation
from lxcpy._system import default_lxcpath
from lxcpy.cgroup import Cgroup, Stats
from lxcpy.config import Config, validated_items
from lxcpy.console import Console
from lxcpy.errors import (
    AlreadyDefinedError,
    AlreadyRunningError,
    CreateError,
    DestroyError,
    LxcError,
    NotDefinedError,
    NotRunningError,
    StopTimeoutError,
    UnsupportedError,
    from_os_error,
    with_os_error,
)
from lxcpy.process import Process
from lxcpy.snapshot import Snapshot
from lxcpy.state import State

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from lxcpy._attach import AttachOptions

__all__ = ["Container"]

_DEFAULT_TIMEOUT = 30.0
# How long one blocking liblxc wait may run before Python looks at signals
# (KeyboardInterrupt) again.
_WAIT_SLICE = 1
# How often reboot() looks for the new init.
_REBOOT_POLL = 0.05
# States in which a start that liblxc refused was beaten by another one
# (a failed start of ours would be ABORTING, STOPPING or STOPPED).
_STARTED_BY_SOMEONE = frozenset(
    s.value for s in (State.STARTING, State.RUNNING, State.FREEZING, State.FROZEN, State.THAWED)
)


class Container:
    """A handle on one container, defined or not, in one lxcpath.

    The object owns one liblxc reference. ``close()`` releases it, and so
    do leaving ``with`` and garbage collection; closing never stops or
    destroys the container. After ``close()`` every operation raises
    ``ValueError``, like a closed file.
    """

    __slots__ = ("__weakref__", "_lxcpath", "_name", "_slot")

    def __init__(self, name: str, lxcpath: str | os.PathLike[str] | None = None) -> None:
        self._name = _validate.container_name(name)
        self._lxcpath = os.path.abspath(
            default_lxcpath() if lxcpath is None else _validate.path(lxcpath, "lxcpath")
        )
        h = _ffi.handle_new(self._name, _ffi.enc_path(self._lxcpath))
        if h is None:
            err = _ffi.errno()
            raise LxcError(
                f"liblxc could not open a handle: {os.strerror(err)}",
                container=self._name,
                operation="open",
                errno=err,
            )
        self._adopt(h)
        if not _ffi.is_defined(h):
            self._load_defaults()

    def _replace_handle(self, name: str | None = None) -> None:
        """Open a fresh handle on the container (under ``name``, after a
        rename) and make it this object's. Everything kept per handle goes
        with the old one: its configuration, the attach handles and what
        was known of the container's init. The old handle is released once
        no other call uses it (lxcpy._handles)."""
        new = self._name if name is None else name
        h = _ffi.handle_new(new, _ffi.enc_path(self._lxcpath))
        if h is None:
            err = _ffi.errno()
            raise LxcError(
                f"liblxc could not open a handle: {os.strerror(err)}",
                container=new,
                operation="open",
                errno=err,
            )
        _attach.release(self)
        self._name = new
        self._slot.rename(new)
        self._slot.replace(h)
        if not _ffi.is_defined(h):
            self._load_defaults()

    def _adopt(self, h: _ffi.Handle) -> None:
        self._slot = Slot(h, self._name)

    def _load_defaults(self) -> None:
        """Start an undefined container's configuration from liblxc's
        default config (lxc.default_config), as ``lxc-create`` does, so that
        what the user sets before ``create()`` is applied on top of it."""
        default = _ffi.global_config_item("lxc.default_config")
        if default and os.path.isfile(default):
            _ffi.load_config(self._handle(), _ffi.enc_path(default))

    # -- handle lifetime --------------------------------------------------------

    def _handle(self) -> _ffi.Handle:
        return self._slot.current().handle

    def _op(self, name: str, error: type[LxcError] | None = None) -> Operation:
        """The checked-call context for one operation (see lxcpy._operation);
        ``error`` overrides the class that _operation.ERRORS picks by name."""
        h, capture = self._slot.current()
        return Operation(capture, h, self._name, name, error)

    def close(self) -> None:
        """Release the liblxc handle (idempotent). The container is untouched.

        Safe while other threads are inside calls on this object: it is
        closed at once (new calls raise ``ValueError``), and the handle is
        released when the last call in flight returns."""
        if self._slot.close():
            _attach.release(self)

    @property
    def closed(self) -> bool:
        return self._slot.closed

    def __enter__(self) -> Container:
        self._handle()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        # No question to the monitor: a repr (a traceback, a debugger) must
        # not block on a container whose monitor does not answer.
        if self.closed:
            return f"<lxcpy.Container {self._name!r} (closed)>"
        return f"<lxcpy.Container {self._name!r} in {self._lxcpath!r}>"

    # -- properties -------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def lxcpath(self) -> str:
        return self._lxcpath

    @property
    def config_file(self) -> str:
        return _ffi.config_file_name(self._handle()) or os.path.join(
            self._lxcpath, self._name, "config"
        )

    @property
    def defined(self) -> bool:
        return _ffi.is_defined(self._handle())

    @property
    def running(self) -> bool:
        return _ffi.is_running(self._handle())

    @property
    def state(self) -> State:
        return State(_ffi.state(self._handle()))

    @property
    def init_pid(self) -> int | None:
        pid = _ffi.init_pid(self._handle())
        return pid if pid > 0 else None

    @property
    def config(self) -> Config:
        """The container's configuration as a mapping (see lxcpy.Config)."""
        self._handle()
        return Config(self)

    # -- preconditions ------------------------------------------------------------

    def _need_defined(self, operation: str) -> None:
        if not _ffi.is_defined(self._handle()):
            raise NotDefinedError(
                "the container is not defined", container=self._name, operation=operation
            )

    def _need_running(self, operation: str) -> None:
        self._need_defined(operation)
        if not _ffi.is_running(self._handle()):
            raise NotRunningError(
                "the container is not running", container=self._name, operation=operation
            )

    def _need_stopped(self, operation: str) -> None:
        self._need_defined(operation)
        if _ffi.is_running(self._handle()):
            raise AlreadyRunningError(
                "the container is running", container=self._name, operation=operation
            )

    def _reload(self) -> None:
        """Re-read the config file, after work done in a child process or by
        liblxc replacing its config, and re-arm the log capture. A Ctrl-C
        is held back until all three are done: it would leave the handle
        with no configuration, or with a log lxcpy no longer reads."""
        h = self._handle()
        with _sigint.deferred():
            _ffi.clear_config(h)
            _ffi.load_config(h, None)
            _ffi.log_attach(h)

    # -- lifecycle ------------------------------------------------------------------

    def create(
        self,
        template: str | None = None,
        args: Sequence[str] = (),
        *,
        backend: str | None = None,
        config: Mapping[str, str] | None = None,
    ) -> None:
        """Create the container, with a template (e.g. ``"busybox"``) and its
        arguments, on a storage backend (``"dir"`` by default).

        ``config`` items are applied before creating, on top of liblxc's
        default config. The template runs quietly; what it printed is kept
        in ``CreateError.output`` if creating fails. A missing lxcpath is
        made (with its parents, mode 0755), as ``lxc-create`` does; a
        container directory that is a symlink is refused (liblxc would
        write through it). The container's directory is claimed first
        (``AlreadyDefinedError`` when it exists: of two concurrent creates,
        one wins). A create that raises, KeyboardInterrupt included, leaves
        nothing behind: the template and its processes are killed, and what
        the call made is removed.
        """
        if template is not None:
            # liblxc writes the template and its arguments into the config
            # (as comment lines): one line each.
            _validate.line(template, "template")
            if template == "":
                raise ValueError("template must not be empty")
        argv = _validate.lines(args, "args")
        if backend is not None:
            _validate.name(backend, "backend")
        items = validated_items(config or {})
        made: list[str] = []
        reloaded = False
        # Whatever point a Ctrl-C falls on, up to the return (the method
        # guard's epilogue too: create is not guarded by guard_methods),
        # what the call made is removed.
        try:
            self._slot.enter()
            try:
                self._create(template, argv, backend, items, made)
                reloaded = True
                self._reload()
            finally:
                self._slot.leave()
        except BaseException:
            # Interrupted, or the helper died: the worker and the template
            # are gone by now.
            _unclaim(made)
            if reloaded:
                self._forget_removed()
            raise

    def _forget_removed(self) -> None:
        """After a create() that raised once its handle had reloaded the
        new configuration: give the object a fresh handle (that
        configuration's rootfs path would fail the next create), inside the
        guard, unless another thread closed the object meanwhile."""
        try:
            self._slot.enter()
        except ValueError:
            return  # closed: nothing uses this handle again
        try:
            with contextlib.suppress(LxcError):
                self._replace_handle()
        finally:
            self._slot.leave()

    def _create(
        self,
        template: str | None,
        argv: list[str],
        backend: str | None,
        items: list[tuple[str, str]],
        made: list[str],
    ) -> None:
        self._handle()
        if self.defined:
            raise AlreadyDefinedError(
                "the container already exists", container=self._name, operation="create"
            )
        for key, value in items:
            self.config[key] = value
        h = self._handle()
        home = os.path.join(self._lxcpath, self._name)
        if os.path.islink(home):
            raise with_os_error(
                CreateError,
                f"{home} is a symlink: lxcpy does not create a container through one",
                errno.EEXIST,
                filename=home,
                container=self._name,
                operation="create",
            )
        out = -1
        try:
            # Each fd and directory made is recorded before a Ctrl-C can
            # come between (lxcpy._sigint).
            with _sigint.deferred():
                out = os.memfd_create("lxcpy-template", os.MFD_CLOEXEC)
                _claim(self._lxcpath, self._name, made)
            with self._op("create") as op:
                rc = _worker.create(op, h, self._name, self._lxcpath, template, backend, argv, out)
                if rc != 0 or not _ffi.is_defined(h):
                    # liblxc leaves debris behind on some failures (a
                    # half-made directory when a path is too long...):
                    # remove what this call made, and only that.
                    _unclaim(made)
                    output = os.pread(out, 1 << 20, 0).decode("utf-8", "replace")
                    what = f"from template {template!r}" if template else "without a template"
                    op.fail(
                        _worker.describe(f"liblxc could not create the container {what}", rc),
                        output=output,
                    )
        finally:
            if out >= 0:
                os.close(out)

    def start(
        self,
        cmd: Sequence[str] | None = None,
        *,
        use_init: bool = False,
        timeout: float = _DEFAULT_TIMEOUT,
    ) -> None:
        """Start the container (its init, or ``cmd`` as its init; with
        ``use_init`` under lxc-init) and return once it is RUNNING.

        The caller's cgroups are left as they were (liblxc's start runs in a
        short-lived child process). A start that raises, KeyboardInterrupt
        included, raises within about a second and leaves the container
        stopped: what it got going is stopped, by a thread of lxcpy's
        (which the interpreter waits for at exit) if liblxc's monitor is
        still too busy starting to take the request (a slow pre-start hook,
        an AppArmor profile being loaded). One that lost to a concurrent
        start raises ``AlreadyRunningError``.
        """
        argv = None if cmd is None else [_ffi.enc(a) for a in _validate.strings(cmd, "cmd")]
        if argv is not None and not argv:
            raise ValueError("cmd must not be empty")
        limit = _validate.timeout(timeout, allow_none=False)
        assert limit is not None
        begun = False
        # The undo covers every point a Ctrl-C can fall on after liblxc's
        # start is sent, up to the return: the operation's and the method
        # guard's epilogues too (start is not guarded by guard_methods).
        try:
            self._slot.enter()
            try:
                self._need_stopped("start")
                h = self._handle()
                with self._op("start") as op:
                    begun = True
                    rc = _worker.start(op, h, self._name, self._lxcpath, use_init, argv)
                    if rc == 1 and _ffi.state(h) in _STARTED_BY_SOMEONE:
                        # liblxc failed cleanly (its command socket was
                        # taken): another start got there first, and that
                        # one is going. Nothing of this call's to undo,
                        # whatever raises from here on.
                        begun = False
                        op.fail("the container was started concurrently", error=AlreadyRunningError)
                    if rc != 0:
                        op.fail(_worker.describe("liblxc could not start the container", rc))
                    if not self._wait_state(State.RUNNING, limit):
                        op.fail(f"the container did not reach RUNNING within {limit:g} s")
            finally:
                self._slot.leave()
        except AlreadyRunningError:
            raise
        except BaseException:
            if begun:
                self._undo_start()
            raise

    def _undo_start(self) -> None:
        """After a start() that raised: stop what it may have got going
        (lxcpy._undo), waiting about a second for STOPPED through further
        Ctrl-Cs; if liblxc's monitor is still busy starting, the stop is
        completed by a thread of its own as soon as the monitor answers."""
        _undo.stop_in_background(self._name, self._lxcpath, _undo.WAIT)

    def stop(self) -> None:
        """Kill the container (SIGKILL to its init) and wait until it stopped."""
        self._need_running("stop")
        with self._op("stop") as op:
            if not _ffi.stop(self._handle()):
                op.fail("liblxc could not stop the container")

    def shutdown(self, timeout: float = _DEFAULT_TIMEOUT, *, force: bool = False) -> None:
        """Ask the container's init to halt and wait up to ``timeout`` seconds.

        If it has not stopped by then: with ``force``, kill it (``stop()``);
        otherwise raise ``StopTimeoutError`` (a ``TimeoutError``).
        """
        limit = _validate.timeout(timeout, allow_none=False)
        assert limit is not None
        self._need_running("shutdown")
        h = self._handle()
        with self._op("shutdown") as op:
            # Timeout 0: liblxc sends the halt signal (once) and returns;
            # the wait is ours, in slices (KeyboardInterrupt gets through).
            if not _ffi.shutdown(h, 0) and _ffi.is_running(h):
                op.fail("liblxc could not send the halt signal")
            if self._wait_state(State.STOPPED, limit):
                return
            if not force:
                op.fail(f"the container did not halt within {limit:g} s", error=StopTimeoutError)
        self.stop()

    def reboot(self, timeout: float = _DEFAULT_TIMEOUT) -> None:
        """Ask the container's init to reboot and wait up to ``timeout``
        seconds for it to be RUNNING again."""
        limit = _validate.timeout(timeout, allow_none=False)
        assert limit is not None
        self._need_running("reboot")
        h = self._handle()
        with self._op("reboot") as op:
            before = _ffi.init_pid(h)
            # Timeout 0: liblxc sends the reboot signal (once) and returns.
            # Rebooted is RUNNING again with another init, waited for here
            # in short sleeps (KeyboardInterrupt gets through).
            rc = _ffi.reboot(h, 0)
            if rc < 0:
                op.fail("this liblxc cannot reboot with a timeout", error=UnsupportedError)
            if rc == 0:
                op.fail("liblxc could not send the reboot signal")
            deadline = time.monotonic() + limit
            while True:
                pid = _ffi.init_pid(h)
                if pid > 0 and pid != before and _ffi.state(h) == State.RUNNING.value:
                    return
                left = deadline - time.monotonic()
                if left <= 0:
                    op.fail(f"the container did not reboot within {limit:g} s")
                time.sleep(min(_REBOOT_POLL, left))

    def freeze(self) -> None:
        """Freeze every process of the container."""
        self._need_running("freeze")
        h = self._handle()
        nudger = _FreezeNudger(h) if host_layout().version("freezer") == 1 else None
        with self._op("freeze") as op:
            try:
                ok = _ffi.freeze(h)
            finally:
                if nudger is not None:
                    nudger.stop()
            if not ok:
                op.fail("liblxc could not freeze the container")

    def unfreeze(self) -> None:
        """Thaw a frozen container."""
        self._need_running("unfreeze")
        with self._op("unfreeze") as op:
            if not _ffi.unfreeze(self._handle()):
                op.fail("liblxc could not unfreeze the container")

    def wait(self, state: State | str, timeout: float | None = None) -> bool:
        """Wait until the container is in ``state``; like
        ``threading.Event.wait``, return False if ``timeout`` passed first.
        (liblxc counts whole seconds, so a wait may run up to a second long.)"""
        want = _state(state)
        limit = _validate.timeout(timeout)
        self._handle()
        return self._wait_state(want, float("inf") if limit is None else limit)

    def _wait_state(self, want: State, limit: float) -> bool:
        # Slices of a second, so that KeyboardInterrupt gets through, and a
        # close() from another thread ends the wait (ValueError, as any
        # call on a closed Container).
        h = self._handle()
        deadline = time.monotonic() + limit
        while True:
            if _ffi.state(h) == want.value:
                return True
            if self._slot.closed:
                raise ValueError(f"Container {self._name!r} was closed while waiting")
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            # Never liblxc's 0 (no timeout at all on its socket) or -1
            # (forever): one second at most, even when no limit was given.
            if _ffi.wait(h, want.value, _WAIT_SLICE):
                return True

    def destroy(self, *, snapshots: bool = False, rootfs_outside: bool = False) -> None:
        """Destroy the stopped container: its config and its storage (and,
        with ``snapshots``, its snapshots). The object stays open, as an
        undefined container with a fresh default configuration, exactly
        like a new ``Container`` of that name.

        Nothing outside the container's own directory (``lxcpath/name``)
        is deleted, and no mount point is crossed: ``DestroyError`` when
        that directory is a symlink or something is mounted below it
        (nothing is deleted then). A rootfs outside that directory (an
        ``lxc.rootfs.path`` naming a host directory or loop file elsewhere,
        an overlay whose upper directory is elsewhere) is left in place and
        only the container's directory goes, unless ``rootfs_outside=True``
        (then that rootfs is deleted too, but never across a mount point).
        Storage that is not a path (``lvm:``, ``zfs:``, ``rbd:``, ``nbd:``)
        is liblxc's to destroy, as ever. A container with overlay clones
        raises ``DestroyError`` naming them.
        """
        if not isinstance(snapshots, bool) or not isinstance(rootfs_outside, bool):
            raise TypeError("snapshots and rootfs_outside must be bool")
        self._need_stopped("destroy")
        h = self._handle()
        rootfs = _rootfs_spec(h)
        keep_rootfs = _destroy_checks(
            os.path.join(self._lxcpath, self._name), rootfs, rootfs_outside, self._name
        )
        # liblxc's destroy_with_snapshots fails when there is no snapshot
        # directory at all; there is nothing extra to destroy then.
        snaps = os.path.join(self._lxcpath, self._name, "snaps")
        with_snaps = snapshots and os.path.isdir(snaps) and bool(os.listdir(snaps))
        clones = _clones(os.path.join(self._lxcpath, self._name))
        with self._op("destroy") as op:
            if clones:
                # liblxc only says "has snapshots on its rootfs".
                op.fail(
                    "the container has clones (overlay snapshots of it): destroy them first: "
                    + ", ".join(clones)
                )
            if keep_rootfs:
                # Without a rootfs in its config, liblxc removes the
                # container's directory (and its own bookkeeping) only.
                _ffi.clear_config_item(h, "lxc.rootfs.path")
            try:
                ok = _ffi.destroy(h, with_snaps)
            finally:
                if keep_rootfs and _ffi.is_defined(h):
                    _ffi.set_config_item(h, "lxc.rootfs.path", rootfs)
            if not ok:
                op.fail("liblxc could not destroy the container")
        # liblxc's handle keeps the destroyed container's configuration
        # (rootfs path, mounts, environment...): a fresh one is what a new
        # Container would have.
        self._replace_handle()

    def rename(self, new_name: str) -> None:
        """Rename the stopped container; this object then names it."""
        new = _validate.container_name(new_name, "new name")
        self._need_stopped("rename")
        if os.path.lexists(os.path.join(self._lxcpath, new)):
            raise AlreadyDefinedError(
                f"{new!r} already exists in {self._lxcpath}",
                container=self._name,
                operation="rename",
            )
        with self._op("rename") as op:
            if not _ffi.rename(self._handle(), new):
                op.fail(f"liblxc could not rename the container to {new!r}")
        self._replace_handle(new)

    def clone(
        self,
        new_name: str,
        *,
        lxcpath: str | os.PathLike[str] | None = None,
        snapshot: bool = False,
        backend: str | None = None,
        keep_name: bool = False,
        keep_mac: bool = False,
    ) -> Container:
        """Copy the stopped container to ``new_name`` (in ``lxcpath``, by
        default this one's) and return a handle on the copy.

        With ``snapshot``, the copy is a copy-on-write snapshot; for a
        directory-backed container it is an overlay (``backend="overlay"``
        by default then).
        """
        new = _validate.container_name(new_name, "new name")
        dest = os.path.abspath(
            self._lxcpath if lxcpath is None else _validate.path(lxcpath, "lxcpath")
        )
        if backend is not None:
            _validate.name(backend, "backend")
        self._need_defined("clone")
        if os.path.lexists(os.path.join(dest, new)):
            raise AlreadyDefinedError(
                f"{new!r} already exists in {dest}", container=self._name, operation="clone"
            )
        flags = 0
        if snapshot:
            flags |= _ffi.CLONE_SNAPSHOT
            rootfs = self.config.get("lxc.rootfs.path", "")
            if backend is None and (rootfs.startswith(("dir:", "/"))):
                backend = "overlay"
        if keep_name:
            flags |= _ffi.CLONE_KEEPNAME
        if keep_mac:
            flags |= _ffi.CLONE_KEEPMACADDR
        try:
            with self._op("clone") as op:
                h = _ffi.clone(self._handle(), new, _ffi.enc_path(dest), flags, backend)
                if h is None:
                    op.fail(f"liblxc could not clone the container to {new!r} in {dest}")
            # liblxc leaves the copy's handle with a configuration a handle
            # opened afresh would not have (the rootfs path keeps its
            # storage type prefix, which an in-process start cannot open):
            # return a fresh one, as Container(new_name, lxcpath) would be.
            _ffi.handle_free(h)
            return Container(new, dest)
        except LxcError:
            raise  # liblxc's clone failed: it made nothing to keep
        except BaseException:
            # A KeyboardInterrupt that came while liblxc copied is raised
            # once it returns: the copy this call made does not stay.
            _undo_clone(new, dest)
            raise

    # -- running things inside (attach) ------------------------------------------------

    def run(
        self,
        args: Sequence[str | bytes | os.PathLike[str] | os.PathLike[bytes]],
        *,
        input: bytes | str | None = None,
        capture_output: bool = False,
        stdin: int | IO[Any] | None = None,
        stdout: int | IO[Any] | None = None,
        stderr: int | IO[Any] | None = None,
        text: bool = False,
        encoding: str | None = None,
        errors: str | None = None,
        timeout: float | None = None,
        check: bool = False,
        **options: Unpack[AttachOptions],
    ) -> subprocess.CompletedProcess[Any]:
        """Run a program inside the container and wait for it, like
        ``subprocess.run``: ``args[0]`` is searched in the PATH of the
        attached environment; no shell is involved.

        stdio: ``input``, ``capture_output``, ``stdin``/``stdout``/``stderr``
        (None, PIPE, DEVNULL, STDOUT, an fd or a file object), ``text``,
        ``encoding``, ``errors``; ``timeout`` bounds the whole call (the
        attach too: a container whose monitor does not answer) and raises
        ``subprocess.TimeoutExpired``, the process killed (none is left
        running); ``check`` raises
        ``subprocess.CalledProcessError`` on a non-zero status. A missing
        program raises ``FileNotFoundError``, a non-executable one
        ``PermissionError``.

        Attach options: ``env`` (variables set on top of the environment),
        ``clear_env`` (start from an empty one, with a default PATH),
        ``keep_env`` (caller variables kept when clearing), ``cwd``
        (``FileNotFoundError`` if it does not exist in the container),
        ``user``/``group``/``groups`` (numbers, or names from the
        container's /etc/passwd and /etc/group; a user's primary group by
        default; supplementary groups are dropped unless ``groups``),
        ``namespaces`` (``lxcpy.Namespace`` flags; all of the container's by
        default), ``personality``, ``move_to_cgroup``,
        ``drop_capabilities``, ``no_new_privs``, ``lsm_label``,
        ``remount_proc_sys``.
        """
        opts = _attach.options(**options) if options else _attach.DEFAULT
        return _attach.run(
            self,
            args,
            opts,
            input=input,
            capture_output=capture_output,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            text=text,
            encoding=encoding,
            errors=errors,
            timeout=timeout,
            check=check,
        )

    def popen(
        self,
        args: Sequence[str | bytes | os.PathLike[str] | os.PathLike[bytes]],
        *,
        stdin: int | IO[Any] | None = None,
        stdout: int | IO[Any] | None = None,
        stderr: int | IO[Any] | None = None,
        text: bool = False,
        encoding: str | None = None,
        errors: str | None = None,
        **options: Unpack[AttachOptions],
    ) -> Process:
        """Start a program inside the container and return a
        ``lxcpy.Process`` (the ``subprocess.Popen`` surface) once it has been
        executed. Options as for ``run()``."""
        opts = _attach.options(**options) if options else _attach.DEFAULT
        return _attach.popen(
            self,
            args,
            opts,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            text=text,
            encoding=encoding,
            errors=errors,
        )

    def attach(
        self,
        func: Callable[..., Any],
        *args: Any,
        stdin: int | IO[Any] | None = None,
        stdout: int | IO[Any] | None = None,
        stderr: int | IO[Any] | None = None,
        text: bool = False,
        encoding: str | None = None,
        errors: str | None = None,
        kwargs: Mapping[str, Any] | None = None,
        **options: Unpack[AttachOptions],
    ) -> Process:
        """Call ``func(*args, **kwargs)`` in a child process attached to the
        container and return its ``lxcpy.Process``. The exit status is
        func's return value if an int, 0 if None, 1 if it raised (the
        traceback goes to the process's stderr); its ``sys.stdout`` and
        ``sys.stderr`` write to the process's fds 1 and 2 and are flushed
        before it exits; ``os.environ`` is the attached environment. Safe in
        a program with other threads (the fork follows CPython's own
        protocol). Options as for ``run()``."""
        opts = _attach.options(**options) if options else _attach.DEFAULT
        if kwargs is not None and not isinstance(kwargs, Mapping):
            raise TypeError("kwargs must be a mapping")
        return _attach.attach(
            self,
            func,
            args,
            dict(kwargs or {}),
            opts,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            text=text,
            encoding=encoding,
            errors=errors,
        )

    def attach_shell(
        self,
        *,
        shell: str | None = None,
        **options: Unpack[AttachOptions],
    ) -> int:
        """Run an interactive shell inside the container on the caller's
        terminal (stdin, stdout and stderr inherited) and return its exit
        status. ``shell`` defaults to the user's shell in the container's
        /etc/passwd, else /bin/sh. Options as for ``run()``."""
        if shell is not None:
            _validate.text(shell, "shell")
            if not shell:
                raise ValueError("shell must not be empty")
        opts = _attach.options(**options) if options else _attach.DEFAULT
        return _attach.attach_shell(self, opts, shell)

    # -- context managers -------------------------------------------------------------

    @contextmanager
    def started(self, timeout: float = _DEFAULT_TIMEOUT) -> Iterator[Container]:
        """``with c.started():`` the container is RUNNING inside the block;
        on leaving (normally, by exception or by KeyboardInterrupt) the state
        found on entry is restored: a stopped container is stopped again, a
        frozen one frozen again, a running one left running."""
        _validate.timeout(timeout, allow_none=False)
        found = self.state
        try:
            if found is State.FROZEN:
                self.unfreeze()
            elif found is not State.RUNNING:
                self._need_defined("start")
                self.start(timeout=timeout)
            yield self
        finally:
            # Also reached when starting was interrupted (KeyboardInterrupt
            # between liblxc's start and our return).
            if found is State.FROZEN:
                if self.running and self.state is not State.FROZEN:
                    self.freeze()
            elif found is not State.RUNNING and self.running:
                self.stop()

    # -- extras: cgroups, network, devices, console, snapshots, checkpoints ------
    # Thin methods; the work is in lxcpy.cgroup, .network, .devices,
    # .console, .snapshot, .checkpoint and .fds.

    @property
    def cgroup(self) -> Cgroup:
        """The running container's live cgroup values (see lxcpy.Cgroup)."""
        self._handle()
        return Cgroup(self)

    def stats(self) -> Stats:
        """Memory, CPU time, pids, block I/O and per-interface rx/tx bytes."""
        return _cgroup.stats(self)

    def interfaces(self) -> list[str]:
        """Names of the network interfaces inside the running container."""
        return _network.interfaces(self)

    def ips(
        self, interface: str | None = None, family: str | int | None = None, scope: int = 0
    ) -> list[str]:
        """Addresses inside the running container (of one interface, one
        family ``"inet"``/``"inet6"``, one IPv6 scope); [] when none."""
        return _network.ips(self, interface, family, scope)

    def attach_interface(self, dev: str, dst: str | None = None) -> None:
        """Move the host's interface ``dev`` into the container (named ``dst``)."""
        _network.attach_interface(self, dev, dst)

    def detach_interface(self, dev: str, dst: str | None = None) -> None:
        """Move the container's interface ``dev`` back to the host (named ``dst``)."""
        _network.detach_interface(self, dev, dst)

    def add_device_node(
        self, src: str | os.PathLike[str], dst: str | os.PathLike[str] | None = None
    ) -> None:
        """Create the host's device node inside the container and allow it."""
        _devices.add_device_node(self, src, dst)

    def remove_device_node(
        self, src: str | os.PathLike[str], dst: str | os.PathLike[str] | None = None
    ) -> None:
        """Remove a device node from the container and deny it."""
        _devices.remove_device_node(self, src, dst)

    def mount(
        self,
        source: str | os.PathLike[str] | None,
        target: str | os.PathLike[str],
        fstype: str | None = None,
        flags: int = 0,
        data: str | None = None,
    ) -> None:
        """Mount into the running container (needs ``lxc.mount.auto =
        shmounts:<host dir>`` set before start)."""
        _devices.mount(self, source, target, fstype, flags, data)

    def umount(self, target: str | os.PathLike[str], flags: int = 0) -> None:
        """Unmount ``target`` inside the running container."""
        _devices.umount(self, target, flags)

    def console_getfd(self, tty: int = -1) -> Console:
        """``(fd, ttynum)`` of a tty (-1: the first free one; 0: the console);
        a ``lxcpy.Console``, whose ``close()`` closes the fd and frees the tty."""
        return _console.console_getfd(self, tty)

    def console_log(self, *, clear: bool = False, max_bytes: int | None = None) -> bytes:
        """The console output not read yet from the ring buffer
        (``lxc.console.buffer.size``): reading consumes it, as liblxc does;
        ``max_bytes`` reads at most that much; ``clear`` empties the whole
        buffer after reading. b"" when there is nothing new."""
        return _console.console_log(self, clear, max_bytes)

    def snapshot(self, comment: str | None = None) -> str:
        """Snapshot the stopped container; returns the name (``"snap0"``...)."""
        return _snapshot.snapshot(self, comment)

    def snapshots(self) -> list[Snapshot]:
        """The container's snapshots, oldest first."""
        return _snapshot.snapshots(self)

    def restore_snapshot(self, name: str, new_name: str | None = None) -> Container:
        """Restore a snapshot as ``new_name`` (default: over this container)."""
        return _snapshot.restore_snapshot(self, name, new_name)

    def destroy_snapshot(self, name: str) -> None:
        _snapshot.destroy_snapshot(self, name)

    def destroy_snapshots(self) -> None:
        _snapshot.destroy_snapshots(self)

    def checkpoint(
        self, directory: str | os.PathLike[str], *, stop: bool = False, verbose: bool = False
    ) -> None:
        """Dump the running container with CRIU into ``directory``."""
        _checkpoint.checkpoint(self, directory, stop, verbose)

    def restore(self, directory: str | os.PathLike[str], *, verbose: bool = False) -> None:
        """Restore the stopped container from a CRIU dump in ``directory``."""
        _checkpoint.restore(self, directory, verbose)

    def init_pidfd(self) -> int:
        """A pidfd of the container's init (the caller closes it)."""
        return _fds.init_pidfd(self)

    def devpts_fd(self) -> int:
        """An fd of the container's devpts mount (the caller closes it)."""
        return _fds.devpts_fd(self)

    def seccomp_notify_fd(self) -> int:
        """The seccomp notify fd of the running container (the caller closes it)."""
        return _fds.seccomp_notify_fd(self)

    def may_control(self) -> bool:
        """Whether this process may control the container."""
        return _fds.may_control(self)


# Any method may be called from any thread, also while another closes the
# object (lxcpy._handles).
guard_methods(
    Container,
    lambda c: c._slot,
    # start and create enter and leave the guard inside what undoes them
    # when they raise.
    exclude=("close", "closed", "name", "lxcpath", "start", "create"),
)


class _FreezeNudger:
    """On a cgroup v1 freezer, liblxc writes FROZEN to freezer.state once
    and then polls until the cgroup reads FROZEN. A task caught between
    states when that write happens (busybox init in vfork, right after
    start) keeps the cgroup FREEZING for good, and liblxc polls forever.
    Writing FROZEN again makes the kernel retry the stragglers, so while
    liblxc's freeze runs, this thread writes it again now and then."""

    __slots__ = ("_done", "_thread")

    def __init__(self, h: _ffi.Handle) -> None:
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(h,), daemon=True)
        self._thread.start()

    def _run(self, h: _ffi.Handle) -> None:
        pause = 0.05
        while not self._done.wait(pause):
            _ffi.set_cgroup_item(h, "freezer.state", "FROZEN")
            pause = min(pause * 2, 0.5)

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def _state(value: Any) -> State:
    if isinstance(value, State):
        return value
    if isinstance(value, str):
        try:
            return State(value.upper())
        except ValueError:
            pass
    raise ValueError(f"not a container state: {value!r}")


def _claim(lxcpath: str, name: str, made: list[str]) -> None:
    """Make the container's directory, atomically: of two concurrent
    creates, one makes it, the other gets AlreadyDefinedError before it
    touched anything (liblxc then creates into the empty directory, with
    the mode it gives one). Appends to ``made`` the directories made,
    innermost first, as soon as they are: the container's, then the
    missing ones on the way to it."""
    missing = []
    path = lxcpath
    while not os.path.lexists(path) and os.path.dirname(path) != path:
        missing.append(path)
        path = os.path.dirname(path)
    home = os.path.join(lxcpath, name)
    try:
        os.makedirs(lxcpath, 0o755, exist_ok=True)
    except OSError as e:
        _remove_empty(missing)
        raise from_os_error(
            CreateError,
            f"could not make the lxcpath {lxcpath}",
            e,
            filename=e.filename,
            container=name,
            operation="create",
        ) from None
    try:
        os.mkdir(home, 0o700)
        made += [home, *missing]
    except FileExistsError:
        # The directories on the way hold the other's: nothing to remove.
        _remove_empty(missing)
        raise AlreadyDefinedError(
            f"{home} already exists (another create, or what one left)",
            container=name,
            operation="create",
        ) from None
    except OSError as e:
        _remove_empty(missing)
        raise from_os_error(
            CreateError,
            f"could not make {home}",
            e,
            filename=home,
            container=name,
            operation="create",
        ) from None
    try:
        os.chmod(home, 0o770)
    except OSError as e:
        raise from_os_error(
            CreateError,
            f"could not make {home}",
            e,
            filename=home,
            container=name,
            operation="create",
        ) from None


def _unclaim(made: list[str]) -> None:
    """Remove what _claim made (once): the container's directory with what
    is in it, then the directories on the way to it if they are empty
    (another create may be using them)."""
    if not made:
        return
    _remove_tree(made[0])
    _remove_empty(made[1:])
    made.clear()


def _remove_empty(paths: list[str]) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            os.rmdir(path)


def _remove_tree(path: str, dev: int | None = None) -> None:
    """Remove a tree that one failed call created, never following a
    symlink or crossing into another filesystem (a mount left behind stays)."""
    try:
        st = os.lstat(path)
    except OSError:
        return
    if not stat.S_ISDIR(st.st_mode):
        with contextlib.suppress(OSError):
            os.unlink(path)
        return
    if dev is not None and st.st_dev != dev:
        return
    with contextlib.suppress(OSError), os.scandir(path) as entries:
        for entry in entries:
            _remove_tree(entry.path, st.st_dev)
    with contextlib.suppress(OSError):
        os.rmdir(path)


def _undo_clone(name: str, lxcpath: str) -> None:
    """Destroy the copy a clone() that raised made (it checked that nothing
    of that name existed before)."""
    if not os.path.lexists(os.path.join(lxcpath, name)):
        return
    with contextlib.suppress(LxcError), Container(name, lxcpath) as copy:
        if copy.defined:
            copy.destroy()


def _clones(home: str) -> list[str]:
    """The snapshot clones liblxc recorded as depending on the container
    (its lxc_snapshots file: an lxcpath line, then a name line, per clone)."""
    try:
        with open(os.path.join(home, "lxc_snapshots"), encoding="utf-8", errors="replace") as f:
            lines = [ln.strip() for ln in f if ln.strip()]
    except OSError:
        return []
    return [f"{name} in {path}" for path, name in zip(lines[::2], lines[1::2], strict=False)]


def _mount_points() -> list[str]:
    """Every mount point in this process's mount namespace."""
    points = []
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            fields = line.split(" ")
            if len(fields) > 4:
                # Octal escapes for space, tab, newline and backslash.
                points.append(re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4]))
    return points


def _rootfs_paths(rootfs: str) -> list[str]:
    """The host paths liblxc's destroy deletes for an lxc.rootfs.path: the
    directory (dir, btrfs), the file (loop), the upper directory and the
    work directory beside it (overlay); [] for storage that is not a path
    (lvm:, zfs:, rbd:, nbd:) or none."""
    kind, sep, rest = rootfs.partition(":")
    if not sep:
        return [rootfs] if rootfs.startswith("/") else []
    if kind in ("dir", "btrfs", "loop"):
        return [rest]
    if kind in ("overlay", "overlayfs"):
        _lower, sep, upper = rest.partition(":")
        return [upper, os.path.join(os.path.dirname(upper), "olwork")] if sep else []
    if kind in ("lvm", "zfs", "rbd", "nbd"):
        return []
    # A type liblxc does not know: every path in it, to be safe.
    return [rootfs, *(p for p in rootfs.split(":") if p.startswith("/"))]


def _rootfs_spec(h: _ffi.Handle) -> str:
    """The handle's lxc.rootfs.path with its storage type, as liblxc's
    destroy sees it. (Reading the key returns the path without the type
    once liblxc has split it off, so read it from a saved copy.)"""
    fd = -1
    try:
        with _sigint.deferred():
            fd = os.memfd_create("lxcpy-config", os.MFD_CLOEXEC)
        if _ffi.save_config(h, _ffi.enc_path(f"/proc/self/fd/{fd}")):
            os.lseek(fd, 0, os.SEEK_SET)
            with open(fd, encoding="utf-8", errors="surrogateescape", closefd=False) as f:
                found = [
                    value.strip()
                    for key, eq, value in (ln.partition("=") for ln in f)
                    if eq and key.strip() == "lxc.rootfs.path"
                ]
            if found:
                return found[-1]
    finally:
        if fd >= 0:
            os.close(fd)
    return _ffi.get_config_item(h, "lxc.rootfs.path") or ""


def _inside(path: str, top: str) -> bool:
    return os.path.commonpath([path, top]) == top


def _destroy_checks(home: str, rootfs: str, rootfs_outside: bool, name: str) -> bool:
    """Refuse (DestroyError) a destroy that would delete through a symlink
    or across a mount point; return whether the rootfs lies outside the
    container's directory ``home`` and is to be kept."""

    def refuse(message: str) -> DestroyError:
        return DestroyError(message, container=name, operation="destroy")

    try:
        st = os.lstat(home)
    except OSError as e:
        raise from_os_error(
            DestroyError,
            f"cannot inspect the container directory {home}",
            e,
            filename=home,
            container=name,
            operation="destroy",
        ) from None
    if stat.S_ISLNK(st.st_mode):
        raise refuse(
            f"the container directory {home} is a symlink (to {os.readlink(home)!r}): "
            "destroy() does not delete through it"
        )
    if not stat.S_ISDIR(st.st_mode):
        raise refuse(f"the container directory {home} is not a directory")
    top = os.path.realpath(home)
    outside = [p for p in map(os.path.realpath, _rootfs_paths(rootfs)) if not _inside(p, top)]
    tops = [top] + (outside if rootfs_outside else [])
    try:
        mounted = [m for m in _mount_points() if any(m != t and _inside(m, t) for t in tops)]
    except OSError as e:
        raise refuse(f"cannot read /proc/self/mountinfo to check for mounts: {e}") from None
    if mounted:
        raise refuse(
            "something is mounted inside what destroy() would delete (unmount it first): "
            + ", ".join(sorted(set(mounted)))
        )
    return bool(outside) and not rootfs_outside
