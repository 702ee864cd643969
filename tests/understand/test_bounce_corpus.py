"""Every bounce wording: tests/understand/data/bounces/*.eml, from distinct server software.

Postfix, Exim, Sendmail, qmail, Exchange 2003/2010, Exchange Online, Outlook.com, Gmail,
Yahoo, AOL, iCloud, Courier, Lotus Domino, GroupWise, Zimbra, MDaemon, hMailServer,
Kerio, IronPort, Barracuda, Mimecast, Proofpoint, Amazon SES, Zoho, Yandex, Mail.ru,
GMX, Verizon, Mercury, Axigen, SmarterMail, CommuniGate, Mirapoint, IMail, IIS — plus
the messages that look like bounces and are not: challenge/response requests, bulk
mail, ticket systems, and auto-replies that carry the same headers.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from maild.understand.inspect import inspect_message

FOLDER = Path(__file__).resolve().parent / "data" / "bounces"


def _rows() -> list[dict[str, str]]:
    with (FOLDER / "labels.tsv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


ROWS = _rows()

# Cases maild reads differently from their label, each with why; the test checks that
# they still do, so that the list stays true when the reading changes.
KNOWN_MISSES = {
    "smartermail-user-not-found.eml": (
        "a bare '550 <x> No such user here' with no enhanced code and no SMTP stage: "
        "filtering appliances (MailFoundry, McAfee, SurfControl in the sisimai corpus) "
        "reject content with the same words, so maild keeps the address (not invalid)"),
}


def test_the_corpus_has_sixty_bounce_wordings_from_distinct_software() -> None:
    bounces = [r for r in ROWS if r["kind"] == "bounce"]
    assert len(bounces) >= 60
    software = {r["software"].split(" (")[0] for r in bounces}
    assert len(software) >= 30
    print(f"\nbounce corpus: {len(bounces) - len(KNOWN_MISSES)}/{len(bounces)} read as "
          f"labelled; {len(bounces)} bounces from {len(software)} kinds of server, "
          f"{len(ROWS) - len(bounces)} look-alikes; kinds {dict(Counter(r['kind'] for r in ROWS))}")


@pytest.mark.parametrize("row", ROWS, ids=[r["file"] for r in ROWS])
def test_bounce_reading(row: dict[str, str]) -> None:
    result = inspect_message((FOLDER / row["file"]).read_bytes())
    assert (result.kind, result.subkind) == (row["kind"], row["subkind"]), result.kind_evidence
    if row["kind"] != "bounce":
        assert result.bounce is None
        return
    assert result.bounce is not None
    expected_invalid = row["address_invalid"] == "true"
    if row["file"] in KNOWN_MISSES:
        expected_invalid = not expected_invalid
    assert result.bounce.address_invalid is expected_invalid, result.bounce.diagnostic
    assert result.bounce.delayed is (row["delayed"] == "true")
    if row["status"]:
        assert result.bounce.status == row["status"]
    assert row["recipient"] in result.bounce.recipients
    data = result.to_json()
    assert data["kind"] in ("human", "auto_reply", "notification", "bounce")
