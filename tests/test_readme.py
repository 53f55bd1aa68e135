"""The README's Python code blocks run as written (in a temporary lxcpath
instead of /tmp/containers) and print what their comments say. A block
that is a transcript (``>>>``: the error one, which needs a bridge this
machine lacks) is shown, not run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from helpers import NEUTRAL_CWD

README = Path(__file__).resolve().parent.parent / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def run_block(code: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        # Unbuffered, as on a terminal: the programs the tour runs write
        # to the same stdout as its print()s (a pipe would buffer those).
        [sys.executable, "-u", "-c", code],
        cwd=NEUTRAL_CWD,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_every_python_block_is_run_or_a_transcript() -> None:
    blocks = python_blocks()
    assert len(blocks) == 3, "a README block was added or removed: run it here too"
    assert blocks[2].lstrip().startswith(">>>")


def test_the_tour_runs(lxcpath: str) -> None:
    tour = python_blocks()[0]
    assert '"/tmp/containers"' in tour
    r = run_block(tour.replace('"/tmp/containers"', repr(lxcpath)))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert re.fullmatch(r"\d+\.\d+\.\d+", lines[0]), lines
    assert re.fullmatch(r"RUNNING \d+", lines[1]), lines
    assert "0 web" in lines
    assert "exit 3" in lines
    assert "b'hi'" in lines
    assert "hello from a Python function inside" in lines
    assert re.fullmatch(r"\S+ RUNNING", lines[-1]), lines
    # Everything the tour made it destroyed again.
    assert list(Path(lxcpath).iterdir()) == []


def test_the_config_block_runs(lxcpath: str) -> None:
    # Named otherwise than the uts name the block sets (none without a
    # template): what the new handle reads is what save() wrote.
    setup = (
        "import lxcpy\n"
        f"c = lxcpy.Container('box', {lxcpath!r})\n"
        "c.create(config={'lxc.net.0.type': 'empty'})\n"
        "assert c.config.get('lxc.uts.name') is None\n"
    )
    check = (
        "\nassert c.config['lxc.uts.name'] == 'web'\n"
        "assert c.config.get_list('lxc.mount.entry') == []\n"
        "again = lxcpy.Container('box', c.lxcpath)\n"
        "assert again.config['lxc.uts.name'] == 'web'\n"
        "again.close()\n"
        "c.destroy()\n"
    )
    r = run_block(setup + python_blocks()[1] + check)
    assert r.returncode == 0, r.stderr
