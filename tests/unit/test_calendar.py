"""Specification of bot/core/calendar.py: the .ics feed parses back with the right times and UIDs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from icalendar import Calendar

from bot.core.calendar import build_calendar, event_sequence, uid_for
from bot.core.model import Recurrence, SessionChange
from bot.core.schedule import Session, build_schedule

SEOUL = ZoneInfo("Asia/Seoul")
BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2025, 3, 1, 12, 30, tzinfo=SEOUL)
SEOUL_STUDY = Recurrence(3, time(9, 0), timedelta(minutes=60), "Asia/Seoul", date(2025, 3, 6))
BERLIN_STUDY = Recurrence(3, time(9, 0), timedelta(minutes=90), "Europe/Berlin", date(2025, 10, 16))
TITLES = {1: "Intro", 2: "Linear models", 3: "Trees"}


def build(
    schedule: list[Session],
    *,
    timezone: str = "Asia/Seoul",
    now: datetime = NOW,
    week_titles: Mapping[int, str] = TITLES,
    description_for: Callable[[Session], str] | None = None,
    summary_for: Callable[[Session], str] | None = None,
    sequence_for: Callable[[Session], int] | None = None,
) -> bytes:
    return build_calendar(
        calendar_id="c0ffee42",
        study_name="ML 스터디",
        timezone=timezone,
        schedule=schedule,
        week_titles=week_titles,
        location="Gather Town",
        location_url="https://app.gather.town/app/abc/study",
        description_for=description_for,
        summary_for=summary_for,
        sequence_for=sequence_for,
        revised_at=now,
    )


def events_of(ics: bytes) -> list[Any]:
    return list(Calendar.from_ical(ics).walk("VEVENT"))


def start_of(event: Any) -> datetime:
    value = event.decoded("dtstart")
    assert isinstance(value, datetime)
    return value


def end_of(event: Any) -> datetime:
    value = event.decoded("dtend")
    assert isinstance(value, datetime)
    return value


def test_one_event_per_slot_with_the_right_times_in_seoul() -> None:
    ics = build(build_schedule(SEOUL_STUDY, [], 3))
    events = events_of(ics)
    assert len(events) == 3
    first = events[0]
    assert start_of(first) == datetime(2025, 3, 6, 0, 0, tzinfo=UTC)
    assert end_of(first) == datetime(2025, 3, 6, 1, 0, tzinfo=UTC)
    assert start_of(first).astimezone(SEOUL).hour == 9
    assert b"DTSTART;TZID=Asia/Seoul:20250306T090000" in ics
    assert b"DTEND;TZID=Asia/Seoul:20250306T100000" in ics
    assert [str(e["summary"]) for e in events] == [
        "Week 1 · Intro",
        "Week 2 · Linear models",
        "Week 3 · Trees",
    ]


def test_calendar_has_the_required_and_naming_properties() -> None:
    calendar = Calendar.from_ical(build(build_schedule(SEOUL_STUDY, [], 1)))
    assert str(calendar["version"]) == "2.0"
    assert "studybot" in str(calendar["prodid"])
    assert str(calendar["x-wr-calname"]) == "ML 스터디"
    assert str(calendar["x-wr-timezone"]) == "Asia/Seoul"
    timezones = list(calendar.walk("VTIMEZONE"))
    assert [str(tz["tzid"]) for tz in timezones] == ["Asia/Seoul"]


def test_event_carries_place_stamp_and_sequence() -> None:
    event = events_of(build(build_schedule(SEOUL_STUDY, [], 1)))[0]
    assert str(event["location"]) == "Gather Town"
    assert str(event["url"]) == "https://app.gather.town/app/abc/study"
    assert "https://app.gather.town/app/abc/study" in str(event["description"])
    assert event.decoded("dtstamp") == datetime(2025, 3, 1, 3, 30, tzinfo=UTC)
    assert event.decoded("dtstamp").utcoffset() == timedelta(0)
    assert b"DTSTAMP:20250301T033000Z\r\n" in build(build_schedule(SEOUL_STUDY, [], 1))
    assert int(event["sequence"]) == 0
    assert str(event["status"]) == "CONFIRMED"


def test_berlin_session_stays_at_0900_local_across_the_october_change() -> None:
    ics = build(build_schedule(BERLIN_STUDY, [], 3), timezone="Europe/Berlin")
    events = events_of(ics)
    starts = [start_of(e) for e in events]
    assert starts == [
        datetime(2025, 10, 16, 7, 0, tzinfo=UTC),  # CEST
        datetime(2025, 10, 23, 7, 0, tzinfo=UTC),  # CEST
        datetime(2025, 10, 30, 8, 0, tzinfo=UTC),  # CET, after 2025-10-26
    ]
    for start in starts:
        assert (start.astimezone(BERLIN).hour, start.astimezone(BERLIN).minute) == (9, 0)
    assert b"DTSTART;TZID=Europe/Berlin:20251023T090000" in ics
    assert b"DTSTART;TZID=Europe/Berlin:20251030T090000" in ics
    assert b"DTEND;TZID=Europe/Berlin:20251030T103000" in ics


def test_vtimezone_describes_the_dst_change_for_clients_without_a_tz_database() -> None:
    calendar = Calendar.from_ical(build(build_schedule(BERLIN_STUDY, [], 3), timezone="Europe/Berlin"))
    (timezone,) = calendar.timezones
    assert str(timezone["tzid"]) == "Europe/Berlin"
    # The VTIMEZONE alone (not the local tz database) must put 2025-10-30 09:00 at UTC+1, 10-23 at UTC+2.
    tz = timezone.to_tz(lookup_tzid=False)
    assert datetime(2025, 10, 23, 9, 0, tzinfo=tz).utcoffset() == timedelta(hours=2)
    assert datetime(2025, 10, 30, 9, 0, tzinfo=tz).utcoffset() == timedelta(hours=1)


def test_uids_are_stable_across_builds_and_name_the_original_date() -> None:
    moved = SessionChange(date(2025, 3, 13), False, datetime(2025, 3, 14, 20, 0, tzinfo=SEOUL))
    first = events_of(build(build_schedule(SEOUL_STUDY, [], 3)))
    second = events_of(build(build_schedule(SEOUL_STUDY, [moved], 3), now=NOW + timedelta(days=3)))
    uids = [str(e["uid"]) for e in first]
    assert uids == [str(e["uid"]) for e in second]
    assert uids == [
        "c0ffee42-20250306@studybot",
        "c0ffee42-20250313@studybot",
        "c0ffee42-20250320@studybot",
    ]


def test_cancelled_slot_stays_in_the_feed_marked_cancelled() -> None:
    cancel = SessionChange(date(2025, 3, 13), True, reason="Holiday")
    events = events_of(build(build_schedule(SEOUL_STUDY, [cancel], 2), sequence_for=lambda s: 3 if s.cancelled else 2))
    assert len(events) == 3
    cancelled = events[1]
    assert str(cancelled["uid"]) == "c0ffee42-20250313@studybot"
    assert str(cancelled["status"]) == "CANCELLED"
    assert int(cancelled["sequence"]) == 3
    assert start_of(cancelled) == datetime(2025, 3, 13, 0, 0, tzinfo=UTC)
    assert "Holiday" in str(cancelled["description"])
    assert "Week" not in str(cancelled["summary"])  # a cancelled slot is no curriculum week
    assert [str(e["summary"]) for e in (events[0], events[2])] == ["Week 1 · Intro", "Week 2 · Linear models"]


def test_moved_session_shows_its_new_time() -> None:
    new_start = datetime(2025, 3, 14, 20, 0, tzinfo=SEOUL)
    schedule = build_schedule(SEOUL_STUDY, [SessionChange(date(2025, 3, 13), False, new_start)], 3)
    ics = build(schedule, sequence_for=lambda s: 5 if s.moved else 4)
    moved = events_of(ics)[1]
    assert str(moved["uid"]) == "c0ffee42-20250313@studybot"
    assert start_of(moved) == new_start
    assert end_of(moved) == new_start + timedelta(minutes=60)
    assert int(moved["sequence"]) == 5
    assert str(moved["status"]) == "CONFIRMED"
    assert b"DTSTART;TZID=Asia/Seoul:20250314T200000" in ics


def test_formatters_override_summary_and_description() -> None:
    events = events_of(
        build(
            build_schedule(SEOUL_STUDY, [], 1),
            summary_for=lambda s: f"{s.week}주차",
            description_for=lambda s: "자료: https://example.org",
        )
    )
    assert str(events[0]["summary"]) == "1주차"
    assert str(events[0]["description"]) == "자료: https://example.org"


def test_week_without_a_title_is_just_its_number() -> None:
    events = events_of(build(build_schedule(SEOUL_STUDY, [], 1), week_titles={}))
    assert str(events[0]["summary"]) == "Week 1"


def test_empty_schedule_is_a_valid_empty_calendar() -> None:
    calendar = Calendar.from_ical(build([]))
    assert list(calendar.walk("VEVENT")) == []
    assert str(calendar["x-wr-calname"]) == "ML 스터디"


def test_output_is_deterministic_for_the_same_inputs() -> None:
    schedule = build_schedule(SEOUL_STUDY, [SessionChange(date(2025, 3, 13), True)], 3)
    assert build(schedule) == build(schedule)


def test_lines_are_crlf_terminated() -> None:
    ics = build(build_schedule(SEOUL_STUDY, [], 1))
    assert ics.startswith(b"BEGIN:VCALENDAR\r\n")
    assert ics.endswith(b"END:VCALENDAR\r\n")


def test_naive_revision_time_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        build(build_schedule(SEOUL_STUDY, [], 1), now=datetime(2025, 3, 1))  # noqa: DTZ001


def test_sequence_is_the_study_revision_plus_the_slots_own() -> None:
    assert event_sequence(study_revision=0, change=None) == 0
    assert event_sequence(study_revision=7, change=None) == 7
    change = SessionChange(date(2025, 3, 13), True, revision=3)
    assert event_sequence(study_revision=7, change=change) == 10
    with pytest.raises(ValueError, match="negative"):
        event_sequence(study_revision=-1, change=None)


@given(st.lists(st.sampled_from(["study", "slot"]), max_size=30))
def test_sequence_grows_with_every_edit_whatever_the_order(edits: list[str]) -> None:
    # Every edit raises the study revision; an edit of the slot also raises the slot's own revision
    # (what the services do). The slot's SEQUENCE must grow strictly with each of them.
    study, slot = 1, 0
    last = event_sequence(study_revision=study, change=None)
    for edit in edits:
        study += 1
        if edit == "slot":
            slot += 1
        change = SessionChange(date(2025, 3, 13), False, revision=slot) if slot else None
        current = event_sequence(study_revision=study, change=change)
        assert current > last
        last = current


def test_a_negative_sequence_is_refused() -> None:
    with pytest.raises(ValueError, match="SEQUENCE"):
        build(build_schedule(SEOUL_STUDY, [], 1), sequence_for=lambda s: -1)


def test_an_empty_calendar_id_is_refused() -> None:
    with pytest.raises(ValueError, match="calendar_id"):
        uid_for("", build_schedule(SEOUL_STUDY, [], 1)[0])
