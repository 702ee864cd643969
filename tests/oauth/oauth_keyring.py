"""A real keyring backend for the OAuth2 tests, keeping entries in a JSON file.

Loaded by keyring's own PYTHON_KEYRING_BACKEND mechanism in maild subprocesses (with
this directory on PYTHONPATH), or installed in-process with ``keyring.set_keyring``; the
file lets separate processes share entries, as a desktop keyring does. The user's real
keyring is never touched.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

FILE_ENV = "MAILD_TEST_KEYRING_FILE"


class FileKeyring(KeyringBackend):
    priority = 1

    def __init__(self, path: Path | None = None) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.path = path

    def _file(self) -> Path:
        return self.path or Path(os.environ[FILE_ENV])

    def entries(self) -> dict[str, str]:
        try:
            return dict(json.loads(self._file().read_text(encoding="utf-8")))
        except FileNotFoundError:
            return {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries().get(f"{service}/{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        data = self.entries()
        data[f"{service}/{username}"] = password
        tmp = self._file().with_suffix(".tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        tmp.replace(self._file())

    def delete_password(self, service: str, username: str) -> None:
        data = self.entries()
        if data.pop(f"{service}/{username}", None) is None:
            raise PasswordDeleteError(f"no {service}/{username}")
        self._file().write_text(json.dumps(data), encoding="utf-8")
