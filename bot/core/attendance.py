"""Attendance rules: when a member may check in, whether that is present or late, and a member's record.

Pure functions of the schedule, the study's practice settings, the stored records and a `now` passed in.

* A session is named by its original date (its regular slot), so a moved session keeps its records; its
  check-in window follows its *new* time.
* The window opens `checkin_opens` before the start and closes at the end. A check-in up to
  `checkin_grace` after the start is present, later ones are late. Cancelled sessions take no check-in and
  count for nothing.
* A session that has ended without a record is absent. The rate is (present + late) over the sessions
  that ended and were not excused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from bot.core.model import PracticeSettings
from bot.core.schedule import Session


class AttendanceStatus(StrEnum):
    PRESENT = "present"
    LATE = "late"
    EXCUSED = "excused"
    ABSENT = "absent"


class CheckinSource(StrEnum):
    BUTTON = "button"
    COMMAND = "command"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class CheckinRefusal:
    """Why a check-in is not possible now: a catalogue key and its parameters."""

    key: str
    params: Mapping[str, object]


def window_opens(session: Session, practice: PracticeSettings) -> datetime:
    return session.start - practice.checkin_opens


def checkin_status(session: Session, practice: PracticeSettings, now: datetime) -> AttendanceStatus | CheckinRefusal:
    """Present or late when `now` is inside the session's window; otherwise why not."""
    if session.cancelled:
        return CheckinRefusal("attendance.cancelled", {"date": session.original_date.isoformat()})
    opens = window_opens(session, practice)
    if now < opens:
        return CheckinRefusal("attendance.too_early", {"opens": int(opens.timestamp())})
    if now >= session.end:
        return CheckinRefusal("attendance.closed", {"week": session.week or 0})
    if now <= session.start + practice.checkin_grace:
        return AttendanceStatus.PRESENT
    return AttendanceStatus.LATE


def session_to_check_in(
    schedule: Sequence[Session], practice: PracticeSettings, now: datetime
) -> Session | CheckinRefusal:
    """The session whose check-in window holds `now` (for `/checkin`); else why there is none."""
    open_now = [s for s in schedule if not s.cancelled and window_opens(s, practice) <= now < s.end]
    if open_now:
        return min(open_now, key=lambda s: s.start)
    upcoming = [s for s in schedule if not s.cancelled and window_opens(s, practice) > now]
    if not upcoming:
        return CheckinRefusal("attendance.no_session", {})
    following = min(upcoming, key=lambda s: s.start)
    return CheckinRefusal("attendance.too_early", {"opens": int(window_opens(following, practice).timestamp())})


@dataclass(frozen=True, slots=True)
class WeekRecord:
    """One counted session of a member's history: the week, its session, and the status (None: not yet)."""

    week: int
    session: Session
    status: AttendanceStatus | None


@dataclass(frozen=True, slots=True)
class History:
    records: tuple[WeekRecord, ...]

    def count(self, status: AttendanceStatus) -> int:
        return sum(1 for r in self.records if r.status is status)

    @property
    def rate(self) -> float | None:
        """(present + late) / (ended sessions not excused); None when nothing counts yet."""
        attended = self.count(AttendanceStatus.PRESENT) + self.count(AttendanceStatus.LATE)
        counted = attended + self.count(AttendanceStatus.ABSENT)
        return None if counted == 0 else attended / counted


def member_history(schedule: Sequence[Session], records: Mapping[date, AttendanceStatus], now: datetime) -> History:
    """A member's status per week: their stored record, else absent once the session ended, else None."""
    out = []
    for session in schedule:
        if session.cancelled or session.week is None:
            continue
        status = records.get(session.original_date)
        if status is None and session.end <= now:
            status = AttendanceStatus.ABSENT
        out.append(WeekRecord(session.week, session, status))
    return History(tuple(out))


def rate_of_week(statuses: Sequence[AttendanceStatus | None]) -> float | None:
    """The share of members who came (present or late) to one session, excused members left out."""
    counted = [s for s in statuses if s is not None and s is not AttendanceStatus.EXCUSED]
    if not counted:
        return None
    return sum(1 for s in counted if s in (AttendanceStatus.PRESENT, AttendanceStatus.LATE)) / len(counted)
