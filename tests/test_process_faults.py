"""Faults found by a hostile review of run()/popen(): communicate() with a
program that writes more than it reads, ids past 2**31, huge
environments, attaching to a dying container, fds left behind by failed
attaches, and Processes inherited through os.fork()."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time

import pytest

import lxcpy

# 32 bytes out per byte in: busybox hexdump, in the container and on the host.
_HEXDUMP = ["hexdump", "-v", "-e", '1/1 "%02x.............................\\n"']


def test_communicate_when_the_program_writes_more_than_it_reads(
    running: lxcpy.Container,
) -> None:
    data = os.urandom(1 << 20)
    want = None
    busybox = shutil.which("busybox")
    if busybox is not None:
        # The same program on the host, through subprocess.
        t0 = time.monotonic()
        with subprocess.Popen(
            [busybox, *_HEXDUMP], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        ) as sp:
            want, _ = sp.communicate(data, timeout=60)
        host = time.monotonic() - t0
        assert len(want) == 32 * len(data)
    p = running.popen(_HEXDUMP, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    result: list[bytes] = []
    failure: list[BaseException] = []

    def talk() -> None:
        try:
            out, _ = p.communicate(data, timeout=60)
            result.append(out)
        except BaseException as e:
            failure.append(e)

    t0 = time.monotonic()
    t = threading.Thread(target=talk)
    t.start()
    t.join(30)
    took = time.monotonic() - t0
    if t.is_alive():
        # Blocked in a write the timeout cannot interrupt: unblock it.
        p.kill()
        t.join(30)
        pytest.fail("communicate() blocked writing to the program's stdin")
    assert not failure, failure
    assert p.returncode == 0
    assert len(result[0]) == 32 * len(data)
    if want is not None:
        assert result[0] == want
        assert took < 10 * host + 5, (took, host)


def test_ids_past_2_to_the_31(running: lxcpy.Container) -> None:
    r = running.run(
        ["sh", "-c", "id -u; id -g; id -G"],
        user=2**31,
        group=2**32 - 2,
        groups=[2**31 + 5, 7],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r
    uid, gid, groups = r.stdout.split("\n")[:3]
    assert (int(uid), int(gid)) == (2**31, 2**32 - 2)
    assert sorted(int(g) for g in groups.split()) == [7, 2**31 + 5, 2**32 - 2]
    # (uid_t)-1 is no id; negative ones are none either.
    for bad in ({"user": 2**32 - 1}, {"user": -1}, {"group": 2**32 - 1}, {"group": -5},
                {"groups": [2**32 - 1]}, {"groups": [-1]}, {"user": 2**40}):
        with pytest.raises(ValueError):
            running.run(["true"], **bad)  # type: ignore[arg-type]


def test_ids_from_the_containers_files_are_checked(running: lxcpy.Container) -> None:
    running.run(
        ["sh", "-c", "echo 'big:x:4294967295:4294967295::/:/bin/sh' >> /etc/passwd;"
         "echo 'neg:x:-3:' >> /etc/group; echo 'huge:x:99999999999:' >> /etc/group"],
        check=True,
    )
    with pytest.raises(ValueError, match="passwd"):
        running.run(["true"], user="big")
    for name in ("neg", "huge"):
        with pytest.raises(ValueError, match="group"):
            running.run(["true"], group=name)
        with pytest.raises(ValueError, match="group"):
            running.run(["true"], groups=[name])


def _timed(f: object) -> float:
    t0 = time.monotonic()
    f()  # type: ignore[operator]
    return time.monotonic() - t0


def test_a_huge_env_costs_what_it_costs_subprocess(running: lxcpy.Container) -> None:
    env = {f"V{i}": str(i) for i in range(40_000)}
    env["PATH"] = "/bin:/usr/bin"
    env["V7"] = "last"
    want = subprocess.run(["env"], env=env, capture_output=True, text=True, check=True)
    host = _timed(lambda: subprocess.run(["env"], env=env, capture_output=True, check=True))
    got: list[subprocess.CompletedProcess[str]] = []
    took = _timed(lambda: got.append(running.run(["env"], env=env, capture_output=True,
                                                  text=True, check=True)))
    seen = dict(line.split("=", 1) for line in got[0].stdout.splitlines())
    assert {k: seen.get(k) for k in env} == env
    assert len(want.stdout.splitlines()) >= len(env)
    assert seen["container"] == "lxc"
    assert took < 10 * host + 1.0, (took, host)


def test_env_overrides_like_putenv(running: lxcpy.Container) -> None:
    # The container's own variables and the caller's are overridden by
    # env=, in every mode, and clear_env keeps only what it should.
    os.environ["LXCPY_FAULTS_X"] = "caller"
    try:
        r = running.run(["env"], env={"LXCPY_FAULTS_X": "mine", "container": "no"},
                        capture_output=True, text=True, check=True)
        lines = r.stdout.splitlines()
        assert lines.count("LXCPY_FAULTS_X=mine") == 1
        assert "container=no" in lines and "container=lxc" not in lines
        assert not [ln for ln in lines if ln.startswith("LXCPY_FAULTS_X=caller")]
        r = running.run(["env"], env={"A": "1"}, clear_env=True, keep_env=["LXCPY_FAULTS_X"],
                        capture_output=True, text=True, check=True)
        assert sorted(r.stdout.splitlines()) == sorted(
            ["A=1", "LXCPY_FAULTS_X=caller", "container=lxc",
             "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
        )
    finally:
        del os.environ["LXCPY_FAULTS_X"]


def _race_stop(c: lxcpy.Container, rounds: int) -> dict[str, int]:
    """Eight threads run(["true"]) in loops while the container stops,
    rounds times; what they raised, by type."""
    errors: dict[str, int] = {}
    unexpected: list[BaseException] = []
    for _ in range(rounds):
        if not c.running:
            c.start()
        stop = threading.Event()

        def work(stop: threading.Event = stop) -> None:
            while not stop.is_set():
                try:
                    c.run(["true"])
                except lxcpy.NotRunningError as e:
                    errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1
                except BaseException as e:  # collected for the assert
                    unexpected.append(e)

        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        time.sleep(0.3)
        c.stop()
        time.sleep(0.2)
        stop.set()
        for t in threads:
            t.join(60)
    assert not unexpected, unexpected[:3]
    return errors


def test_attaching_to_a_dying_container_is_not_running(running: lxcpy.Container) -> None:
    errors = _race_stop(running, 4)
    assert errors.get("NotRunningError")
