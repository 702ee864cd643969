"""The CLI's application object: where the home is, the config, the store and the clock.

Commands receive it with ``@pass_app``; it opens things lazily so that ``--help`` and
``maild config path`` work without a config file or a database, and imports lazily so
that a command pays only for what it uses (start-up is most of a command's time).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import click

from maild import paths
from maild.cli.terminal import for_terminal
from maild.clock import NOW_ENV, Clock
from maild.errors import MaildError, UsageError

if TYPE_CHECKING:
    from rich.console import Console

    from maild.app.tracker import Tracker
    from maild.config import Config
    from maild.core.rules import Rules
    from maild.store import Store


class App:
    def __init__(self, home: Path, env: Mapping[str, str] | None = None,
                 console: Console | None = None) -> None:
        self.home = home
        self.env: Mapping[str, str] = dict(os.environ) if env is None else env
        self._console = console
        self._config: Config | None = None
        self._store: Store | None = None
        self._clock: Clock | None = None

    @classmethod
    def create(cls, home: str | None, env: Mapping[str, str]) -> App:
        return cls(home=paths.resolve_home(home, env), env=env)

    @property
    def config_path(self) -> Path:
        return paths.config_path(self.home)

    @property
    def console(self) -> Console:
        """Rich, for tables: imported by the commands that print one."""
        if self._console is None:
            from rich.console import Console

            self._console = Console()
        return self._console

    def config(self) -> Config:
        if self._config is None:
            from maild.config import load

            self._config = load(self.config_path)
        return self._config

    def rules(self) -> Rules:
        """The engine's rules from config.toml (no tracker needed to read them)."""
        from maild.config import rules_for

        return rules_for(self.config())

    def store(self) -> Store:
        if self._store is None:
            from maild.store import Store

            paths.ensure_home(self.home)
            self._store = Store.open(paths.database_path(self.home))
        return self._store

    @property
    def clock(self) -> Clock:
        """MAILD_NOW or the real clock, checked when a command first needs the time (so a
        bad MAILD_NOW is one line from any command that uses it, and --help still works)."""
        if self._clock is None:
            from maild.core.timing import range_problem

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
