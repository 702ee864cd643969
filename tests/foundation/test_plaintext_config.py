"""``security = "none"`` (plain-text login) only to this machine: a local bridge.

Anywhere else the password would cross the network unencrypted; loading refuses the
config with one line saying what to use instead.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from maild.config import load
from maild.errors import ConfigError
from tests.foundation.test_config import GOOD, write


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.53", "localhost", "::1", "[::1]"])
def test_plain_text_to_a_loopback_address_is_allowed(tmp_path: Path, host: str) -> None:
    config = load(write(tmp_path, GOOD.replace('host = "127.0.0.1", port = 1143',
                                               f'host = "{host}", port = 1143')))
    assert config.accounts[0].imap.security == "none"


@pytest.mark.parametrize(("where", "host"), [("imap", "imap.example.org"),
                                             ("imap", "192.168.1.10"),
                                             ("smtp", "smtp.example.org"),
                                             ("imap", "localhost.example.org")])
def test_plain_text_to_any_other_host_is_refused(tmp_path: Path, where: str,
                                                 host: str) -> None:
    text = GOOD
    if where == "imap":
        text = text.replace('host = "127.0.0.1", port = 1143', f'host = "{host}", port = 1143')
    else:
        text = text.replace('smtp = { host = "127.0.0.1", security = "starttls" }',
                            f'smtp = {{ host = "{host}", port = 25, security = "none" }}')
    with pytest.raises(ConfigError) as caught:
        load(write(tmp_path, text))
    message = caught.value.message
    assert f"accounts[0].{where}.security" in message and host in message
    assert "loopback" in message and '"tls"' in message
    assert len(message.splitlines()) == 1


def test_watch_settings_load_and_bad_ones_are_one_line(tmp_path: Path) -> None:
    config = load(write(tmp_path, GOOD + "\n[watch]\nreconnect_min = 0.5\nprobe_every = 0\n"))
    assert (config.watch.reconnect_min, config.watch.reconnect_max,
            config.watch.probe_every) == (0.5, 300.0, 0.0)
    with pytest.raises(ConfigError, match=r"watch\.reconnect_max.*not be less"):
        load(write(tmp_path, GOOD + "\n[watch]\nreconnect_min = 10\nreconnect_max = 5\n"))
    with pytest.raises(ConfigError, match=r"watch\.probe_every.*seconds"):
        load(write(tmp_path, GOOD + "\n[watch]\nprobe_every = \"fast\"\n"))
