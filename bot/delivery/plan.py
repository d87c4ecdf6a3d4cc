"""Reminder planning and catch-up decisions: which messages a study owes, and what to do with overdue ones.

Why this is pure: the scheduler (APScheduler) only holds derived jobs and the database holds what was
already delivered, so after a restart, a crash or a schedule change the bot must be able to recompute, from
nothing but the schedule, the offsets, the set of deliveries already recorded and `now`, what is owed.
Keeping that rule here makes it testable by simulating days of up- and downtime in microseconds.

The rules:

* A delivery is identified by ``(occurrence, kind)`` — the UTC start of the session as scheduled now and a
  kind such as ``"remind:1440"``. The database's UNIQUE (study, occurrence, kind) turns that key into a claim,
  and the Discord nonce is derived from it, so a retry after a crash cannot post twice.
* Moving a session changes its occurrence, so its reminders are owed again for the new time (people need to
  hear about the new time); deliveries already made for the old time stay recorded under the old key.
* A cancelled session gets no reminders, only one cancel notice, due when its first reminder would have gone
  — the moment people would otherwise have started planning for it.
* Pausing holds reminders, not cancel notices. A reminder that falls due while the study is paused is
  recorded as skipped and never sent later (a pause is for quiet weeks; a burst of stale reminders on resume
  would be noise). A cancel notice is news members need before they turn up for nothing, so it goes out on
  time even while paused — and, like any delivery, only if its session has not started yet.
* A delivery whose time passed while the bot was down is sent late only if its session has not started,
  and only the latest one per session (one "late" message is useful; a burst of stale reminders is noise).
  The rest are recorded as missed so they are never reconsidered.
* The study's practice adds three posts per session that is not cancelled, keyed the same way: the
  session-start post with its check-in button (``"checkin"``, when the check-in window opens), the nudge
  about missing study logs (``"nudge"``, `nudge_offset` before the start) and the recap (``"recap"``, at
  the end). Each is useful for its own span — the check-in post until the session ends, the nudge until it
  starts, the recap for `RECAP_USEFUL` after the end — and never supersedes a reminder or another post.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from bot.core.model import PracticeSettings
from bot.core.schedule import Session

CANCEL_NOTICE = "cancelled"
"""Kind of the one message that tells a study a session is cancelled."""

REMIND_PREFIX = "remind:"

CHECKIN_POST = "checkin"
"""Kind of the session-start post that carries the check-in button."""
NUDGE = "nudge"
"""Kind of the post that lists who has not posted this week's study log."""
RECAP = "recap"
"""Kind of the post after a session: who checked in, whose logs are up, what comes next."""
PRACTICE_KINDS = frozenset({CHECKIN_POST, NUDGE, RECAP})

RECAP_USEFUL = timedelta(hours=12)
"""How long after a session its recap is still worth posting (after downtime)."""

DEFAULT_ON_TIME = timedelta(minutes=5)
"""How late a delivery may be and still read as on time (scheduler jitter, a busy loop, a paced queue)."""

NONCE_LENGTH = 25
"""Discord accepts nonces of at most 25 characters."""

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def kind_for_offset(offset: timedelta) -> str:
    """The delivery kind of a reminder sent `offset` before the session: ``"remind:<minutes>"``.

    Minutes keep the kind short, readable in the database and stable when offsets are edited in the same unit.
    """
    if offset <= timedelta(0):
        raise ValueError(f"reminder offset must be positive, got {offset}")
    if offset % timedelta(minutes=1):
        raise ValueError(f"reminder offset must be a whole number of minutes, got {offset}")
    return f"{REMIND_PREFIX}{offset // timedelta(minutes=1)}"


@dataclass(frozen=True, slots=True)
class PlannedDelivery:
    """One message a study owes: a reminder for a session, or the notice that a session is cancelled.

    `occurrence` is the UTC start of the session as scheduled now (after a move, the new start; for a cancel
    notice, the original start). `offset` is None for a cancel notice. `week` is the session's curriculum
    week — for a cancelled session the week it would have been (its slot's place among the sessions held).
    """

    occurrence: datetime
    kind: str
    due: datetime
    session: Session
    offset: timedelta | None
    week: int | None = None

    @property
    def key(self) -> tuple[datetime, str]:
        """The identity of the delivery, as stored in the delivery table (with the study id)."""
        return (self.occurrence, self.kind)

    @property
    def is_cancel_notice(self) -> bool:
        return self.kind == CANCEL_NOTICE

    @property
    def is_practice(self) -> bool:
        return self.kind in PRACTICE_KINDS


class Decision(StrEnum):
    """What to do with a delivery that is due."""

    SEND = "send"  # due just now: send as a normal reminder
    SEND_LATE = "send_late"  # due a while ago (the bot was down or busy); send once, saying it is late
    MISSED = "missed"  # not worth sending any more: record it so it is never reconsidered
    HELD = "held"  # a reminder due while reminders are paused: recorded as skipped, never sent later


def held_by_pause(delivery: PlannedDelivery, *, paused: bool) -> bool:
    """Whether pausing stops `delivery`: reminders and the practice posts (check-in post, nudge, recap) yes,
    cancel notices no (see the module's rules)."""
    return paused and not delivery.is_cancel_notice


def plan_deliveries(
    schedule: Sequence[Session],
    offsets: Sequence[timedelta],
    *,
    since: datetime,
    until: datetime,
    practice: PracticeSettings | None = None,
) -> list[PlannedDelivery]:
    """Every delivery with ``since <= due < until``, sorted by due time then kind.

    A non-cancelled session gets one reminder per offset at ``start - offset``. A cancelled session gets
    exactly one cancel notice at ``original start - max(offsets)`` and never a reminder. A study without
    offsets has asked for no reminders, so it gets neither. Duplicate offsets count once. With `practice`,
    each non-cancelled session also gets the posts it switches on (check-in post, nudge, recap).
    """
    _require_aware(since, "since")
    _require_aware(until, "until")
    unique = sorted(set(offsets))
    planned = _plan_practice(schedule, practice, since=since, until=until) if practice is not None else []
    if not unique:
        planned.sort(key=lambda p: (p.due, p.kind))
        return planned
    kinds = [(offset, kind_for_offset(offset)) for offset in unique]
    earliest = unique[-1]
    held = 0  # sessions held so far: a cancelled slot would have been week held + 1
    for session in schedule:
        occurrence = session.start.astimezone(UTC)
        if session.cancelled:
            due = occurrence - earliest
            if since <= due < until:
                planned.append(PlannedDelivery(occurrence, CANCEL_NOTICE, due, session, None, held + 1))
            continue
        held += 1
        for offset, kind in kinds:
            due = occurrence - offset
            if since <= due < until:
                planned.append(PlannedDelivery(occurrence, kind, due, session, offset, session.week))
    planned.sort(key=lambda p: (p.due, p.kind))
    return planned


def _plan_practice(
    schedule: Sequence[Session], practice: PracticeSettings, *, since: datetime, until: datetime
) -> list[PlannedDelivery]:
    planned: list[PlannedDelivery] = []
    for session in schedule:
        if session.cancelled:
            continue
        occurrence = session.start.astimezone(UTC)
        dues: list[tuple[str, datetime]] = []
        if practice.checkin_post_enabled:
            dues.append((CHECKIN_POST, occurrence - practice.checkin_opens))
        if practice.nudge_offset > timedelta(0):
            dues.append((NUDGE, occurrence - practice.nudge_offset))
        if practice.recap_enabled:
            dues.append((RECAP, session.end.astimezone(UTC)))
        for kind, due in dues:
            if since <= due < until:
                planned.append(PlannedDelivery(occurrence, kind, due, session, None, session.week))
    return planned


def still_useful(delivery: PlannedDelivery, now: datetime) -> bool:
    """Whether posting `delivery` at `now` still helps anyone (else it is recorded as missed).

    Reminders and notices: until the session starts. The check-in post: until the session ends (a late
    post still carries the button). The nudge: until the start. The recap: for `RECAP_USEFUL` after the end.
    """
    if delivery.kind == CHECKIN_POST:
        return now < delivery.session.end
    if delivery.kind == RECAP:
        return now < delivery.due + RECAP_USEFUL
    return delivery.occurrence > now


def decide_due(
    planned: Sequence[PlannedDelivery],
    *,
    done: Collection[tuple[datetime, str]],
    now: datetime,
    on_time: timedelta = DEFAULT_ON_TIME,
    paused: bool = False,
) -> list[tuple[PlannedDelivery, Decision]]:
    """Decide every planned delivery that is due (``due <= now``) and not in `done`, exactly once each.

    * Its session has already started (``occurrence <= now``) → MISSED: a reminder after the start is
      useless, and a cancel notice after the start would only confuse.
    * The study is `paused` and it is a reminder → HELD. Cancel notices are decided as if not paused.
    * Otherwise, per session only the latest-due delivery is sent — SEND when it is at most `on_time` late,
      SEND_LATE beyond that — and the session's earlier ones are MISSED. In normal running each delivery is
      decided at its own due time, so this only bites after downtime: one late reminder, not a burst.

    `done` holds the keys already recorded (sent, missed or failed). The caller records every decision it
    gets back (MISSED included) so the next call does not decide it again. Results keep `planned`'s order.
    """
    _require_aware(now, "now")
    pending = [p for p in planned if p.due <= now and p.key not in done]
    decisions: dict[tuple[datetime, str], Decision] = {}
    by_session: defaultdict[date, list[PlannedDelivery]] = defaultdict(list)
    for delivery in pending:
        if not still_useful(delivery, now):
            decisions[delivery.key] = Decision.MISSED
        elif held_by_pause(delivery, paused=paused):
            decisions[delivery.key] = Decision.HELD
        elif delivery.is_practice:  # each practice post stands alone: sent (maybe late) while useful
            decisions[delivery.key] = Decision.SEND if now - delivery.due <= on_time else Decision.SEND_LATE
        else:
            by_session[delivery.session.original_date].append(delivery)
    for group in by_session.values():
        latest = max(group, key=lambda p: (p.due, p.kind))
        for delivery in group:
            if delivery is not latest:
                decisions[delivery.key] = Decision.MISSED
            elif now - delivery.due <= on_time:
                decisions[delivery.key] = Decision.SEND
            else:
                decisions[delivery.key] = Decision.SEND_LATE
    return [(delivery, decisions[delivery.key]) for delivery in pending]


def next_due(
    planned: Sequence[PlannedDelivery],
    *,
    done: Collection[tuple[datetime, str]],
    now: datetime,
) -> PlannedDelivery | None:
    """The next delivery due strictly after `now` that is not done: when the scheduler should wake next."""
    _require_aware(now, "now")
    future = [p for p in planned if p.due > now and p.key not in done]
    return min(future, key=lambda p: (p.due, p.kind), default=None)


def nonce_for(study_id: int, occurrence: datetime, kind: str) -> str:
    """A deterministic Discord nonce for one delivery: 25 characters of [0-9A-Za-z].

    Sending with it (discord.py sets ``enforce_nonce``) makes Discord return the message already posted
    with the same nonce instead of posting a duplicate, so a send retried after a crash is harmless. The
    occurrence is normalised to UTC, so the same instant gives the same nonce in any timezone. 25 base-62
    digits of a SHA-256 keep about 148 bits: different deliveries do not collide in practice.
    """
    _require_aware(occurrence, "occurrence")
    text = f"{study_id}|{occurrence.astimezone(UTC).isoformat()}|{kind}"
    number = int.from_bytes(hashlib.sha256(text.encode()).digest(), "big")
    digits = []
    for _ in range(NONCE_LENGTH):
        number, digit = divmod(number, 62)
        digits.append(_BASE62[digit])
    return "".join(digits)


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
