"""``lxcpy.ephemeral()``: a container that exists only inside a with block."""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping, Sequence
from types import TracebackType

from lxcpy import _undo, _validate
from lxcpy.config import validated_items
from lxcpy.container import Container
from lxcpy.errors import LxcError

__all__ = ["ephemeral"]


class ephemeral:  # used like a function, as contextlib's are (hence lower case)
    """``with lxcpy.ephemeral("busybox") as c:`` creates a container from a
    template (or, with ``base=<Container>``, an overlay snapshot clone of a
    stopped base, which takes milliseconds), starts it, and yields it
    RUNNING. On leaving the block, normally, by exception or by
    KeyboardInterrupt, the container is stopped and destroyed. If starting
    it raises (Ctrl-C included), that goes up within about a second and
    the container is stopped and destroyed by a thread of lxcpy's once
    liblxc's monitor takes requests (see ``Container.start``).

    ``lxcpath`` defaults to the base's lxcpath, else to the default lxcpath;
    ``name`` defaults to a fresh ``lxcpy-<hex>``.
    """

    __slots__ = (
        "_args",
        "_backend",
        "_base",
        "_config",
        "_container",
        "_lxcpath",
        "_name",
        "_template",
        "_timeout",
    )

    def __init__(
        self,
        template: str | None = None,
        args: Sequence[str] = (),
        *,
        base: Container | None = None,
        config: Mapping[str, str] | None = None,
        lxcpath: str | os.PathLike[str] | None = None,
        name: str | None = None,
        backend: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        if (template is None) == (base is None):
            raise TypeError("ephemeral() takes a template or base=<Container>, not both")
        if base is not None and not isinstance(base, Container):
            raise TypeError(f"base must be a lxcpy.Container, not {type(base).__name__}")
        # Everything is checked here, before anything is made on disk.
        if template is not None:
            _validate.line(template, "template")
            if template == "":
                raise ValueError("template must not be empty")
        self._template = template
        self._args = _validate.lines(args, "args")
        self._base = base
        self._config = dict(validated_items(config or {}))
        if backend is not None:
            _validate.name(backend, "backend")
        if lxcpath is not None:
            lxcpath = _validate.path(lxcpath, "lxcpath")
        elif base is not None:
            lxcpath = base.lxcpath
        self._lxcpath = lxcpath
        self._name = (
            _validate.container_name(name) if name is not None else f"lxcpy-{os.urandom(6).hex()}"
        )
        self._backend = backend
        self._timeout = _validate.timeout(timeout, allow_none=False)
        self._container: Container | None = None

    def __enter__(self) -> Container:
        if self._container is not None:
            raise RuntimeError("ephemeral() is not reentrant")
        starting = False
        try:
            if self._base is not None:
                c = self._base.clone(
                    self._name, lxcpath=self._lxcpath, snapshot=True, backend=self._backend
                )
                self._container = c
                for key, value in self._config.items():
                    c.config[key] = value
                if self._config:
                    c.config.save()
            else:
                c = Container(self._name, self._lxcpath)
                self._container = c
                c.create(self._template, self._args, backend=self._backend, config=self._config)
            assert self._timeout is not None
            starting = True
            c.start(timeout=self._timeout)
        except BaseException:
            if starting:
                self._cleanup_after_start()
            else:
                self._cleanup()
            raise
        return c

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._cleanup()

    def _cleanup_after_start(self) -> None:
        """After a start() that raised: liblxc's monitor may still be too
        busy starting to take a stop (see lxcpy._undo), so the stop and the
        destroy go to lxcpy's thread, waited for only briefly here (start()
        already waited about a second), and at the interpreter's exit."""
        c, self._container = self._container, None
        if c is None:
            return
        name, lxcpath = c.name, c.lxcpath
        c.close()
        _undo.stop_in_background(name, lxcpath, _undo.WAIT / 4, destroy=True)

    def _cleanup(self) -> None:
        c, self._container = self._container, None
        if c is None:
            return
        # A second Ctrl-C must not leave the container behind: hold SIGINT
        # off while cleaning up (only possible from the main thread).
        old = _block_sigint()
        try:
            if c.defined:
                if c.running:
                    c.stop()
                c.destroy(snapshots=True)
        except LxcError:
            if c.defined:
                raise
        finally:
            c.close()
            _restore_sigint(old)


def _block_sigint() -> set[int | signal.Signals] | None:
    try:
        return signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    except (ValueError, OSError):
        return None


def _restore_sigint(old: set[int | signal.Signals] | None) -> None:
    if old is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
