"""``maild demo`` runs the whole loop to completion, as the README's first command does."""

from __future__ import annotations

import subprocess
import sys

import pytest

from maild.sandbox.dovecot import find_dovecot


@pytest.mark.slow
def test_demo_runs_to_completion(tmp_path: object) -> None:
    if find_dovecot() is None:
        import os

        if os.environ.get("CI") == "true":
            pytest.fail("dovecot is missing in CI")
        pytest.skip("dovecot is not installed")
    done = subprocess.run([sys.executable, "-m", "maild", "demo"], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert "auto-approved for the demo" in out
    assert "cancelled its nudges" in out and "nudge cancelled" in out
    assert "day-5 nudge went out in the same thread" in out
    assert "4 emails delivered" in out
    assert "maild init" in out  # how to set up a real account afterwards
    seconds = float(out.split("Done in ")[1].split(" s")[0])
    assert seconds < 60
