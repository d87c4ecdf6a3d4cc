"""Specification of bot/core/schedule.py: slots, week numbering, moves, cancellations and "now"."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.model import Recurrence, SessionChange
from bot.core.schedule import (
    build_schedule,
    current_index,
    first_slot_date,
    is_slot_date,
    next_session,
    session_for_week,
    session_on,
    slot_start,
    upcoming_sessions,
)

SEOUL = ZoneInfo("Asia/Seoul")
BERLIN = ZoneInfo("Europe/Berlin")
THURSDAY = 3


def seoul_study(first: date = date(2025, 3, 6)) -> Recurrence:
    """The seed study: Thursdays 09:00 Asia/Seoul, one hour."""
    return Recurrence(THURSDAY, time(9, 0), timedelta(minutes=60), "Asia/Seoul", first)


def test_thursday_0900_seoul_is_midnight_utc() -> None:
    start = slot_start(seoul_study(), date(2025, 3, 6))
    assert start == datetime(2025, 3, 6, 0, 0, tzinfo=UTC)
    assert start.utcoffset() == timedelta(0)


def test_schedule_has_one_slot_per_week_in_order() -> None:
    schedule = build_schedule(seoul_study(), [], 4)
    assert [s.original_date for s in schedule] == [
        date(2025, 3, 6),
        date(2025, 3, 13),
        date(2025, 3, 20),
        date(2025, 3, 27),
    ]
    assert [s.week for s in schedule] == [1, 2, 3, 4]
    assert all(s.end - s.start == timedelta(minutes=60) for s in schedule)


def test_no_weeks_means_no_schedule() -> None:
    assert build_schedule(seoul_study(), [], 0) == []


def test_first_date_not_on_the_weekday_rolls_forward() -> None:
    monday = date(2025, 3, 3)
    rec = seoul_study(first=monday)
    assert first_slot_date(rec) == date(2025, 3, 6)
    assert build_schedule(rec, [], 1)[0].original_date == date(2025, 3, 6)
    assert not is_slot_date(rec, monday)
    assert is_slot_date(rec, date(2025, 3, 13))
    assert not is_slot_date(rec, date(2025, 2, 27))  # a Thursday, but before the first session


def test_first_date_on_the_weekday_is_the_first_session() -> None:
    assert first_slot_date(seoul_study()) == date(2025, 3, 6)


def test_week_numbering_skips_cancelled_slots() -> None:
    cancel = SessionChange(date(2025, 3, 13), cancelled=True, reason="holiday")
    schedule = build_schedule(seoul_study(), [cancel], 3)
    assert [(s.original_date, s.week, s.cancelled) for s in schedule] == [
        (date(2025, 3, 6), 1, False),
        (date(2025, 3, 13), None, True),
        (date(2025, 3, 20), 2, False),
        (date(2025, 3, 27), 3, False),
    ]
    assert schedule[1].reason == "holiday"
    assert session_for_week(schedule, 2) == schedule[2]
    assert session_for_week(schedule, 4) is None


def test_cancelled_slot_keeps_its_regular_time() -> None:
    cancel = SessionChange(date(2025, 3, 13), cancelled=True)
    slot = build_schedule(seoul_study(), [cancel], 2)[1]
    assert slot.start == datetime(2025, 3, 13, 0, 0, tzinfo=UTC)
    assert slot.end == datetime(2025, 3, 13, 1, 0, tzinfo=UTC)


def test_move_keeps_week_order_and_changes_start() -> None:
    moved_to = datetime(2025, 3, 14, 20, 0, tzinfo=SEOUL)  # Friday evening instead of Thursday morning
    schedule = build_schedule(seoul_study(), [SessionChange(date(2025, 3, 13), False, moved_to)], 3)
    moved = session_on(schedule, date(2025, 3, 13))
    assert moved is not None
    assert moved.week == 2
    assert moved.moved
    assert moved.start == datetime(2025, 3, 14, 11, 0, tzinfo=UTC)
    assert moved.start.tzinfo == UTC
    assert moved.end == moved.start + timedelta(minutes=60)
    assert [s.week for s in schedule] == [1, 2, 3]
    assert not schedule[0].moved
    assert not schedule[2].moved


def test_change_for_a_date_outside_the_schedule_is_ignored() -> None:
    stray = SessionChange(date(2025, 3, 12), cancelled=True)  # a Wednesday
    assert build_schedule(seoul_study(), [stray], 2) == build_schedule(seoul_study(), [], 2)


def test_current_index_moves_on_when_a_session_ends() -> None:
    schedule = build_schedule(seoul_study(), [], 3)
    first = schedule[0]
    second = schedule[1]
    tick = timedelta(microseconds=1)
    assert current_index(schedule, first.start - tick) == 0  # just before start
    assert current_index(schedule, first.start) == 0
    assert current_index(schedule, first.start + timedelta(minutes=30)) == 0  # during
    assert current_index(schedule, first.end - tick) == 0
    assert current_index(schedule, first.end) == 1  # just after end
    assert current_index(schedule, second.end) == 2
    assert current_index(schedule, schedule[-1].end) is None  # all over


def test_next_session_is_the_next_one_not_started() -> None:
    schedule = build_schedule(seoul_study(), [], 3)
    first = schedule[0]
    tick = timedelta(microseconds=1)
    assert next_session(schedule, first.start - tick) == first  # just before start
    assert next_session(schedule, first.start) == schedule[1]  # started: the next one
    assert next_session(schedule, first.start + timedelta(minutes=30)) == schedule[1]  # during
    assert next_session(schedule, first.end) == schedule[1]  # just after end
    assert next_session(schedule, schedule[-1].start) is None


def test_next_session_skips_cancelled_slots() -> None:
    schedule = build_schedule(seoul_study(), [SessionChange(date(2025, 3, 13), True)], 3)
    assert next_session(schedule, schedule[0].end) == schedule[2]


def test_current_index_counts_a_cancelled_slot_until_it_would_have_ended() -> None:
    schedule = build_schedule(seoul_study(), [SessionChange(date(2025, 3, 13), True)], 3)
    assert current_index(schedule, schedule[0].end) == 1
    assert current_index(schedule, schedule[1].end) == 2


def test_upcoming_sessions_include_the_one_in_progress() -> None:
    schedule = build_schedule(seoul_study(), [SessionChange(date(2025, 3, 13), True)], 4)
    during = schedule[0].start + timedelta(minutes=10)
    assert upcoming_sessions(schedule, during, 2) == [schedule[0], schedule[2]]


def test_naive_now_is_refused() -> None:
    schedule = build_schedule(seoul_study(), [], 1)
    with pytest.raises(ValueError, match="aware"):
        current_index(schedule, datetime(2025, 3, 6, 9, 0))  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="aware"):
        next_session(schedule, datetime(2025, 3, 6, 9, 0))  # noqa: DTZ001


def test_dst_change_keeps_0900_local_in_berlin() -> None:
    # Europe/Berlin leaves summer time on Sunday 2025-10-26.
    rec = Recurrence(THURSDAY, time(9, 0), timedelta(minutes=90), "Europe/Berlin", date(2025, 10, 16))
    schedule = build_schedule(rec, [], 3)
    assert [s.start for s in schedule] == [
        datetime(2025, 10, 16, 7, 0, tzinfo=UTC),  # CEST, UTC+2
        datetime(2025, 10, 23, 7, 0, tzinfo=UTC),
        datetime(2025, 10, 30, 8, 0, tzinfo=UTC),  # CET, UTC+1
    ]
    for session in schedule:
        local = session.start.astimezone(BERLIN)
        assert (local.hour, local.minute) == (9, 0)
        assert session.end - session.start == timedelta(minutes=90)


# ---- properties ---------------------------------------------------------------------------------------

TIMEZONES = ["Asia/Seoul", "Europe/Berlin", "America/New_York", "UTC", "Australia/Sydney"]


@st.composite
def studies(draw: st.DrawFn) -> tuple[Recurrence, list[SessionChange], int]:
    """A random study, a random number of weeks, and random cancellations/moves among its slots."""
    rec = Recurrence(
        weekday=draw(st.integers(0, 6)),
        start_time=time(draw(st.integers(0, 23)), draw(st.sampled_from([0, 15, 30, 45]))),
        duration=timedelta(minutes=draw(st.integers(15, 240))),
        timezone=draw(st.sampled_from(TIMEZONES)),
        first_date=draw(st.dates(date(2024, 1, 1), date(2027, 12, 31))),
    )
    week_count = draw(st.integers(1, 12))
    first = first_slot_date(rec)
    changes: list[SessionChange] = []
    for index in range(week_count + 6):
        day = first + timedelta(weeks=index)
        what = draw(st.sampled_from(["keep", "keep", "cancel", "move"]))
        if what == "cancel":
            changes.append(SessionChange(day, cancelled=True))
        elif what == "move":
            hours = draw(st.integers(-72, 72))
            moved_to = slot_start(rec, day) + timedelta(hours=hours)
            changes.append(SessionChange(day, cancelled=False, moved_to=moved_to.astimezone(SEOUL)))
    return rec, changes, week_count


@given(studies())
@settings(max_examples=200)
def test_weeks_are_contiguous_and_cancelled_slots_have_no_week(
    study: tuple[Recurrence, list[SessionChange], int],
) -> None:
    rec, changes, week_count = study
    schedule = build_schedule(rec, changes, week_count)
    held = [s for s in schedule if not s.cancelled]
    assert [s.week for s in held] == list(range(1, week_count + 1))
    assert len(held) == week_count
    assert all(s.week is None for s in schedule if s.cancelled)
    assert not schedule[-1].cancelled  # the schedule ends with the last curriculum week


@given(studies())
@settings(max_examples=200)
def test_slots_follow_the_weekly_pattern_and_changes_apply(
    study: tuple[Recurrence, list[SessionChange], int],
) -> None:
    rec, changes, week_count = study
    by_date = {c.original_date: c for c in changes}
    schedule = build_schedule(rec, changes, week_count)
    first = first_slot_date(rec)
    for index, session in enumerate(schedule):
        assert session.original_date == first + timedelta(weeks=index)
        assert session.start.utcoffset() == timedelta(0)
        assert session.end - session.start == rec.duration
        change = by_date.get(session.original_date)
        if change is not None and change.moved_to is not None:
            assert session.moved
            assert session.start == change.moved_to
        else:
            assert not session.moved
            local = session.start.astimezone(ZoneInfo(rec.timezone))
            assert local.date() == session.original_date
            assert session.start == slot_start(rec, session.original_date)
        assert session.cancelled == (change is not None and change.cancelled)


def test_not_started_lists_the_slots_an_admin_may_still_change() -> None:
    from datetime import UTC, date, datetime, time, timedelta

    from bot.core.model import Recurrence, SessionChange
    from bot.core.schedule import build_schedule, not_started

    rec = Recurrence(3, time(9, 0), timedelta(hours=1), "Asia/Seoul", date(2026, 12, 3))
    schedule = build_schedule(rec, [SessionChange(date(2026, 12, 17), cancelled=True)], 4)
    during_week_one = datetime(2026, 12, 3, 0, 30, tzinfo=UTC)  # 09:30 KST, the first session is running
    assert [s.original_date for s in not_started(schedule, during_week_one)] == [
        date(2026, 12, 10),
        date(2026, 12, 17),
        date(2026, 12, 24),
        date(2026, 12, 31),
    ]
    assert not_started(schedule, during_week_one)[1].cancelled
