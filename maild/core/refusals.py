"""The domain refusals: asks the rules say must not be created as asked."""

from __future__ import annotations

from datetime import date, datetime

from maild.errors import UsageError


class RunwayTooShort(UsageError):
    """A letter request with less runway than the guides allow (``--force`` overrides)."""

    def __init__(self, deadline: date, days_left: int, minimum_days: int) -> None:
        super().__init__(
            f"the letter deadline {deadline.isoformat()} is only {days_left} days away "
            f"(less than {minimum_days}); ask anyway with --force"
        )
        self.deadline = deadline
        self.days_left = days_left


class ContactedRecently(UsageError):
    """The person was already asked within the never-twice period (``--again`` overrides)."""

    def __init__(self, ask_id: int, contacted_at: datetime, account: str | None) -> None:
        via = f" from {account}" if account else ""
        super().__init__(
            f"already contacted in ask {ask_id} on {contacted_at.date().isoformat()}{via}; "
            "ask again anyway with --again"
        )
        self.ask_id = ask_id
        self.contacted_at = contacted_at
        self.account = account


class StillOpen(UsageError):
    """An outreach ask to the same person has not ended yet (``--again`` overrides)."""

    def __init__(self, ask_id: int, state: str) -> None:
        super().__init__(
            f"ask {ask_id} to this person is still open ({state}); finish it, or cancel it "
            f"with `maild ask mark {ask_id} cancel` (ask again anyway with --again)"
        )
        self.ask_id = ask_id
