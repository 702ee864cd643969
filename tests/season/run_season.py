"""Live a whole season and print what every mentor received: `python -m tests.season.run_season`.

The same season as ``tests/season/test_season.py`` (real CLI, real daemon, sandbox
servers), with a line per day of what happened (``-v``) and the one-screen summary at
the end. Exits 1 when an invariant was broken.
"""

from __future__ import annotations

import argparse
import logging
import sys

from tests.season.season import run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="print each day")
    parser.add_argument("--mail", action="store_true",
                        help="print every email as its professor received it")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    season, _elapsed = run(log=print if args.verbose else lambda _line: None)
    print(season.__dict__["_summary"])
    if args.mail:
        for mail in season.__dict__["_received"]:
            print(f"\n{'=' * 72}\nDate: {mail.at:%a %Y-%m-%d %H:%M %z}\nTo: {mail.to}\n"
                  f"Subject: {mail.subject}\n"
                  + "".join(f"Attached: {name} ({len(data)} bytes)\n"
                            for name, data in mail.attachments.items())
                  + f"\n{mail.body}")
    if args.verbose:
        print("\nNotices the student was given:")
        for note in season.notes:
            print(f"  {note}")
    return 1 if season.violations else 0


if __name__ == "__main__":
    sys.exit(main())
