"""Finding Sent and Drafts by their special-use flags, whatever their names and case.

Cyrus announces ``\\sent`` and ``\\drafts`` in lower case; IMAP flags are
case-insensitive, so a Sent folder that is not called "Sent" is still found.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.mail.conftest import World


@pytest.mark.parametrize("imap_server", ["cyrus"], indirect=True)
def test_lower_case_special_use_flags_find_renamed_folders(world: World,
                                                           imap_client: Any) -> None:
    for old, new in (("Sent", "Gesendet"), ("Drafts", "Entwuerfe")):
        imap_client.rename_folder(old, new)
    listed = {name: flags for flags, _sep, name in imap_client.list_folders()}
    # Renamed folders keep their (lower-case) special use and match no usual name.
    assert b"\\sent" in listed["Gesendet"] and b"\\drafts" in listed["Entwuerfe"]
    with world.connect() as conn:
        names = conn.folders()
    assert (names.sent, names.drafts) == ("Gesendet", "Entwuerfe")
