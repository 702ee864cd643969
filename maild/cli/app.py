"""The CLI's application object: where the home is, the config, the store and the clock.

Commands receive it with ``@pass_app``; it opens things lazily so that ``--help`` and
``maild config path`` work without a config file or a database.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import click
from rich.console import Console

from maild import paths
from maild.clock import Clock
from maild.config import Config, load
from maild.store import Store


@dataclass
class App:
    home: Path
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    console: Console = field(default_factory=Console)
    _config: Config | None = None
    _store: Store | None = None
    _clock: Clock | None = None

    @classmethod
    def create(cls, home: str | None, env: Mapping[str, str]) -> App:
        return cls(home=paths.resolve_home(home, env), env=env)

    @property
    def config_path(self) -> Path:
        return paths.config_path(self.home)

    def config(self) -> Config:
        if self._config is None:
            self._config = load(self.config_path)
        return self._config

    def store(self) -> Store:
        if self._store is None:
            paths.ensure_home(self.home)
            self._store = Store.open(paths.database_path(self.home))
        return self._store

    @property
    def clock(self) -> Clock:
        if self._clock is None:
            self._clock = Clock.from_env(self.env)
        return self._clock

    def now(self) -> datetime:
        return self.clock.now()

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


pass_app = click.make_pass_decorator(App)
