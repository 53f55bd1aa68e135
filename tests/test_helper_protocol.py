"""The wire format between lxcpy and lxcpy-helper, driven from its one table
(csrc/common/wire_table.h, read through lxcpy._ffi.wire.WIRE_KINDS): every request
kind, every field with its boundary values, packed by the extension and
decoded by the helper's own decoder (csrc/common/wire.c, built with
tests/wire_decode.c by tests/protocol.py);
what each check refuses; the framing; every fd slot, checked by a running
helper; and the protocol version: a helper of another one is refused."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import NEEDS_HELPER, NEUTRAL_CWD
from protocol import (
    HEADER_SIZE,
    INVALID,
    VALID,
    decode,
    defaults,
    expected,
    key,
    pack,
    parse_reply,
    with_header,
)

import lxcpy
from lxcpy import _ffi, _helper, _testing
from lxcpy._ffi import wire

pytestmark = [NEEDS_HELPER]

EINVAL = 22
EPROTO = 71
KINDS = list(wire.WIRE_KINDS.values())


def test_the_table_is_what_the_tests_know() -> None:
    """Every (type, check) the table uses has test values (a new check
    needs them), every kind packs, and the slot constants are the table's."""
    assert {k.name for k in KINDS} >= {"PING", "START", "CREATE", "ATTACH"}
    for k in KINDS:
        for f in k.fields:
            assert key(f) in VALID and key(f) in INVALID, (k.name, f)
        for _slot, check in k.slots:
            assert check in SLOT_FDS, (k.name, check)
    slots = {k.name: [name for name, _check in k.slots] for k in KINDS}
    assert slots["START"].index("CONFIG") + 1 == _ffi.FD_START_CONFIG
    assert slots["START"].index("LOG") + 1 == _ffi.FD_START_LOG
    assert slots["CREATE"].index("CONFIG") + 1 == _ffi.FD_CREATE_CONFIG
    assert slots["CREATE"].index("LOG") + 1 == _ffi.FD_CREATE_LOG
    assert slots["CREATE"].index("OUTPUT") + 1 == _ffi.FD_CREATE_OUTPUT
    assert slots["ATTACH"].index("LOG") + 1 == wire.FD_ATTACH_LOG
    assert slots["ATTACH"].index("ERR") + 1 == wire.FD_ATTACH_ERR
    with pytest.raises(ValueError, match="fields"):
        wire.pack_request(wire.OP_PING, {"surplus": 1})
    with pytest.raises(ValueError, match="slots"):
        _ffi.request_fds(_ffi.OP_START, {_ffi.FD_START_CONFIG: 5})


def round_trip_cases() -> Iterator[tuple[int, dict[str, wire.FieldValue]]]:
    for k in KINDS:
        yield k.op, defaults(k.op)
        for f in k.fields:
            for value in VALID[key(f)]:
                yield k.op, {**defaults(k.op), f.name: value}
        fd_fields = [f.name for f in k.fields if f.type == wire.FIELD_FD]
        if fd_fields:
            # Each its own fd; all the same one (sent once); every other.
            yield k.op, {**defaults(k.op), **{n: 100 + i for i, n in enumerate(fd_fields)}}
            yield k.op, {**defaults(k.op), **dict.fromkeys(fd_fields, 100)}
            yield k.op, {**defaults(k.op), **{n: 100 for n in fd_fields[::2]}}


def test_round_trip_every_kind_and_field() -> None:
    cases = list(round_trip_cases())
    packed = [pack(op, fields) for op, fields in cases]
    results = decode([msg for msg, _fds in packed])
    for (op, fields), (_msg, fds), got in zip(cases, packed, results, strict=True):
        assert not isinstance(got, int), (fields, got)
        name, values = got
        assert name == wire.WIRE_KINDS[op].name
        assert values == expected(op, fields, fds), fields
        # The FD fields' fds go once each, in the order of the table.
        fd_values = [fields[f.name] for f in wire.WIRE_KINDS[op].fields if f.type == wire.FIELD_FD]
        assert fds == list(dict.fromkeys(v for v in fd_values if isinstance(v, int) and v >= 0))


def test_every_check_refuses_what_it_should() -> None:
    cases = [(k.op, f.name, value) for k in KINDS for f in k.fields for value in INVALID[key(f)]]
    assert cases
    results = decode([pack(op, {**defaults(op), name: value})[0] for op, name, value in cases])
    for case, got in zip(cases, results, strict=True):
        assert got == EINVAL, case


def test_fd_indexes_are_checked() -> None:
    """An FD field names one of the fds after the fixed slots, or none;
    every such fd is some FD field's."""
    msgs: list[bytes] = []
    for k in KINDS:
        msg, _ = pack(k.op, defaults(k.op))
        nfds = 1 + len(k.slots)
        # One fd more than the fields use.
        msgs.append(with_header(msg, nfds=nfds + 1))
        for f in k.fields:
            if f.type != wire.FIELD_FD:
                continue
            with_fd, _ = pack(k.op, {**defaults(k.op), f.name: 100})
            without, _ = pack(k.op, {**defaults(k.op), f.name: -1})
            diff = [i for i in range(HEADER_SIZE, len(with_fd)) if with_fd[i] != without[i]]
            at = diff[0]
            assert diff[-1] < at + 4
            for bad in [-2, 0, *range(1, nfds), nfds + 1, 2**31 - 1]:
                msgs.append(
                    with_fd[:at] + bad.to_bytes(4, sys.byteorder, signed=True) + with_fd[at + 4 :]
                )
    assert all(got == EINVAL for got in decode(msgs))


def test_framing_is_checked() -> None:
    msgs: list[tuple[str, bytes, int]] = []
    for k in KINDS:
        msg, _ = pack(k.op, defaults(k.op))
        n = len(msg)
        for cut in range(n):
            msgs.append((f"{k.name} cut to {cut}", with_header(msg[:cut], len=cut)[:cut], EINVAL))
        msgs.append((f"{k.name} a byte more", with_header(msg + b"\0", len=n + 1), EINVAL))
        msgs.append((f"{k.name} lying len", with_header(msg, len=n - 1), EINVAL))
        msgs.append((f"{k.name} magic", with_header(msg, magic=0x6C787069), EINVAL))
        msgs.append((f"{k.name} no reply slot", with_header(msg, nfds=0), EINVAL))
        msgs.append((f"{k.name} too few fds", with_header(msg, nfds=len(k.slots)), EINVAL))
        msgs.append((f"{k.name} too many fds", with_header(msg, nfds=1 << 30), EINVAL))
        msgs.append((f"{k.name} version", with_header(msg, version=_ffi.WIRE_VERSION ^ 1), EPROTO))
        # The kind of another: its fields do not fit.
        for other in KINDS:
            if other is not k:
                msgs.append((f"{k.name} as {other.name}", with_header(msg, op=other.op), EINVAL))
    ping, _ = pack(wire.OP_PING, {})
    for op in (0, max(k.op for k in KINDS) + 1, 2**32 - 1):
        msgs.append((f"op {op}", with_header(ping, op=op), EINVAL))
    big = ping + b"\0" * wire.WIRE_MAX_MSG
    msgs.append(("over the limit", with_header(big, len=len(big)), EINVAL))
    msgs.append(("empty", b"", EINVAL))
    results = decode([m for _what, m, _err in msgs])
    for (what, _m, err), got in zip(msgs, results, strict=True):
        assert got == err, what


def test_damaged_messages_are_decoded_or_refused() -> None:
    """Any byte of a request flipped: decoded (a value changed) or
    refused, never a crash (under ASan: make test-asan) nor a hang."""
    msgs = []
    for k in KINDS:
        fields = {f.name: VALID[key(f)][-1] for f in k.fields}
        msg, _ = pack(k.op, fields)
        msgs += [msg[:i] + bytes([msg[i] ^ 0xFF]) + msg[i + 1 :] for i in range(len(msg))]
    for got in decode(msgs):
        assert isinstance(got, (int, tuple))


def test_sizes_are_limited() -> None:
    assert _ffi.pack_start("ct", b"/tmp/x", False, [b"x" * wire.WIRE_MAX_MSG]) is None
    fields = {**defaults(wire.OP_ATTACH), "groups": list(range(wire.WIRE_MAX_MSG // 4))}
    assert wire.pack_request(wire.OP_ATTACH, fields) is None


# -- with a running helper: the fd slots, the version ------------------------


def _memfd() -> int:
    return os.memfd_create("slot", os.MFD_CLOEXEC)


def _pipe_w() -> int:
    r, w = os.pipe()
    os.close(r)
    return w


# An fd each slot check accepts, and one it refuses.
SLOT_FDS = {"REG": (_memfd, _pipe_w), "FIFO": (_pipe_w, _memfd)}


def send(msg: bytes, fds: list[int]) -> tuple[int, int, int, int]:
    """Send msg with a reply socket and fds to the helper: its reply."""
    h = _helper._get()
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    with mine:
        socket.send_fds(h.sock, [msg], [theirs.fileno(), *fds])
        theirs.close()
        mine.settimeout(30)
        reply = parse_reply(mine.recv(64))
    assert reply is not None
    return reply


@pytest.mark.usefixtures("helper_on")
def test_every_fd_slot_is_checked(tmp_path: Path) -> None:
    helper = _testing.helper_pid()
    for k in KINDS:
        fields = defaults(k.op)
        if "lxcpath" in fields:
            fields["lxcpath"] = str(tmp_path).encode()
        msg, extra = pack(k.op, fields)
        assert not extra
        good = [SLOT_FDS[check][0]() for _name, check in k.slots]
        try:
            for i, (name, check) in enumerate(k.slots):
                bad = SLOT_FDS[check][1]()
                try:
                    fds = [*good[:i], bad, *good[i + 1 :]]
                    assert send(msg, fds)[0] == -EINVAL, (k.name, name)
                finally:
                    os.close(bad)
            if good:
                assert send(msg, good[:-1])[0] == -EINVAL, k.name
            more = _memfd()
            try:
                assert send(msg, [*good, more])[0] == -EINVAL, k.name
            finally:
                os.close(more)
            if k.op == _ffi.OP_START:
                # With the right fds it passes the checks: the worker
                # starts (and fails: there is no such container).
                err, kind, _status, _pid = send(msg, good)
                assert err == 0 and kind == _ffi.REPLY_STARTED
            if k.op == wire.OP_PING:
                err, kind, _status, pid = send(msg, good)
                assert err == 0 and kind == wire.REPLY_PONG and pid == helper
        finally:
            for fd in good:
                os.close(fd)
    assert _testing.helper_pid() == helper


@pytest.mark.usefixtures("helper_on")
def test_a_request_of_another_version_is_refused() -> None:
    helper = _testing.helper_pid()
    ping = pack(wire.OP_PING, {})[0]
    assert send(with_header(ping, version=_ffi.WIRE_VERSION + 1), [])[0] == -EPROTO
    assert send(ping, [])[1] == wire.REPLY_PONG
    assert _testing.helper_pid() == helper


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=NEUTRAL_CWD,
        env={**os.environ, "LXCPY_HELPER": "1"},
    )


# Run in the child after its test: what it left running (nothing).
LEFT = """
def left():
    me = str(os.getpid())
    out = []
    for p in os.listdir("/proc"):
        try:
            stat = open(f"/proc/{p}/stat").read()
        except OSError:
            continue
        if p.isdigit() and stat[stat.rindex(")") + 2 :].split()[1] == me:
            out.append(p)
    return out
"""


def test_a_helper_of_another_version_refuses(container: lxcpy.Container) -> None:
    r = run_python(
        f"""
        import os, time
        import lxcpy
        from lxcpy import _ffi, _helper, _testing
        {textwrap.indent(LEFT, " " * 8).strip()}
        ours = _ffi.WIRE_VERSION
        _ffi.WIRE_VERSION = wrong = ours ^ 0x5A5A5A
        c = lxcpy.Container({container.name!r}, {container.lxcpath!r})
        t = time.monotonic()
        try:
            c.start()
        except lxcpy.HelperError as e:
            took = time.monotonic() - t
            assert e.expected == wrong and e.found == ours, (e.expected, e.found)
            assert e.path == _ffi.HELPER_PATH
            assert str(wrong) in str(e) and str(ours) in str(e) and e.path in str(e), str(e)
            assert took < 10, took
            print("refused:", e)
        assert not c.running
        assert _testing.current_helper_pid() is None
        assert left() == [], left()
        # This build's version: served.
        _ffi.WIRE_VERSION = ours
        assert _testing.helper_pid() > 0
        print("served")
        """
    )
    assert "refused: " in r.stdout and "served" in r.stdout, r.stdout + r.stderr
    assert "from another build" in r.stdout


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ("exec sleep 60", "said no hello within 1 s"),
        ("exit 0", "exited before it said hello"),
        ("printf xx >&3; exec sleep 60", "sent no hello this build understands"),
    ],
)
def test_a_helper_that_says_no_hello_is_refused(tmp_path: Path, script: str, message: str) -> None:
    fake = tmp_path / "lxcpy-helper"
    fake.write_text(f"#!/bin/sh\n{script}\n")
    fake.chmod(0o755)
    r = run_python(
        f"""
        import os, time
        import lxcpy
        from lxcpy import _ffi, _helper, _testing
        {textwrap.indent(LEFT, " " * 8).strip()}
        _ffi.HELPER_PATH = {str(fake)!r}
        _helper._HELLO_WITHIN = 1.0
        t = time.monotonic()
        try:
            _testing.helper_pid()
        except lxcpy.HelperError as e:
            assert e.path == {str(fake)!r} and e.path in str(e) and e.found is None
            assert str(_ffi.WIRE_VERSION) in str(e)
            print("refused:", e, time.monotonic() - t)
        assert left() == [], left()
        print("nothing left")
        """
    )
    assert "refused: " in r.stdout and "nothing left" in r.stdout, r.stdout + r.stderr
    assert message in r.stdout
    took = float(r.stdout.split()[-3])
    assert took < 8, took


@pytest.mark.parametrize("call", ["start", "run"])
def test_ctrl_c_while_a_new_helper_says_nothing(
    tmp_path: Path, container: lxcpy.Container, call: str
) -> None:
    """A Ctrl-C while the helper a call needs is being spawned and has
    not said hello gets through within a fraction of a second, though the
    call holds Ctrl-C back (before: only once _HELLO_WITHIN had passed),
    and the new helper is killed and reaped."""
    fake = tmp_path / "lxcpy-helper"
    spawned = tmp_path / "spawned"
    fake.write_text(f"#!/bin/sh\n: > {spawned}\nexec sleep 60\n")
    fake.chmod(0o755)
    if call == "run":
        container.start()
    r = run_python(
        f"""
        import os, signal, threading, time
        import lxcpy
        from lxcpy import _ffi, _helper
        {textwrap.indent(LEFT, " " * 8).strip()}
        c = lxcpy.Container({container.name!r}, {container.lxcpath!r})
        _ffi.HELPER_PATH = {str(fake)!r}
        _helper._HELLO_WITHIN = 30.0
        sent = []
        def ctrl_c():
            sent.append(time.monotonic())
            signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
        threading.Timer(0.5, ctrl_c).start()
        try:
            c.{"start()" if call == "start" else 'run(["/bin/true"])'}
        except KeyboardInterrupt:
            print("interrupted after", time.monotonic() - sent[0])
        print("running:", c.running)
        assert left() == [], left()
        print("nothing left")
        """
    )
    assert "nothing left" in r.stdout, r.stdout + r.stderr
    assert "interrupted after" in r.stdout, r.stdout + r.stderr
    took = float(r.stdout.split("interrupted after")[1].split()[0])
    assert took < 1.0, took
    assert f"running: {call == 'run'}" in r.stdout
    # The Ctrl-C came while the helper was there, not before the call.
    assert spawned.exists()
