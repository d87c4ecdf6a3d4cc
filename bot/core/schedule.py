"""Schedule math: which sessions a study has, which curriculum week each one is, and where `now` falls.

Rules (pure functions of their inputs; `now` is always passed in):

* A *slot* is a date of the regular weekly pattern, counted from the first session date.
* A slot may be cancelled or moved (`SessionChange`). A moved slot keeps its identity (its original date)
  and its place in the week order, but starts at the new time.
* Curriculum week k is the k-th slot that is not cancelled. The schedule ends with the slot that holds the
  last curriculum week; cancelled slots before it are kept so they can be shown as cancelled.
* "This week" is the first slot that has not ended yet; a cancelled slot ends when it would have ended.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.core.model import Recurrence, SessionChange

# A guard against a schedule with every slot cancelled: never walk more than this many slots.
MAX_SLOTS = 520


@dataclass(frozen=True, slots=True)
class Session:
    """One slot of the schedule, resolved: its real start/end (aware, UTC) and its curriculum week."""

    original_date: date
    start: datetime
    end: datetime
    week: int | None  # None when cancelled
    cancelled: bool = False
    moved: bool = False
    reason: str = ""


def slot_start(rec: Recurrence, day: date) -> datetime:
    """The regular start of the slot on `day`, as an aware UTC datetime (DST handled by zoneinfo)."""
    local = datetime.combine(day, rec.start_time, tzinfo=ZoneInfo(rec.timezone))
    return local.astimezone(UTC)


def first_slot_date(rec: Recurrence) -> date:
    """The first date on or after `first_date` that falls on the study's weekday."""
    delta = (rec.weekday - rec.first_date.weekday()) % 7
    return rec.first_date + timedelta(days=delta)


def slot_dates(rec: Recurrence) -> Iterator[date]:
    day = first_slot_date(rec)
    for _ in range(MAX_SLOTS):
        yield day
        day += timedelta(days=7)


def is_slot_date(rec: Recurrence, day: date) -> bool:
    """True when `day` is one of the regular session dates (on the weekday, not before the first one)."""
    return day >= first_slot_date(rec) and day.weekday() == rec.weekday


def build_schedule(rec: Recurrence, changes: Iterable[SessionChange], week_count: int) -> list[Session]:
    """Every slot up to the one holding curriculum week `week_count`, cancelled ones included."""
    by_date = {c.original_date: c for c in changes}
    sessions: list[Session] = []
    week = 0
    if week_count <= 0:
        return sessions
    for day in slot_dates(rec):
        change = by_date.get(day)
        start = slot_start(rec, day)
        if change is not None and change.cancelled:
            if change.moved_to is not None:  # a moved session, then cancelled: it was last announced there
                _require_aware(change.moved_to)
                start = change.moved_to.astimezone(UTC)
            cancelled = Session(day, start, start + rec.duration, None, cancelled=True, reason=change.reason)
            sessions.append(cancelled)
            continue
        moved = change is not None and change.moved_to is not None
        if change is not None and change.moved_to is not None:
            _require_aware(change.moved_to)
            start = change.moved_to.astimezone(UTC)
        week += 1
        reason = change.reason if change else ""
        sessions.append(Session(day, start, start + rec.duration, week, moved=moved, reason=reason))
        if week >= week_count:
            break
    return sessions


def current_index(schedule: Sequence[Session], now: datetime) -> int | None:
    """Index of "this week": the first slot that has not ended at `now`; None when all are over."""
    _require_aware(now)
    for index, session in enumerate(schedule):
        if session.end > now:
            return index
    return None


def next_session(schedule: Sequence[Session], now: datetime) -> Session | None:
    """The next session that is not cancelled and has not started yet (by start time: a move can reorder)."""
    _require_aware(now)
    candidates = [s for s in schedule if not s.cancelled and s.start > now]
    return min(candidates, key=lambda s: s.start, default=None)


def upcoming_or_ongoing(schedule: Sequence[Session], now: datetime, *, after: int = 0) -> Session | None:
    """The first non-cancelled session that has not ended, looking from index `after`."""
    for session in schedule[after:]:
        if not session.cancelled and session.end > now:
            return session
    return None


def session_for_week(schedule: Sequence[Session], week: int) -> Session | None:
    for session in schedule:
        if session.week == week:
            return session
    return None


def session_on(schedule: Sequence[Session], day: date) -> Session | None:
    """The slot whose original date is `day`."""
    for session in schedule:
        if session.original_date == day:
            return session
    return None


def overlapping(schedule: Sequence[Session], session: Session) -> Session | None:
    """The first other session that is not cancelled and whose time overlaps `session`'s: two sessions of
    one study never share a slot (members cannot be in both, and both would claim the same week's place)."""
    for other in schedule:
        if other.original_date == session.original_date or other.cancelled:
            continue
        if other.start < session.end and session.start < other.end:
            return other
    return None


def not_started(schedule: Sequence[Session], now: datetime) -> list[Session]:
    """The slots (cancelled ones included) that have not started: the ones an admin may still change."""
    _require_aware(now)
    return [s for s in schedule if s.start > now]


def upcoming_sessions(schedule: Sequence[Session], now: datetime, count: int) -> list[Session]:
    """The next `count` non-cancelled sessions that have not ended."""
    found = sorted((s for s in schedule if not s.cancelled and s.end > now), key=lambda s: s.start)
    return found[:count]


def local(dt: datetime, timezone: str) -> datetime:
    return dt.astimezone(ZoneInfo(timezone))


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("datetimes must be timezone-aware")
