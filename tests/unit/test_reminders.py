"""Specification of bot/delivery/plan.py: what is owed, when, and what happens to it after downtime."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from bot.core.model import Recurrence, SessionChange
from bot.core.schedule import Session, build_schedule, first_slot_date, slot_start
from bot.delivery.plan import (
    CANCEL_NOTICE,
    Decision,
    PlannedDelivery,
    decide_due,
    kind_for_offset,
    next_due,
    nonce_for,
    plan_deliveries,
)

SEOUL = ZoneInfo("Asia/Seoul")
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
ON_TIME = timedelta(minutes=5)
EVER = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


def seed_study() -> Recurrence:
    """Thursdays 09:00 Asia/Seoul, one hour, from Thursday 2025-03-06."""
    return Recurrence(3, time(9, 0), timedelta(minutes=60), "Asia/Seoul", date(2025, 3, 6))


def plan_all(schedule: list[Session], offsets: list[timedelta]) -> list[PlannedDelivery]:
    return plan_deliveries(schedule, offsets, since=EVER[0], until=EVER[1])


def kst(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SEOUL)


# ---- kinds ---------------------------------------------------------------------------------------------


def test_kind_is_the_offset_in_minutes() -> None:
    assert kind_for_offset(DAY) == "remind:1440"
    assert kind_for_offset(HOUR) == "remind:60"
    assert kind_for_offset(timedelta(minutes=15)) == "remind:15"


@pytest.mark.parametrize("offset", [timedelta(0), -HOUR, timedelta(seconds=90)])
def test_kind_refuses_offsets_that_are_not_positive_whole_minutes(offset: timedelta) -> None:
    with pytest.raises(ValueError, match="offset"):
        kind_for_offset(offset)


# ---- planning ------------------------------------------------------------------------------------------


def test_seed_study_is_reminded_wednesday_0900_and_thursday_0800_kst() -> None:
    schedule = build_schedule(seed_study(), [], 2)
    planned = plan_all(schedule, [DAY, HOUR])
    first_week = [p for p in planned if p.session == schedule[0]]
    assert [(p.due, p.kind) for p in first_week] == [
        (kst(2025, 3, 5, 9, 0), "remind:1440"),  # Wednesday 09:00 KST
        (kst(2025, 3, 6, 8, 0), "remind:60"),  # Thursday 08:00 KST
    ]
    assert all(p.occurrence == datetime(2025, 3, 6, 0, 0, tzinfo=UTC) for p in first_week)
    assert [p.offset for p in first_week] == [DAY, HOUR]
    assert first_week[0].key == (datetime(2025, 3, 6, 0, 0, tzinfo=UTC), "remind:1440")
    assert len(planned) == 4


def test_plan_is_sorted_by_due_then_kind_and_windowed() -> None:
    schedule = build_schedule(seed_study(), [], 3)
    planned = plan_all(schedule, [HOUR, DAY, DAY])  # order and duplicates do not matter
    assert len(planned) == 6
    assert [p.due for p in planned] == sorted(p.due for p in planned)
    since = kst(2025, 3, 6, 8, 0)  # exactly the second reminder of week 1: included
    until = kst(2025, 3, 13, 8, 0)  # exactly the second reminder of week 2: excluded
    window = plan_deliveries(schedule, [DAY, HOUR], since=since, until=until)
    assert [(p.due, p.kind) for p in window] == [
        (kst(2025, 3, 6, 8, 0), "remind:60"),
        (kst(2025, 3, 12, 9, 0), "remind:1440"),
    ]


def test_same_due_is_ordered_by_kind() -> None:
    # Week 2 moved to Friday 08:00: its 1-day reminder falls on week 1's 1-hour reminder, Thursday 08:00.
    moved = SessionChange(date(2025, 3, 13), False, kst(2025, 3, 7, 8, 0))
    schedule = build_schedule(seed_study(), [moved], 2)
    planned = plan_all(schedule, [DAY, HOUR])
    same = [p for p in planned if p.due == kst(2025, 3, 6, 8, 0)]
    assert [p.kind for p in same] == ["remind:1440", "remind:60"]


def test_cancelled_session_gets_one_notice_when_the_first_reminder_would_have_gone() -> None:
    cancel = SessionChange(date(2025, 3, 13), cancelled=True, reason="holiday")
    schedule = build_schedule(seed_study(), [cancel], 2)
    planned = plan_all(schedule, [HOUR, DAY, timedelta(minutes=10)])
    for_cancelled = [p for p in planned if p.session.cancelled]
    assert len(for_cancelled) == 1
    notice = for_cancelled[0]
    assert notice.kind == CANCEL_NOTICE
    assert notice.occurrence == kst(2025, 3, 13, 9, 0)
    assert notice.due == kst(2025, 3, 12, 9, 0)
    assert notice.offset is None
    assert notice.is_cancel_notice


def test_no_offsets_means_no_reminders_and_no_notices() -> None:
    schedule = build_schedule(seed_study(), [SessionChange(date(2025, 3, 13), True)], 3)
    assert plan_all(schedule, []) == []


def test_moved_session_is_reminded_relative_to_its_new_start() -> None:
    new_start = kst(2025, 3, 14, 20, 0)
    schedule = build_schedule(seed_study(), [SessionChange(date(2025, 3, 13), False, new_start)], 2)
    planned = [p for p in plan_all(schedule, [DAY, HOUR]) if p.session.original_date == date(2025, 3, 13)]
    assert [p.occurrence for p in planned] == [new_start, new_start]
    assert [p.due for p in planned] == [new_start - DAY, new_start - HOUR]


def test_naive_window_is_refused() -> None:
    schedule = build_schedule(seed_study(), [], 1)
    with pytest.raises(ValueError, match="aware"):
        plan_deliveries(schedule, [DAY], since=datetime(2025, 1, 1), until=EVER[1])  # noqa: DTZ001


# ---- decisions -----------------------------------------------------------------------------------------


def one_session_plan() -> tuple[Session, list[PlannedDelivery]]:
    schedule = build_schedule(seed_study(), [], 1)
    return schedule[0], plan_all(schedule, [DAY, HOUR, timedelta(minutes=10)])


def test_delivery_decided_at_its_due_time_is_sent() -> None:
    _, planned = one_session_plan()
    result = decide_due(planned, done=set(), now=planned[0].due)
    assert result == [(planned[0], Decision.SEND)]


def test_on_time_window_is_inclusive() -> None:
    _, planned = one_session_plan()
    first = planned[0]
    assert decide_due([first], done=set(), now=first.due + ON_TIME) == [(first, Decision.SEND)]
    late = first.due + ON_TIME + timedelta(microseconds=1)
    assert decide_due([first], done=set(), now=late) == [(first, Decision.SEND_LATE)]
    custom = decide_due([first], done=set(), now=first.due + 20 * MINUTE, on_time=30 * MINUTE)
    assert custom == [(first, Decision.SEND)]


def test_nothing_is_decided_before_it_is_due_or_after_it_is_done() -> None:
    _, planned = one_session_plan()
    assert decide_due(planned, done=set(), now=planned[0].due - timedelta(microseconds=1)) == []
    assert decide_due(planned, done={planned[0].key}, now=planned[0].due) == []


def test_after_downtime_only_the_latest_reminder_is_sent_late() -> None:
    session, planned = one_session_plan()
    restart = session.start - 2 * MINUTE  # all three (1d, 1h, 10 min) passed while down
    result = decide_due(planned, done=set(), now=restart)
    assert [(p.kind, d) for p, d in result] == [
        ("remind:1440", Decision.MISSED),
        ("remind:60", Decision.MISSED),
        ("remind:10", Decision.SEND_LATE),
    ]


def test_latest_overdue_within_the_window_is_still_on_time() -> None:
    session, planned = one_session_plan()
    restart = session.start - 8 * MINUTE  # the 10-minute reminder is 2 minutes late
    result = dict((p.kind, d) for p, d in decide_due(planned, done=set(), now=restart))
    assert result == {
        "remind:1440": Decision.MISSED,
        "remind:60": Decision.MISSED,
        "remind:10": Decision.SEND,
    }


def test_reminders_after_the_session_started_are_missed() -> None:
    session, planned = one_session_plan()
    for now in (session.start, session.start + MINUTE, session.end + DAY):
        assert {d for _, d in decide_due(planned, done=set(), now=now)} == {Decision.MISSED}


def test_each_session_gets_its_own_late_reminder() -> None:
    schedule = build_schedule(seed_study(), [], 2)
    planned = plan_all(schedule, [DAY, HOUR])
    # Down from before week 1's reminders until just before week 2 starts.
    now = schedule[1].start - 30 * MINUTE
    result = decide_due(planned, done=set(), now=now)
    sends = [(p.session.week, p.kind) for p, d in result if d is not Decision.MISSED]
    assert sends == [(2, "remind:60")]  # week 1 has started: all its reminders are missed


def test_cancellation_made_after_the_first_reminder_is_announced_late() -> None:
    rec = seed_study()
    before = build_schedule(rec, [], 1)
    planned = plan_all(before, [DAY, HOUR])
    sent = decide_due(planned, done=set(), now=planned[0].due)
    assert [d for _, d in sent] == [Decision.SEND]
    done = {p.key for p, _ in sent}
    # An admin cancels the session 3 hours later.
    after = build_schedule(rec, [SessionChange(date(2025, 3, 6), True)], 1)
    now = planned[0].due + 3 * HOUR
    result = decide_due(plan_all(after, [DAY, HOUR]), done=done, now=now)
    assert [(p.kind, d) for p, d in result] == [(CANCEL_NOTICE, Decision.SEND_LATE)]
    # ... and the remaining one-hour reminder is never planned for the cancelled session.
    assert decide_due(plan_all(after, [DAY, HOUR]), done=done | {result[0][0].key}, now=after[0].end) == []


def test_move_after_a_reminder_owes_reminders_for_the_new_time() -> None:
    rec = seed_study()
    original = build_schedule(rec, [], 1)
    planned = plan_all(original, [DAY, HOUR])
    done = {planned[0].key}  # the 1-day reminder went out for Thursday 09:00
    new_start = kst(2025, 3, 7, 19, 0)
    moved = build_schedule(rec, [SessionChange(date(2025, 3, 6), False, new_start)], 1)
    replanned = plan_all(moved, [DAY, HOUR])
    assert all(p.key not in done for p in replanned)
    upcoming = next_due(replanned, done=done, now=kst(2025, 3, 5, 12, 0))
    assert upcoming is not None
    assert (upcoming.due, upcoming.kind) == (new_start - DAY, "remind:1440")


def test_next_due_is_the_first_future_delivery_not_done() -> None:
    _, planned = one_session_plan()
    assert next_due(planned, done=set(), now=planned[0].due - MINUTE) == planned[0]
    assert next_due(planned, done=set(), now=planned[0].due) == planned[1]  # strictly after now
    assert next_due(planned, done={planned[1].key}, now=planned[0].due) == planned[2]
    assert next_due(planned, done=set(), now=planned[-1].due) is None


# ---- nonces --------------------------------------------------------------------------------------------

NONCE = re.compile(r"[0-9A-Za-z]{1,25}")


def test_nonce_is_a_short_alphanumeric_deterministic_string() -> None:
    occurrence = datetime(2025, 3, 6, 0, 0, tzinfo=UTC)
    nonce = nonce_for(7, occurrence, "remind:1440")
    assert NONCE.fullmatch(nonce)
    assert len(nonce) == 25
    assert nonce == nonce_for(7, occurrence, "remind:1440")
    assert nonce == nonce_for(7, occurrence.astimezone(SEOUL), "remind:1440")  # same instant, same nonce
    assert nonce != nonce_for(8, occurrence, "remind:1440")
    assert nonce != nonce_for(7, occurrence + MINUTE, "remind:1440")
    assert nonce != nonce_for(7, occurrence, "remind:60")
    assert nonce != nonce_for(7, occurrence, CANCEL_NOTICE)


def test_nonce_is_pinned() -> None:
    # Changing the derivation would make Discord post a duplicate of a message retried across an upgrade.
    assert nonce_for(1, datetime(2025, 3, 6, 0, 0, tzinfo=UTC), "remind:60") == "gxSTIVWX5VYKA4IkMWyORJvMz"


def test_nonces_of_many_deliveries_are_distinct() -> None:
    start = datetime(2025, 3, 6, tzinfo=UTC)
    nonces = {
        nonce_for(study, start + k * HOUR, kind)
        for study in range(20)
        for k in range(200)
        for kind in ("remind:60", "remind:1440", CANCEL_NOTICE)
    }
    assert len(nonces) == 20 * 200 * 3


@given(st.integers(0, 2**63 - 1), st.datetimes(timezones=st.just(UTC)), st.text(max_size=40))
def test_nonce_always_fits_discord(study_id: int, occurrence: datetime, kind: str) -> None:
    assert NONCE.fullmatch(nonce_for(study_id, occurrence, kind))


# ---- simulation ----------------------------------------------------------------------------------------

TIMEZONES = ["Asia/Seoul", "Europe/Berlin", "America/New_York", "UTC"]
COARSE_TICK = timedelta(minutes=97)  # a deliberately odd step so ticks drift across due times


@dataclass(frozen=True)
class Scenario:
    schedule: list[Session]
    offsets: list[timedelta]
    downtimes: list[tuple[datetime, datetime]]  # [down_from, down_to)


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    rec = Recurrence(
        weekday=draw(st.integers(0, 6)),
        start_time=time(draw(st.integers(0, 23)), draw(st.sampled_from([0, 30]))),
        duration=timedelta(minutes=draw(st.integers(30, 180))),
        timezone=draw(st.sampled_from(TIMEZONES)),
        first_date=draw(st.dates(date(2025, 1, 1), date(2026, 12, 31))),
    )
    week_count = draw(st.integers(1, 5))
    first = first_slot_date(rec)
    changes: list[SessionChange] = []
    for index in range(week_count + 3):
        day = first + timedelta(weeks=index)
        what = draw(st.sampled_from(["keep", "keep", "cancel", "move"]))
        if what == "cancel":
            changes.append(SessionChange(day, cancelled=True))
        elif what == "move":
            moved_to = slot_start(rec, day) + timedelta(minutes=30 * draw(st.integers(-144, 144)))
            changes.append(SessionChange(day, cancelled=False, moved_to=moved_to))
    schedule = build_schedule(rec, changes, week_count)
    offset_minutes = st.one_of(st.sampled_from([10, 30, 60, 120, 1440, 2880]), st.integers(1, 3 * 1440))
    minutes = draw(st.lists(offset_minutes, min_size=1, max_size=4, unique=True))
    if not draw(st.sampled_from([True] * 9 + [False])):
        minutes = []  # a study that asked for no reminders: nothing may be planned at all
    offsets = [timedelta(minutes=m) for m in minutes]
    # Downtimes either swallow a due reminder (lasting a minute to days, sometimes past the session's start)
    # or end shortly before a session starts, after swallowing several of its reminders: the catch-up case.
    downtimes = []
    for _ in range(draw(st.sampled_from([1, 1, 2, 3]))):
        session = draw(st.sampled_from(schedule))
        length = draw(st.sampled_from([1, 6, 30, 90, 600, 1440, 3 * 1440, 5 * 1440])) + draw(st.integers(0, 59))
        if draw(st.booleans()):
            anchor = session.start - (draw(st.sampled_from(offsets)) if offsets else DAY)
            down_from = anchor - MINUTE * draw(st.integers(0, length - 1))
        else:
            down_from = session.start - MINUTE * (length + draw(st.integers(1, 180)))
        downtimes.append((down_from, down_from + MINUTE * length))
    return Scenario(schedule, offsets, downtimes)


def is_up(moment: datetime, downtimes: list[tuple[datetime, datetime]]) -> bool:
    return not any(down_from <= moment < down_to for down_from, down_to in downtimes)


@given(scenarios())
@settings(max_examples=300, deadline=None)
def test_simulated_bot_decides_every_delivery_exactly_once(scenario: Scenario) -> None:
    schedule, offsets, downtimes = scenario.schedule, scenario.offsets, scenario.downtimes
    origin = min(s.start for s in schedule) - 4 * DAY
    finish = max([s.end for s in schedule] + [down_to for _, down_to in downtimes]) + DAY
    planned = plan_deliveries(schedule, offsets, since=origin - 10 * DAY, until=finish + 10 * DAY)

    # Ticks while up: the scheduler firing at each due time, a coarse heartbeat, and once at each restart.
    candidates = {origin, finish} | {p.due for p in planned} | {down_to for _, down_to in downtimes}
    moment = origin
    while moment <= finish:
        candidates.add(moment)
        moment += COARSE_TICK
    ticks = sorted(t for t in candidates if origin <= t <= finish and is_up(t, downtimes))
    assert ticks[-1] == finish

    event(f"{sum(not is_up(p.due, downtimes) for p in planned)} deliveries due while down")
    done: set[tuple[datetime, str]] = set()
    decided: dict[tuple[datetime, str], tuple[Decision, datetime]] = {}
    for now in ticks:
        results = decide_due(planned, done=done, now=now)
        sends_per_session: Counter[date] = Counter()
        for delivery, decision in results:
            assert delivery.key not in decided, "decided twice"
            assert delivery.due <= now
            decided[delivery.key] = (decision, now)
            # never a reminder for a cancelled session; notices only for cancelled ones
            assert delivery.session.cancelled == (delivery.kind == CANCEL_NOTICE)
            if decision is not Decision.MISSED:
                assert delivery.occurrence > now, "sent after the session started"
                sends_per_session[delivery.session.original_date] += 1
            if decision is Decision.SEND:
                assert now - delivery.due <= ON_TIME
            if decision is Decision.SEND_LATE:
                assert now - delivery.due > ON_TIME
        assert all(count == 1 for count in sends_per_session.values()), "more than one send per session"
        done |= {delivery.key for delivery, _ in results}

    due_in_period = [p for p in planned if origin <= p.due <= finish]
    assert {p.key for p in due_in_period} <= set(decided)
    for delivery in due_in_period:
        decision, when = decided[delivery.key]
        # decided at the first tick at or after its due time: at once when up, at restart when down
        assert when == min(t for t in ticks if t >= delivery.due)
        if is_up(delivery.due, downtimes):
            assert decision is Decision.SEND, "a delivery due while up is sent on time"
        else:
            # the session's deliveries that were pending together at that restart
            group = [
                p
                for p in planned
                if p.session.original_date == delivery.session.original_date
                and p.due <= when
                and decided[p.key][1] == when
            ]
            latest = max(group, key=lambda p: (p.due, p.kind))
            if len(group) > 1 and delivery.occurrence > when:
                event("several overdue reminders of one session at a restart")
            if delivery.occurrence > when and delivery is latest:
                assert decision in (Decision.SEND, Decision.SEND_LATE)
            else:
                assert decision is Decision.MISSED

    # The plan itself: a cancelled session has one notice (if the study wants messages), never a reminder.
    for session in schedule:
        reminded = [p for p in planned if p.session == session]
        if session.cancelled:
            assert [p.kind for p in reminded] == ([CANCEL_NOTICE] if offsets else [])
            assert all(p.due == session.start - max(offsets) for p in reminded)
        else:
            assert sorted((p.offset, p.kind) for p in reminded) == sorted(
                (offset, kind_for_offset(offset)) for offset in offsets
            )
            assert all(p.due == session.start - p.offset for p in reminded if p.offset is not None)
        assert all(p.occurrence == session.start for p in reminded)
