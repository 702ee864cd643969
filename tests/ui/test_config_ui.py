"""[ui] in config.toml: the page's port and whether the daemon serves it."""

from __future__ import annotations

from pathlib import Path

import pytest

from maild.config import DEFAULT_UI_PORT, load
from maild.errors import ConfigError
from tests.tracking.conftest import CONFIG


def write(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(extra=extra), encoding="utf-8")
    return path


def test_defaults_avoid_common_ports(tmp_path: Path) -> None:
    ui = load(write(tmp_path, "")).ui
    assert ui.port == DEFAULT_UI_PORT and ui.serve is True
    assert DEFAULT_UI_PORT not in (80, 443, 3000, 5000, 5173, 8000, 8080, 8888, 9000)
    assert 1024 < DEFAULT_UI_PORT < 32768  # not privileged, below the ephemeral range


def test_any_free_port_and_no_daemon_page(tmp_path: Path) -> None:
    ui = load(write(tmp_path, "[ui]\nport = 0\nserve = false\n")).ui
    assert (ui.port, ui.serve) == (0, False)


@pytest.mark.parametrize("extra, problem", [
    ("[ui]\nport = 70000\n", "ui.port: must be between 1 and 65535"),
    ("[ui]\nport = \"8731\"\n", "ui.port: must be an integer"),
    ("[ui]\nhost = \"0.0.0.0\"\n", "ui.host: unknown key"),
])
def test_bad_ui_settings_are_one_line(tmp_path: Path, extra: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(write(tmp_path, extra))
    assert problem in str(caught.value)
