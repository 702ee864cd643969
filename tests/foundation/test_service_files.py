"""The shipped systemd unit and launchd plist are well-formed."""

from __future__ import annotations

import configparser
import plistlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_launchd_plist_is_valid() -> None:
    with (ROOT / "systemd" / "org.maild.maild.plist").open("rb") as handle:
        plist = plistlib.load(handle)
    assert plist["Label"] == "org.maild.maild"
    assert plist["ProgramArguments"][-1] == "run"
    assert plist["RunAtLoad"] is True
    assert plist["KeepAlive"] == {"SuccessfulExit": False}
    assert plist["ThrottleInterval"] >= 10


def test_systemd_unit_is_a_notify_user_service() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(ROOT / "systemd" / "maild.service")
    service = unit["Service"]
    assert service["Type"] == "notify"
    assert service["Restart"] == "on-failure"
    assert int(service["WatchdogSec"]) > 0
    assert service["ExecStart"].endswith("maild run")
    assert unit["Install"]["WantedBy"] == "default.target"
