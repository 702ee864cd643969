"""The acceptance test of issue 11: a whole season, through the real CLI and daemon.

See ``tests/season/season.py`` for the season itself. The one-screen summary (what each
mentor received and when, how every ask ended) is printed at the end of the pytest run
(``tests/conftest.py``); ``python -m tests.season.run_season -v --mail`` shows each day
and every email as its professor received it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from maild.sandbox.dovecot import DovecotServer
from maild.sandbox.smtp import SmtpSandbox
from tests.season.season import Season, final_states, live


@pytest.mark.slow
def test_a_whole_season_keeps_every_promise(tmp_path: Path, dovecot: DovecotServer,
                                            imap_user: str,
                                            record_property: Callable[[str, object], None]
                                            ) -> None:
    with SmtpSandbox(username=imap_user, password=dovecot.password) as smtp:
        season = Season(tmp_path, dovecot, smtp, imap_user)
        elapsed = live(season)
        summary = season.summary(elapsed)
        record_property("season_summary", summary)
        print(summary)
        assert season.violations == [], summary
        # The season did happen: every mentor was written to, as planned.
        assert len(smtp.messages) >= 30
        assert final_states(season) == []
