"""How fast the page answers on a big store: 500 mentors and 2,000 asks.

Usage: python bench/ui.py [--mentors N] [--asks N] [--reps N] [--keep DIR]

The store is built like bench/status.py's (through the real Tracker over months of
simulated time). Then, in the same run:

* ``build_today`` in-process (everything Today shows), against ``build_status`` (the
  dashboard it extends) as the baseline: their ratio is what the page's extra truth
  (drafts with their fields, replies with their words, letters per writer, what comes
  next) costs;
* the real page served by ``maild ui`` (a subprocess on a free port of 127.0.0.1,
  logged in with its one-time token like a browser): GET of Today, Mentors and
  Applications, median and p95, against GET of the stylesheet (the server's own floor).

No target was set for the page; what a user feels is the page time, and it should stay
well under a second like ``maild status``.
"""

from __future__ import annotations

import argparse
import http.client
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.status import NOW, build, ms, p95, timed
from maild.app.status import build_status
from maild.app.today import Health, build_today
from maild.config import load, rules_for
from maild.store import Store


def serve(home: Path) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "MAILD_NOW": NOW.isoformat()}
    config = (home / "config.toml").read_text()
    if "[ui]" not in config:  # any free port: never the user's own maild's
        (home / "config.toml").write_text(config + "\n[ui]\nport = 0\n")
    proc = subprocess.Popen([sys.executable, "-m", "maild", "--home", str(home), "ui",
                             "--print-url"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def login(url: str) -> tuple[str, int, str]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port)
    conn.request("GET", f"{parts.path}?{parts.query}")
    response = conn.getresponse()
    response.read()
    cookie = response.getheader("set-cookie", "").split(";", 1)[0]
    conn.close()
    return parts.hostname or "", parts.port or 0, cookie


def get_times(host: str, port: int, cookie: str, path: str, reps: int) -> list[float]:
    conn = http.client.HTTPConnection(host, port)
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        conn.request("GET", path, headers={"Cookie": cookie})
        response = conn.getresponse()
        body = response.read()
        times.append(time.perf_counter() - started)
        if response.status != 200 or not body:
            raise SystemExit(f"GET {path}: {response.status}")
    conn.close()
    return times


def measure(home: Path, reps: int) -> None:
    config = load(home / "config.toml")
    rules = rules_for(config)
    tz = config.identity.timezone
    with Store.open(home / "maild.db") as store:
        today = build_today(store, NOW, rules, tz, Health(daemon_pid=None))  # warm
        today_times = timed(lambda: build_today(store, NOW, rules, tz, Health(None)), reps)
        status_times = timed(lambda: build_status(store, NOW, rules), reps)
    med_today, med_status = statistics.median(today_times), statistics.median(status_times)
    print(f"Today: {len(today.attention)} items need the user, {len(today.drafts)} drafts, "
          f"{len(today.review)} replies to read, {len(today.applications)} applications, "
          f"{len(today.upcoming)} steps ahead")
    print(f"build_today (in-process, {reps} runs): median {ms(med_today)}, "
          f"p95 {ms(p95(today_times))}")
    print(f"baseline build_status: median {ms(med_status)} -> build_today is "
          f"{med_today / med_status:.1f}x the dashboard it extends")

    proc, url = serve(home)
    try:
        host, port, cookie = login(url)
        floor = statistics.median(get_times(host, port, cookie, "/static/maild.css", reps))
        print(f"baseline GET /static/maild.css: median {ms(floor)}")
        for path in ("/", "/mentors", "/applications"):
            times = get_times(host, port, cookie, path, reps)
            med = statistics.median(times)
            print(f"GET {path:<14} median {ms(med)}, p95 {ms(p95(times))} "
                  f"({med / floor:.0f}x the stylesheet)")
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mentors", type=int, default=500)
    parser.add_argument("--asks", type=int, default=2000)
    parser.add_argument("--days", type=int, default=150)
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    home = args.keep or Path(tempfile.mkdtemp(prefix="maild-bench-ui-"))
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "maild.db").exists():
        started = time.perf_counter()
        build(home, args.mentors, args.asks, args.days, args.seed)
        print(f"built {home} through the Tracker in {time.perf_counter() - started:.1f} s")
    try:
        measure(home, args.reps)
    finally:
        if args.keep is None:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
