"""The daemon's resident memory after start with 1 account and 1,000 open asks.

    .venv/bin/python bench/memory.py [--asks 1000]

Prints RSS after READY=1 and after 10 s of running, next to a baseline measured in the
same run: a bare Python process that imports maild's CLI (the floor any daemon built
on these libraries pays). Target: under 80 MB. ``--no-ui`` measures the daemon without
the page (``[ui] serve = false``), to see what serving it costs.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._daemon import Notify, fill_asks, rss_mib, start, stop, write_home
from maild.sandbox.dovecot import DovecotServer
from maild.sandbox.smtp import SmtpSandbox


def baseline() -> float:
    proc = subprocess.Popen([sys.executable, "-c",
                             "import maild.cli, maild.runtime.daemon, time; time.sleep(5)"])
    time.sleep(3)
    value = rss_mib(proc.pid)
    proc.kill()
    proc.wait()
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--asks", type=int, default=1000)
    parser.add_argument("--no-ui", action="store_true", help="[ui] serve = false")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="maild-bench-") as tmp, DovecotServer() as dovecot:
        user = "membench"
        with SmtpSandbox(username=user, password=dovecot.password) as smtp:
            home = Path(tmp) / "home"
            write_home(home, dovecot, smtp, user, ui_serve=not args.no_ui)
            print(f"creating {args.asks} open asks...", file=sys.stderr)
            fill_asks(home, args.asks)
            notify = Notify(Path(tmp) / "notify.sock")
            proc = start(home, dovecot.password, notify)
            notify.wait_for("READY=1", 300)
            after_ready = rss_mib(proc.pid)
            time.sleep(10)
            later = rss_mib(proc.pid)
            stop(proc)
            notify.close()
    floor = baseline()
    page = "without the page" if args.no_ui else "serving the page"
    print(f"daemon RSS ({page}) with {args.asks} open asks: {after_ready:.1f} MiB after READY, "
          f"{later:.1f} MiB after 10 s (target < 80 MB)")
    print(f"baseline (python + maild imports, idle): {floor:.1f} MiB; daemon / baseline = "
          f"{later / floor:.2f}")


if __name__ == "__main__":
    main()
