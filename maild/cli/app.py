"""The CLI's application object: where the home is, the config, the store and the clock.

Commands receive it with ``@pass_app``; it opens things lazily so that ``--help`` and
``maild config path`` work without a config file or a database.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import click
from rich.console import Console

from maild import paths
from maild.cli.terminal import for_terminal
from maild.clock import NOW_ENV, Clock
from maild.config import Config, load
from maild.core.timing import range_problem
from maild.errors import MaildError, UsageError
from maild.store import Store

if TYPE_CHECKING:
    from maild.app.tracker import Tracker


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
        """MAILD_NOW or the real clock, checked when a command first needs the time (so a
        bad MAILD_NOW is one line from any command that uses it, and --help still works)."""
        if self._clock is None:
            clock = Clock.from_env(self.env)  # UsageError unless ISO 8601 with an offset
            if (problem := range_problem(clock.now())) is not None:
                raise UsageError(f"{NOW_ENV}: {self.env.get(NOW_ENV)} {problem}")
            self._clock = clock
        return self._clock

    def now(self) -> datetime:
        return self.clock.now()

    def local(self, when: datetime) -> str:
        """A time as the user reads it: in their configured time zone when there is one."""
        try:
            tz: tzinfo | None = ZoneInfo(self.config().identity.timezone)
        except MaildError:
            tz = None
        return f"{when.astimezone(tz):%a %Y-%m-%d %H:%M}"

    def tracker(self) -> Tracker:
        """The tracker over this home's store and config (drafts rendered from templates)."""
        from maild.app.drafting import TemplateDrafts
        from maild.app.tracker import Tracker

        config = self.config()

        def tell(level: object, text: str) -> None:
            # Notices name mentors and quote subjects: outside text.
            click.echo(f"{level}: {for_terminal(text)}", err=True)

        return Tracker(self.store(), config, TemplateDrafts(self.home, config), notify=tell)

    def close(self) -> None:
        if self._store is not None:
            changed = self._store.commits > 0
            self._store.close()
            self._store = None
            if changed:
                # A running daemon sees an approval or a new ask now, not at its next timer.
                from maild.runtime.wake import wake_daemon

                wake_daemon(self.home)


pass_app = click.make_pass_decorator(App)
