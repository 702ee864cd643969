"""Messages per second of maild's understanding on the sisimai corpus.

Usage: python bench/classify.py [CORPUS_DIR] [--rounds N]
Prints the figures; reads the files once, then times inspect_message on bytes in memory,
so disk speed does not count.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter
from pathlib import Path

from maild.understand.inspect import inspect_message

DEFAULT = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpora" / "bounces-sisimai"


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


if __name__ == "__main__":
    main()
