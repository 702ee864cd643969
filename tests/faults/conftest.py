"""The faults suite builds on the mail tests' world (real IMAP and SMTP sandboxes)."""

from __future__ import annotations

from tests.mail.conftest import make, smtp_for_user, world

__all__ = ["make", "smtp_for_user", "world"]
