"""Where maild keeps its files: the home directory and the names inside it.

One directory (``MAILD_HOME``, ``--home`` or the platform's user config directory) holds
config.toml, the database, user template overrides and logs, so that a sandbox, a test or
a second identity is just another directory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

APP_NAME = "maild"
HOME_ENV = "MAILD_HOME"


def resolve_home(explicit: str | os.PathLike[str] | None, env: Mapping[str, str]) -> Path:
    """The home directory: ``--home`` wins over ``MAILD_HOME``, which wins over the default."""
    if explicit:
        return Path(explicit).expanduser().absolute()
    from_env = env.get(HOME_ENV)
    if from_env:
        return Path(from_env).expanduser().absolute()
    import platformdirs  # only here: every command pays for what it imports at start-up

    return Path(platformdirs.user_config_dir(APP_NAME)).absolute()


def config_path(home: Path) -> Path:
    return home / "config.toml"


def database_path(home: Path) -> Path:
    return home / "maild.db"


def templates_dir(home: Path) -> Path:
    return home / "templates"


def log_dir(home: Path) -> Path:
    return home / "logs"


def lock_path(home: Path) -> Path:
    return home / "maild.lock"


def wake_path(home: Path) -> Path:
    """The named pipe a running daemon listens on for "the store changed"."""
    return home / "maild.wake"


def ensure_home(home: Path) -> Path:
    """Create the home directory, private to the user (it will hold the database)."""
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    return home


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) readable by the user only (0700), whatever the
    umask: templates and exports hold mentors' names and what the user writes them."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)
    return path


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` as a file only the user can read (0600).

    The mode is set when the file is created, so the content is never readable by
    others even for a moment; an existing file is made private before it is rewritten.
    """
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w",
              encoding="utf-8", newline="") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(text)


def ui_url_path(home: Path) -> Path:
    """Where the running page says its URL (written by whoever serves it)."""
    return home / "ui.json"


def ui_secret_path(home: Path) -> Path:
    """The key that signs the page's session cookies and CSRF tokens."""
    return home / "ui-secret"


def ui_tokens_path(home: Path) -> Path:
    """One-time tokens handed out by `maild ui`, not yet exchanged for a cookie."""
    return home / "ui-tokens.json"
