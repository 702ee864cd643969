"""A maild home with a config and a small hit list, driven through the real CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from maild.cli import cli

CONFIG = """
[identity]
name = "Alex Kim"
email = "alex@school.example.edu"
role = "third-year medical student"
institution = "Example School of Medicine"
timezone = "America/New_York"

[[accounts]]
name = "school"
email = "alex@school.example.edu"
imap = {{ host = "127.0.0.1", port = 1, security = "none" }}
smtp = {{ host = "127.0.0.1", port = 1, security = "none" }}
password = {{ env = "NOPE" }}

[[accounts]]
name = "personal"
email = "alex.kim@home.example.org"
imap = {{ host = "127.0.0.1", port = 1, security = "none" }}
smtp = {{ host = "127.0.0.1", port = 1, security = "none" }}
password = {{ env = "NOPE" }}
{extra}
"""

Run = Callable[..., Result]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "config.toml").write_text(CONFIG.format(extra=""), encoding="utf-8")
    return tmp_path


@pytest.fixture
def run(home: Path) -> Run:
    def invoke(*args: str, now: str = "2026-11-16T10:00:00-05:00", input: str | None = None,
               ok: bool = True) -> Result:
        result = CliRunner().invoke(cli, ["--home", str(home), *args], input=input,
                                    env={"MAILD_NOW": now})
        if ok:
            assert result.exit_code == 0, result.output
        return result
    return invoke


def as_json(result: Result) -> Any:
    return json.loads(result.output)


@pytest.fixture
def rivera(run: Run) -> int:
    run("mentor", "add", "Dana Rivera", "--title", "Dr.", "--email", "drivera@med.example.edu",
        "--email", "dana.rivera@example.org", "--specialty", "cardiology",
        "--connection-point", "2025 paper on HFpEF registries", "--rank", "1")
    return 1
