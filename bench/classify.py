"""Messages per second of maild's understanding on the sisimai corpus, and the cost of
hostile input relative to it.

Usage: python bench/classify.py [CORPUS_DIR] [--rounds N]
Prints the figures; reads the files once, then times inspect_message on bytes in memory,
so disk speed does not count. The hostile inputs (10 MB bodies, header floods, deep
nesting, encoded-word bombs, charsets that raise) are timed in the same run and shown
as a ratio to the corpus's mean message, so the figure means the same on any machine.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter
from pathlib import Path

from maild.understand.inspect import inspect_message

_REPO = Path(__file__).resolve().parents[1]
# The main checkout sits beside shared/; a git worktree (wt/NAME) one level deeper.
DEFAULT = next(
    (base / "shared" / "corpora" / "bounces-sisimai" for base in (_REPO.parent,
                                                                    _REPO.parent.parent)
     if (base / "shared" / "corpora" / "bounces-sisimai").is_dir()),
    _REPO.parent / "shared" / "corpora" / "bounces-sisimai",
)


def hostile_inputs() -> dict[str, bytes]:
    """The worst inputs the hostile tests throw at the reader, one of each kind."""
    deep = b"".join(f"Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n"
                    .encode() for i in range(300))
    return {
        "10 MB one-line body": b"From: MAILER-DAEMON@example.org\r\nSubject: Undeliverable"
                               b"\r\n\r\n" + b"550 5.1.1 user unknown " * 450_000,
        "20,000 headers": b"From: a@example.org\r\n" + b"Received: from x by y\r\n" * 20_000
                          + b"\r\nbody\r\n",
        "one 2 MB header": b"From: a@example.org\r\nSubject: " + b"a" * 2_000_000
                           + b"\r\n\r\nbody\r\n",
        "300-deep multipart": b"From: a@example.org\r\n" + deep + b"\r\nyes",
        "50,000 encoded words": b"From: a@example.org\r\nSubject: "
                                + b"=?utf-8?B?w6k=?= " * 50_000 + b"\r\n\r\nok\r\n",
        "idna/undefined charsets": b"From: =?idna?q?M=FC?= <b@example.org>\r\nReturn-Path: <>"
                                   b"\r\nContent-Type: text/plain; charset=undefined\r\n\r\n"
                                   b"<x@example.org>: 550 5.1.1 user unknown \xff\r\n",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    files = sorted(p for p in args.corpus.rglob("*.eml") if p.is_file())
    if not files:
        raise SystemExit(f"no .eml files under {args.corpus}")
    raws = [p.read_bytes() for p in files]
    start = time.perf_counter()
    inspect_message(raws[0])  # imports and regex compilation are not per message
    warmup = time.perf_counter() - start
    rates: list[float] = []
    slowest = (0.0, "")
    kinds: Counter[str] = Counter()
    for _ in range(args.rounds):
        begin = time.perf_counter()
        for path, raw in zip(files, raws, strict=True):
            one = time.perf_counter()
            result = inspect_message(raw)
            took = time.perf_counter() - one
            if took > slowest[0]:
                slowest = (took, path.name)
            kinds[result.kind] += 1
        rates.append(len(raws) / (time.perf_counter() - begin))
    total_mb = sum(len(r) for r in raws) / 1e6
    print(f"corpus: {args.corpus} ({len(raws)} messages, {total_mb:.1f} MB)")
    print(f"first call (imports, regex compile): {warmup * 1000:.0f} ms")
    print(f"messages/second: median {statistics.median(rates):.0f} "
          f"(min {min(rates):.0f}, max {max(rates):.0f}) over {args.rounds} rounds")
    print(f"mean per message: {1000 / statistics.median(rates):.2f} ms; "
          f"slowest: {slowest[0] * 1000:.1f} ms ({slowest[1]})")
    per_round = ", ".join(f"{k}={v // args.rounds}" for k, v in sorted(kinds.items()))
    print(f"kinds per round: {per_round}")
    mean = 1 / statistics.median(rates)
    print("hostile input (best of 3; x = times the corpus's mean message):")
    for name, raw in hostile_inputs().items():
        took = min(_time(raw) for _ in range(3))
        print(f"  {name:<26} {took * 1000:8.1f} ms  {took / mean:6.1f} x")


def _time(raw: bytes) -> float:
    begin = time.perf_counter()
    inspect_message(raw)
    return time.perf_counter() - begin


if __name__ == "__main__":
    main()
