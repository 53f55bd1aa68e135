"""The quickstart example runs and cleans up."""

from __future__ import annotations

from pathlib import Path

from helpers import run_example

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_quickstart() -> None:
    r = run_example(EXAMPLES / "quickstart.py")
    assert r.returncode == 0, r.stderr
    assert "started: state=RUNNING" in r.stdout
    assert "hostname inside: demo (exit 0)" in r.stdout
    assert "computed inside: 42;" in r.stdout
    assert "CalledProcessError (exit 3)" in r.stdout
    assert "popen + communicate: through a pipe and back" in r.stdout
    assert "destroyed: defined=False" in r.stdout
