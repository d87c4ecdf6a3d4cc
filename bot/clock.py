"""The injected clock: production reads the system time; tests and the console shift or set it.

Nothing else in the code asks the system for the time, so no test has to sleep.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, aware, in UTC."""
        ...

    def to_real(self, moment: datetime) -> datetime:
        """The real (system) time at which this clock will show `moment`; used to arm real timers."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def to_real(self, moment: datetime) -> datetime:
        return moment


class ShiftedClock:
    """System time plus an offset that can grow: the console's "fast-forward" and the e2e tests use it."""

    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def to_real(self, moment: datetime) -> datetime:
        return moment - self.offset

    def set(self, moment: datetime) -> None:
        self.offset = moment - datetime.now(UTC)

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


class FrozenClock:
    """A clock that only moves when told to; for tests of services."""

    def __init__(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self.moment = moment.astimezone(UTC)

    def now(self) -> datetime:
        return self.moment

    def to_real(self, moment: datetime) -> datetime:
        return datetime.now(UTC) + (moment - self.moment)

    def set(self, moment: datetime) -> None:
        self.moment = moment.astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        self.moment += delta
