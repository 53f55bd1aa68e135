"""run()/popen(): subprocess semantics and every attach option, on real containers."""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from helpers import NEUTRAL_CWD

import lxcpy
from lxcpy import Namespace

from .conftest import zombies


@pytest.fixture
def users(running: lxcpy.Container) -> lxcpy.Container:
    """The running clone, with a user and groups in its own files."""
    running.run(
        [
            "sh",
            "-c",
            "echo 'alice:x:1000:1001:Alice:/home/alice:/bin/ash' >> /etc/passwd;"
            "echo 'alices:x:1001:' >> /etc/group; echo 'staff:x:50:' >> /etc/group;"
            "echo 'wheel:x:10:' >> /etc/group",
        ],
        check=True,
    )
    return running


# -- output, input, status -------------------------------------------------------


def test_run_captures_output(running: lxcpy.Container) -> None:
    r = running.run(["echo", "hi"], capture_output=True)
    assert isinstance(r, subprocess.CompletedProcess)
    assert r.args == ["echo", "hi"]
    assert (r.returncode, r.stdout, r.stderr) == (0, b"hi\n", b"")


def test_run_text_and_both_streams(running: lxcpy.Container) -> None:
    r = running.run(["sh", "-c", "echo out; echo err >&2; exit 3"], capture_output=True, text=True)
    assert (r.returncode, r.stdout, r.stderr) == (3, "out\n", "err\n")


def test_encoding_and_errors(running: lxcpy.Container) -> None:
    r = running.run(
        ["printf", "caf\\303\\251\\377"], stdout=subprocess.PIPE, encoding="utf-8", errors="replace"
    )
    assert r.stdout == "café\ufffd"


def test_text_translates_newlines(running: lxcpy.Container) -> None:
    r = running.run(["printf", "a\\r\\nb\\rc"], capture_output=True, text=True)
    assert r.stdout == "a\nb\nc"


def test_stderr_to_stdout(running: lxcpy.Container) -> None:
    r = running.run(
        ["sh", "-c", "echo a; echo b >&2"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert r.stdout == b"a\nb\n" and r.stderr is None


def test_devnull_and_not_captured(running: lxcpy.Container) -> None:
    r = running.run(
        ["sh", "-c", "echo a; echo b >&2; cat"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert (r.returncode, r.stdout, r.stderr) == (0, None, None)


def test_output_to_file_object_and_fd(running: lxcpy.Container, tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    with open(path, "wb") as f:
        f.write(b"before\n")
        running.run(["echo", "from file object"], stdout=f)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        running.run(["sh", "-c", "echo from fd >&2"], stderr=fd)
    finally:
        os.close(fd)
    assert path.read_bytes() == b"before\nfrom file object\nfrom fd\n"
    # liblxc would chmod the stdio files 0700: lxcpy never lets it see them.
    assert (path.stat().st_mode & 0o777) != 0o700


def test_input_bytes_and_text(running: lxcpy.Container) -> None:
    assert running.run(["cat"], input=b"abc", capture_output=True).stdout == b"abc"
    assert running.run(["cat"], input="é\n", capture_output=True, text=True).stdout == "é\n"


def test_stdin_from_file(running: lxcpy.Container, tmp_path: Path) -> None:
    path = tmp_path / "in.txt"
    path.write_bytes(b"line1\nline2\n")
    with open(path, "rb") as f:
        r = running.run(["wc", "-l"], stdin=f, capture_output=True, text=True)
    assert r.stdout.strip() == "2"


def test_check_raises_called_process_error(running: lxcpy.Container) -> None:
    with pytest.raises(subprocess.CalledProcessError) as info:
        running.run(["sh", "-c", "echo oops >&2; exit 5"], capture_output=True, check=True)
    assert info.value.returncode == 5
    assert info.value.stderr == b"oops\n"
    assert running.run(["true"], check=True).returncode == 0


def test_signal_gives_negative_returncode(running: lxcpy.Container) -> None:
    assert running.run(["sh", "-c", "kill -TERM $$"]).returncode == -signal.SIGTERM


def test_sigpipe_is_default_in_the_program(running: lxcpy.Container) -> None:
    # Python ignores SIGPIPE; the program must not inherit that.
    r = running.run(["sh", "-c", "yes | head -n 1"], capture_output=True)
    assert r.stdout == b"y\n" and r.returncode == 0


def test_missing_program_raises_file_not_found(running: lxcpy.Container) -> None:
    with pytest.raises(FileNotFoundError) as info:
        running.run(["no-such-program"])
    assert info.value.filename == "no-such-program"
    with pytest.raises(FileNotFoundError):
        running.run(["/no/such/path"])
    assert zombies() == 0


def test_non_executable_raises_permission_error(running: lxcpy.Container) -> None:
    with pytest.raises(PermissionError):
        running.run(["/etc/passwd"])


def test_exit_127_is_not_mistaken_for_missing(running: lxcpy.Container) -> None:
    assert running.run(["sh", "-c", "exit 127"]).returncode == 127


def test_timeout_kills_and_raises(running: lxcpy.Container) -> None:
    start = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired) as info:
        running.run(["sh", "-c", "echo partial; exec sleep 30"], capture_output=True, timeout=0.5)
    assert time.monotonic() - start < 5
    assert info.value.timeout == 0.5
    assert info.value.output == b"partial\n"
    assert zombies() == 0
    assert "sleep 30" not in running.run(["ps"], capture_output=True, text=True).stdout


def test_timeouts_that_end_during_the_attach_leave_nothing_running(
    running: lxcpy.Container,
) -> None:
    # Deadlines swept across an attach's own duration: some pass before
    # the request is sent, some while the program is being set up, after
    # liblxc returned and before the exec (in helper mode: with the
    # STARTED reply on its way, or already read). Each raises, and none
    # leaves the program running.
    t = time.monotonic()
    for _ in range(5):
        running.run(["true"])
    took = (time.monotonic() - t) / 5
    timeouts = 0
    for i in range(60):
        try:
            running.run(["sleep", "1000"], timeout=took * (0.2 + i * 0.025))
        except subprocess.TimeoutExpired:
            timeouts += 1
    assert timeouts == 60
    assert zombies() == 0
    ps = running.run(["ps"], capture_output=True, text=True).stdout
    assert "sleep 1000" not in ps, ps


def test_timeout_with_grandchild_holding_the_pipe(running: lxcpy.Container) -> None:
    start = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        running.run(["sh", "-c", "sleep 30 & sleep 30"], capture_output=True, timeout=0.5)
    assert time.monotonic() - start < 5
    running.run(["killall", "sleep"])


def test_large_output_on_both_pipes(running: lxcpy.Container) -> None:
    n = 64 << 20
    r = running.run(
        ["sh", "-c", f"head -c {n} /dev/zero & head -c {n} /dev/zero >&2; wait"],
        capture_output=True,
        timeout=120,
    )
    assert len(r.stdout) == n and len(r.stderr) == n


def test_large_input_and_output_at_once(running: lxcpy.Container) -> None:
    data = os.urandom(8 << 20)
    r = running.run(["cat"], input=data, capture_output=True, timeout=60)
    assert r.stdout == data


# -- options ----------------------------------------------------------------------------


def test_cwd(running: lxcpy.Container) -> None:
    assert running.run(["pwd"], cwd="/tmp", capture_output=True).stdout == b"/tmp\n"
    assert running.run(["pwd"], cwd=Path("/etc"), capture_output=True).stdout == b"/etc\n"
    with pytest.raises(FileNotFoundError) as info:
        running.run(["pwd"], cwd="/no/such/dir")
    assert info.value.filename == "/no/such/dir"


def test_env_is_added(running: lxcpy.Container) -> None:
    r = running.run(
        ["sh", "-c", 'echo "$FOO|$container"'],
        env={"FOO": "bar baz"},
        capture_output=True,
        text=True,
    )
    assert r.stdout == "bar baz|lxc\n"


def test_environment_larger_than_the_helper_takes(running: lxcpy.Container) -> None:
    # 200 KB of variables: more than a helper request may carry (128 KiB),
    # so lxcpy attaches in-process; the program sees them all the same.
    env = {f"BIG{i}": str(i) * 50_000 for i in range(4)}
    r = running.run(
        ["sh", "-c", 'echo "${#BIG0} ${#BIG3}"'],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert r.stdout == "50000 50000\n"


def test_clear_env_and_keep_env(running: lxcpy.Container, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LXCPY_KEPT", "kept")
    monkeypatch.setenv("LXCPY_DROPPED", "dropped")
    r = running.run(
        ["env"],
        clear_env=True,
        keep_env=["LXCPY_KEPT"],
        env={"X": "1"},
        capture_output=True,
        text=True,
    )
    env = dict(line.split("=", 1) for line in r.stdout.splitlines())
    assert env["LXCPY_KEPT"] == "kept" and env["X"] == "1"
    assert "LXCPY_DROPPED" not in env
    assert "PATH" in env
    r = running.run(["env"], capture_output=True, text=True)
    assert "LXCPY_DROPPED=dropped" in r.stdout


def test_user_and_group_by_name(users: lxcpy.Container) -> None:
    r = users.run(["id"], user="alice", capture_output=True, text=True)
    assert "uid=1000(alice) gid=1001(alices)" in r.stdout
    r = users.run(
        ["id"], user="alice", group="staff", groups=["wheel", 50], capture_output=True, text=True
    )
    assert "gid=50(staff)" in r.stdout and "groups=" in r.stdout and "10(wheel)" in r.stdout


def test_user_by_number(users: lxcpy.Container) -> None:
    r = users.run(["id", "-u"], user=1000, capture_output=True, text=True)
    assert r.stdout == "1000\n"
    r = users.run(["id"], user=4242, group=4243, capture_output=True, text=True)
    assert "uid=4242 gid=4243" in r.stdout


def test_unknown_user_or_group(users: lxcpy.Container) -> None:
    with pytest.raises(KeyError, match="nobody-here"):
        users.run(["id"], user="nobody-here")
    with pytest.raises(KeyError, match="no-group"):
        users.run(["id"], group="no-group")


def test_supplementary_groups_are_dropped_by_default(users: lxcpy.Container) -> None:
    r = users.run(["cat", "/proc/self/status"], user="alice", capture_output=True, text=True)
    groups = next(ln for ln in r.stdout.splitlines() if ln.startswith("Groups:"))
    assert groups.split() == ["Groups:"]


def test_namespaces(running: lxcpy.Container) -> None:
    assert running.run(["hostname"], capture_output=True, text=True).stdout == "ct\n"
    r = running.run(
        ["hostname"], namespaces=Namespace.MOUNT | Namespace.PID, capture_output=True, text=True
    )
    assert r.stdout == socket.gethostname() + "\n"


def test_personality(running: lxcpy.Container) -> None:
    if os.uname().machine != "x86_64":
        pytest.skip("x86_64 only")
    assert running.run(["uname", "-m"], personality="linux32", capture_output=True).stdout in (
        b"i686\n",
        b"i386\n",
    )
    assert running.run(["uname", "-m"], personality=0, capture_output=True).stdout == b"x86_64\n"


def _status(c: lxcpy.Container, key: str, **options: object) -> str:
    out = c.run(["cat", "/proc/self/status"], capture_output=True, text=True, **options).stdout  # type: ignore[call-overload]
    return next(ln.split(":", 1)[1].strip() for ln in out.splitlines() if ln.startswith(key))


def test_no_new_privs(running: lxcpy.Container) -> None:
    assert _status(running, "NoNewPrivs") == "0"
    assert _status(running, "NoNewPrivs", no_new_privs=True) == "1"


def test_drop_capabilities(running: lxcpy.Container) -> None:
    running.config["lxc.cap.drop"] = "sys_module"
    dropped = int(_status(running, "CapBnd"), 16)
    kept = int(_status(running, "CapBnd", drop_capabilities=False), 16)
    assert kept & ~dropped


def _host_cgroups(pid: int) -> str:
    with open(f"/proc/{pid}/cgroup") as f:
        return f.read()


def test_move_to_cgroup(running: lxcpy.Container) -> None:
    """Seen from the host (inside, a cgroup namespace may show only "/" or
    "/.lxc"): attached, the process is in the container's payload cgroup;
    with move_to_cgroup=False, it stays in the caller's (or the helper's)."""
    init = running.init_pid
    assert init is not None
    payload = {ln.split(":", 2)[2] for ln in _host_cgroups(init).splitlines()}
    with running.popen(["sleep", "30"]) as inside:
        moved = _host_cgroups(inside.pid)
        inside.kill()
    with running.popen(["sleep", "30"], move_to_cgroup=False) as outside:
        kept = _host_cgroups(outside.pid)
        outside.kill()
    assert any(path.startswith(p) for p in payload for path in _paths(moved))
    assert not any(path.startswith(p) for p in payload if p != "/" for path in _paths(kept))


def _paths(text: str) -> list[str]:
    return [ln.split(":", 2)[2] for ln in text.splitlines()]


def test_remount_proc_sys(running: lxcpy.Container) -> None:
    # Without the mount namespace, with the pid one: /proc shows the
    # container's processes only once remounted (in a private mount ns).
    all_but_mount = Namespace.PID | Namespace.UTS | Namespace.IPC
    r = running.run(
        ["/bin/ls", "/proc/1/exe"],
        namespaces=all_but_mount,
        remount_proc_sys=True,
        capture_output=True,
    )
    assert r.returncode == 0


def test_lsm_label_without_lsm_fails_cleanly(running: lxcpy.Container) -> None:
    try:
        r = running.run(["true"], lsm_label="unconfined")
    except lxcpy.AttachError as e:
        assert e.operation == "attach"
    else:
        assert r.returncode == 0


# -- popen ---------------------------------------------------------------------------------


def test_popen_surface(running: lxcpy.Container) -> None:
    with running.popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE) as p:
        assert isinstance(p, lxcpy.Process)
        assert p.pid > 0 and p.poll() is None and p.returncode is None
        assert p.stdin is not None and p.stdout is not None
        p.stdin.write(b"hello\n")
        p.stdin.flush()
        assert p.stdout.readline() == b"hello\n"
        out, err = p.communicate(b"more")
        assert (out, err) == (b"more", None)
    assert p.returncode == 0


def test_popen_wait_timeout_and_kill(running: lxcpy.Container) -> None:
    p = running.popen(["sleep", "30"])
    with pytest.raises(subprocess.TimeoutExpired):
        p.wait(timeout=0.2)
    p.terminate()
    assert p.wait(timeout=10) == -signal.SIGTERM
    p.kill()  # no-op once reaped
    p.send_signal(signal.SIGKILL)
    q = running.popen(["sleep", "30"])
    q.kill()
    assert q.wait() == -signal.SIGKILL
    assert zombies() == 0


def test_communicate_timeout_can_resume(running: lxcpy.Container) -> None:
    p = running.popen(
        ["sh", "-c", "echo one; sleep 1; echo two"], stdout=subprocess.PIPE, text=True
    )
    with pytest.raises(subprocess.TimeoutExpired):
        p.communicate(timeout=0.3)
    out, _ = p.communicate(timeout=10)
    assert out == "one\ntwo\n"


def test_dropped_process_is_reaped(running: lxcpy.Container) -> None:
    running.popen(["sleep", "0.3"])
    running.popen(["true"])
    import gc

    gc.collect()
    deadline = time.monotonic() + 10
    while zombies() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert zombies() == 0


# -- failures -------------------------------------------------------------------------------


def test_stopped_container(container: lxcpy.Container) -> None:
    with pytest.raises(lxcpy.NotRunningError):
        container.run(["true"])
    with pytest.raises(lxcpy.NotRunningError):
        container.attach(lambda: 0)


def test_undefined_container(lxcpath: str) -> None:
    with lxcpy.Container("nothing", lxcpath) as c, pytest.raises(lxcpy.NotRunningError):
        c.run(["true"])


@pytest.mark.parametrize("attached_before", [False, True])
def test_frozen_container(running: lxcpy.Container, attached_before: bool) -> None:
    # What lxcpy remembers of the container's init after an attach does
    # not hide a freeze that came later.
    if attached_before:
        assert running.run(["true"]).returncode == 0
    running.freeze()
    try:
        with pytest.raises(lxcpy.AttachError, match="frozen"):
            running.run(["true"])
    finally:
        running.unfreeze()
    assert running.run(["true"]).returncode == 0


def test_restart_between_attaches(running: lxcpy.Container) -> None:
    # A new init after a restart: not the one lxcpy remembered.
    first = running.run(["cat", "/proc/1/stat"], capture_output=True).stdout
    running.stop()
    with pytest.raises(lxcpy.NotRunningError):
        running.run(["true"])
    running.start()
    second = running.run(["cat", "/proc/1/stat"], capture_output=True).stdout
    assert first and second
    assert running.init_pid is not None
    assert running.run(["true"]).returncode == 0


def test_closing_releases_what_attach_kept(running: lxcpy.Container) -> None:
    import gc

    from .conftest import open_fds

    gc.collect()
    before = open_fds()
    c = lxcpy.Container(running.name, running.lxcpath)
    c.run(["true"])
    c.close()
    gc.collect()
    assert open_fds() == before
    c = lxcpy.Container(running.name, running.lxcpath)
    c.run(["true"])
    del c  # dropped without close()
    gc.collect()
    assert open_fds() == before


def test_umask_and_limits_are_the_callers_at_call_time(running: lxcpy.Container) -> None:
    # As a forked child would have them, helper or not: changed after
    # lxcpy's helper was started, they still reach the program.
    import resource

    running.run(["true"])
    script = ["sh", "-c", "umask; ulimit -n; ulimit -c"]
    before = running.run(script, capture_output=True, text=True).stdout.split()
    old = os.umask(0o027)
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)
    core = resource.getrlimit(resource.RLIMIT_CORE)
    core_soft = 4 << 20 if core[1] == resource.RLIM_INFINITY else min(4 << 20, core[1])
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (321, nofile[1]))
        resource.setrlimit(resource.RLIMIT_CORE, (core_soft, core[1]))
        during = running.run(script, capture_output=True, text=True).stdout.split()
    finally:
        os.umask(old)
        resource.setrlimit(resource.RLIMIT_NOFILE, nofile)
        resource.setrlimit(resource.RLIMIT_CORE, core)
    assert during == ["0027", "321", str(core_soft // 512)]  # sh counts 512-byte blocks
    after = running.run(script, capture_output=True, text=True).stdout.split()
    assert after == before


def test_liblxc_failure_in_child_is_attach_error(running: lxcpy.Container) -> None:
    # A user namespace the container does not have: liblxc's transient
    # child fails to enter it, and says so in the container's log.
    with pytest.raises(lxcpy.AttachError) as info:
        running.run(["true"], namespaces=Namespace.USER)
    assert "container 'ct'" in str(info.value)
    assert any("user namespace" in line for line in info.value.details)
    assert zombies() == 0


def test_closed_handle(running: lxcpy.Container) -> None:
    c = lxcpy.Container(running.name, running.lxcpath)
    c.close()
    with pytest.raises(ValueError):
        c.run(["true"])


# -- input validation (before any C call) ----------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "exc"),
    [
        ({"args": "echo hi"}, TypeError),
        ({"args": b"echo"}, TypeError),
        ({"args": []}, ValueError),
        ({"args": [""]}, ValueError),
        ({"args": ["echo", "a\0b"]}, ValueError),
        ({"args": ["echo", 3]}, TypeError),
        ({"args": 5}, TypeError),
        ({"env": {"A=B": "1"}}, ValueError),
        ({"env": {"": "1"}}, ValueError),
        ({"env": {"A": "x\0y"}}, ValueError),
        ({"env": {"A\0": "1"}}, ValueError),
        ({"env": {"A": 1}}, TypeError),
        ({"env": ["A=1"]}, TypeError),
        ({"keep_env": "PATH"}, TypeError),
        ({"keep_env": ["A=B"]}, ValueError),
        ({"cwd": "/tmp\0"}, ValueError),
        ({"cwd": ""}, ValueError),
        ({"cwd": 3}, TypeError),
        ({"user": -1}, ValueError),
        ({"user": 1.5}, TypeError),
        ({"user": True}, TypeError),
        ({"user": "a:b"}, ValueError),
        ({"group": "x\0"}, ValueError),
        ({"groups": "wheel"}, TypeError),
        ({"groups": [-3]}, ValueError),
        ({"namespaces": 1}, ValueError),
        ({"namespaces": "net"}, TypeError),
        ({"personality": "vax"}, ValueError),
        ({"personality": 1.0}, TypeError),
        ({"lsm_label": "a\0"}, ValueError),
        ({"lsm_label": 3}, TypeError),
        ({"clear_env": 1}, TypeError),
        ({"move_to_cgroup": None}, TypeError),
        ({"stdout": -7}, ValueError),
        ({"stdin": subprocess.STDOUT}, ValueError),
        ({"stdout": "file"}, TypeError),
        ({"stdin": True}, TypeError),
        ({"timeout": -1}, ValueError),
        ({"timeout": "1"}, TypeError),
        ({"input": b"x", "stdin": subprocess.PIPE}, ValueError),
        ({"input": "text"}, TypeError),
        ({"input": 5}, TypeError),
        ({"capture_output": True, "stdout": subprocess.PIPE}, ValueError),
        ({"encoding": "utf\0"}, ValueError),
    ],
)
def test_bad_input_is_refused_before_c(
    container: lxcpy.Container, kwargs: dict[str, object], exc: type[Exception]
) -> None:
    # A stopped container: a bad argument must be refused before the
    # running check (and so before any C call).
    args = kwargs.pop("args", ["true"])
    with pytest.raises(exc):
        container.run(args, **kwargs)  # type: ignore[arg-type]


def test_bad_fd_is_refused(running: lxcpy.Container) -> None:
    # A closed fd far above the lowest free one: no fd lxcpy opens on the
    # way (the lowest free number first) can take its number.
    r, w = os.pipe()
    bad = fcntl.fcntl(w, fcntl.F_DUPFD, 900)
    for fd in (r, w, bad):
        os.close(fd)
    with pytest.raises(OSError, match="bad file descriptor"):
        running.run(["true"], stdout=bad)


_FROZEN_BEHIND = """
import sys, lxcpy
c = lxcpy.Container(sys.argv[1], sys.argv[2])
try:
    c.run(["true"])
except lxcpy.AttachError as e:
    print("AttachError", e.message)
"""


def test_frozen_behind_liblxcs_back(running: lxcpy.Container) -> None:
    """Frozen through the cgroup files (the monitor still says RUNNING):
    AttachError, not a hang (guarded by a subprocess timeout)."""
    pid = running.init_pid
    lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    freezer = [ln.split(":", 2)[2] for ln in lines if "freezer" in ln.split(":")[1].split(",")]
    if freezer:
        knob, frozen, thawed = (
            Path(f"/sys/fs/cgroup/freezer{freezer[0]}/freezer.state"),
            "FROZEN",
            "THAWED",
        )
    else:
        path = next(ln.split(":", 2)[2] for ln in lines if ln.startswith("0::"))
        knob, frozen, thawed = Path(f"/sys/fs/cgroup{path}/cgroup.freeze"), "1", "0"
    if not knob.exists():
        pytest.skip("no freezer")
    knob.write_text(frozen)
    try:
        assert running.state is lxcpy.State.RUNNING
        import sys

        r = subprocess.run(
            [sys.executable, "-c", _FROZEN_BEHIND, running.name, running.lxcpath],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=NEUTRAL_CWD,
        )
        assert r.stdout.startswith("AttachError"), (r.stdout, r.stderr)
    finally:
        knob.write_text(thawed)
    assert running.run(["true"]).returncode == 0
