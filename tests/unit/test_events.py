"""Specification of bot/delivery/event_plan.py: which scheduled events should exist, and the diff to get there."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.model import Recurrence, SessionChange
from bot.core.schedule import Session, build_schedule
from bot.delivery.event_plan import (
    DESCRIPTION_LIMIT,
    LOCATION_LIMIT,
    NAME_LIMIT,
    EventActions,
    EventSpec,
    FoundEvent,
    Reconciliation,
    diff_events,
    event_marker,
    fingerprint,
    fit_lines,
    ongoing_dates,
    plan_events,
    read_marker,
    reconcile,
    truncate,
)
from bot.delivery.server_events import own_event

SEOUL = ZoneInfo("Asia/Seoul")
REC = Recurrence(3, time(9, 0), timedelta(minutes=60), "Asia/Seoul", date(2025, 3, 6))
BEFORE_ALL = datetime(2025, 3, 1, tzinfo=UTC)


def name(session: Session) -> str:
    return f"Week {session.week}"


def describe(session: Session) -> list[str]:
    return [f"Session on {session.original_date}"]


def plan(
    schedule: list[Session],
    now: datetime = BEFORE_ALL,
    *,
    count: int = 4,
    name_for: Callable[[Session], str] = name,
    description_for: Callable[[Session], Sequence[str]] = describe,
    marker_for: Callable[[Session], str] | None = None,
    location: str = "Gather Town",
) -> list[EventSpec]:
    return plan_events(
        schedule,
        now=now,
        count=count,
        name_for=name_for,
        description_for=description_for,
        marker_for=marker_for,
        location=location,
    )


# ---- planning ------------------------------------------------------------------------------------------


def test_plans_the_next_four_sessions_by_default() -> None:
    schedule = build_schedule(REC, [], 8)
    specs = plan(schedule)
    assert [s.original_date for s in specs] == [
        date(2025, 3, 6),
        date(2025, 3, 13),
        date(2025, 3, 20),
        date(2025, 3, 27),
    ]
    first = specs[0]
    assert first.name == "Week 1"
    assert first.description == "Session on 2025-03-06"
    assert first.location == "Gather Town"
    assert first.start == datetime(2025, 3, 6, 0, 0, tzinfo=UTC)
    assert first.end == datetime(2025, 3, 6, 1, 0, tzinfo=UTC)


def test_skips_cancelled_and_started_sessions() -> None:
    schedule = build_schedule(REC, [SessionChange(date(2025, 3, 13), True)], 5)
    during_week_1 = schedule[0].start + timedelta(minutes=10)
    specs = plan(schedule, now=during_week_1, count=2)
    assert [s.original_date for s in specs] == [date(2025, 3, 20), date(2025, 3, 27)]
    at_start = plan(schedule, now=schedule[0].start, count=1)
    assert [s.original_date for s in at_start] == [date(2025, 3, 20)]


def test_moved_session_uses_its_new_time_and_start_order() -> None:
    # Week 2 moved from Thursday morning to Friday evening: its event follows the real start.
    moved_to = datetime(2025, 3, 14, 20, 0, tzinfo=SEOUL)
    schedule = build_schedule(REC, [SessionChange(date(2025, 3, 13), False, moved_to)], 3)
    specs = plan(schedule, count=3)
    assert specs[1].original_date == date(2025, 3, 13)
    assert specs[1].start == moved_to
    assert specs[1].end == moved_to + timedelta(minutes=60)


def test_count_limits_and_runs_out_with_the_schedule() -> None:
    schedule = build_schedule(REC, [], 3)
    assert len(plan(schedule, count=2)) == 2
    assert len(plan(schedule, count=10)) == 3
    assert plan(schedule, count=0) == []
    assert plan(schedule, now=schedule[-1].start) == []
    with pytest.raises(ValueError, match="count"):
        plan(schedule, count=-1)


def test_texts_are_cut_to_discord_limits_with_an_ellipsis() -> None:
    schedule = build_schedule(REC, [], 1)
    specs = plan(
        schedule,
        name_for=lambda s: "가" * 150,
        description_for=lambda s: ["d" * 1500],
        location="L" * 120,
    )
    spec = specs[0]
    assert len(spec.name) == NAME_LIMIT
    assert spec.name == "가" * 99 + "…"
    assert spec.description == "… +1"  # a line is dropped whole, never cut
    assert len(spec.location) == LOCATION_LIMIT
    assert spec.location.endswith("…")


def test_texts_within_limits_are_kept_exactly() -> None:
    schedule = build_schedule(REC, [], 1)
    spec = plan(schedule, name_for=lambda s: "n" * 100, description_for=lambda s: ["d" * 1000])[0]
    assert spec.name == "n" * 100
    assert spec.description == "d" * 1000


def test_an_external_event_needs_a_location() -> None:
    with pytest.raises(ValueError, match="location"):
        plan(build_schedule(REC, [], 1), location="   ")


def test_an_empty_name_still_gives_a_valid_event_name() -> None:
    spec = plan(build_schedule(REC, [], 1), name_for=lambda s: "")[0]
    assert 1 <= len(spec.name) <= NAME_LIMIT


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        plan(build_schedule(REC, [], 1), now=datetime(2025, 3, 1))  # noqa: DTZ001


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("abc", 3, "abc"),
        ("abcd", 3, "ab…"),
        ("ab  cd", 4, "ab…"),  # no dangling space before the ellipsis
        ("abcd", 1, "…"),
        ("", 5, ""),
    ],
)
def test_truncate(text: str, limit: int, expected: str) -> None:
    assert truncate(text, limit) == expected
    assert len(truncate(text, limit)) <= limit


# ---- fingerprints and diffs ----------------------------------------------------------------------------


def specs_for(count: int) -> list[EventSpec]:
    return plan(build_schedule(REC, [], count), count=count)


def test_fingerprint_is_stable_and_sensitive_to_every_field() -> None:
    spec = specs_for(1)[0]
    assert fingerprint(spec) == fingerprint(replace(spec))
    assert fingerprint(spec) == fingerprint(replace(spec, start=spec.start.astimezone(SEOUL)))  # same instant
    variants = [
        replace(spec, original_date=date(2025, 3, 7)),
        replace(spec, name=spec.name + "!"),
        replace(spec, description=spec.description + "!"),
        replace(spec, location="Zoom"),
        replace(spec, start=spec.start + timedelta(minutes=1)),
        replace(spec, end=spec.end + timedelta(minutes=1)),
    ]
    prints = {fingerprint(v) for v in variants} | {fingerprint(spec)}
    assert len(prints) == len(variants) + 1


def test_fingerprint_does_not_mix_up_fields() -> None:
    spec = specs_for(1)[0]
    a = replace(spec, name="a|b", description="c")
    b = replace(spec, name="a", description="b|c")
    assert fingerprint(a) != fingerprint(b)


def test_nothing_exists_yet_so_everything_is_created() -> None:
    desired = specs_for(3)
    actions = diff_events(desired, {})
    assert actions == EventActions(create=desired, update=[], delete=[])
    assert not actions.empty


def test_unchanged_events_are_left_alone() -> None:
    desired = specs_for(3)
    existing = {spec.original_date: (100 + i, fingerprint(spec)) for i, spec in enumerate(desired)}
    actions = diff_events(desired, existing)
    assert actions.empty


def test_changed_event_is_updated_with_its_id() -> None:
    desired = specs_for(2)
    existing = {spec.original_date: (100 + i, fingerprint(spec)) for i, spec in enumerate(desired)}
    renamed = [desired[0], replace(desired[1], name="Week 2 · renamed")]
    actions = diff_events(renamed, existing)
    assert actions == EventActions(create=[], update=[(101, renamed[1])], delete=[])


def test_cancelled_past_and_out_of_window_events_are_deleted_and_new_ones_created() -> None:
    schedule = build_schedule(REC, [], 6)
    before = plan(schedule, count=4)  # weeks 1-4
    existing = {spec.original_date: (100 + i, fingerprint(spec)) for i, spec in enumerate(before)}
    # After week 1, the 13th is cancelled: week 1 is past, the 13th is gone, the 20th and 27th stay but
    # become weeks 2 and 3 (renamed, so updated), two new slots enter the window.
    cancelled = build_schedule(REC, [SessionChange(date(2025, 3, 13), True)], 5)
    after = plan(cancelled, now=schedule[0].end, count=4)
    assert [s.original_date for s in after] == [
        date(2025, 3, 20),
        date(2025, 3, 27),
        date(2025, 4, 3),
        date(2025, 4, 10),
    ]
    actions = diff_events(after, existing)
    assert actions.delete == [100, 101]
    assert [s.original_date for s in actions.create] == [date(2025, 4, 3), date(2025, 4, 10)]
    assert [(event_id, spec.name) for event_id, spec in actions.update] == [(102, "Week 2"), (103, "Week 3")]


def test_ongoing_session_event_is_kept() -> None:
    schedule = build_schedule(REC, [], 5)
    before = plan(schedule, count=2)
    existing = {spec.original_date: (100 + i, fingerprint(spec)) for i, spec in enumerate(before)}
    during = schedule[0].start + timedelta(minutes=30)
    keep = ongoing_dates(schedule, now=during)
    assert keep == {date(2025, 3, 6)}
    actions = diff_events(plan(schedule, now=during, count=2), existing, keep=keep)
    assert actions.delete == []  # not deleted under the people attending it
    assert [s.original_date for s in actions.create] == [date(2025, 3, 20)]
    after = diff_events(
        plan(schedule, now=schedule[0].end, count=2),
        existing,
        keep=ongoing_dates(schedule, now=schedule[0].end),
    )
    assert after.delete == [100]


def test_ongoing_dates_ignore_cancelled_slots() -> None:
    schedule = build_schedule(REC, [SessionChange(date(2025, 3, 6), True)], 1)
    assert ongoing_dates(schedule, now=schedule[0].start) == set()


def test_duplicate_desired_dates_are_refused() -> None:
    spec = specs_for(1)[0]
    with pytest.raises(ValueError, match="two desired events"):
        diff_events([spec, spec], {})


# ---- descriptions: whole lines only ---------------------------------------------------------------------


def more(count: int) -> str:
    return f"… and {count} more in /materials"


def material_lines(count: int, width: int = 120) -> list[str]:
    return [f"• item {i}: https://example.org/{i}/" + "x" * (width - 40) for i in range(count)]


def test_description_that_fits_is_kept_whole() -> None:
    lines = ["Header", *material_lines(3)]
    assert fit_lines(lines, limit=DESCRIPTION_LIMIT, more=more) == "\n".join(lines)


def test_long_description_drops_whole_lines_and_says_how_many_more() -> None:
    lines = ["Header", *material_lines(12)]
    text = fit_lines(lines, limit=DESCRIPTION_LIMIT, more=more)
    assert len(text) <= DESCRIPTION_LIMIT
    *kept, last = text.split("\n")
    assert kept == lines[: len(kept)]  # every kept line is exactly as given: no link is cut
    assert last == more(len(lines) - len(kept))
    assert len("\n".join([*kept, lines[len(kept)], last])) > DESCRIPTION_LIMIT  # as many lines as fit


@given(
    st.lists(st.text(alphabet="ab:/. ", min_size=0, max_size=300), max_size=20),
    st.integers(min_value=30, max_value=1000),
)
def test_fitted_lines_are_whole_and_within_the_limit(lines: list[str], limit: int) -> None:
    text = fit_lines(lines, limit=limit, more=more)
    assert len(text) <= limit
    if len("\n".join(lines)) <= limit:
        assert text == "\n".join(lines)
        return
    *kept, last = text.split("\n")
    assert kept == lines[: len(kept)]
    assert last == more(len(lines) - len(kept))


def test_marker_line_stays_last_and_within_the_limit() -> None:
    marker = event_marker("3f2a9c1d0b7e4a55", date(2025, 3, 6))
    specs = plan(
        build_schedule(REC, [], 1),
        description_for=lambda s: ["Header", *material_lines(12)],
        marker_for=lambda s: event_marker("3f2a9c1d0b7e4a55", s.original_date),
    )
    description = specs[0].description
    assert len(description) <= DESCRIPTION_LIMIT
    assert description.endswith("\n" + marker)
    assert description.split("\n")[-2].startswith("… +")
    assert read_marker(description) == ("3f2a9c1d0b7e4a55", date(2025, 3, 6))


def test_marker_is_read_back_only_from_a_whole_line() -> None:
    marker = event_marker("abc123", date(2026, 12, 10))
    assert marker == "studybot ref abc123/2026-12-10"
    assert read_marker(f"Header\n{marker}") == ("abc123", date(2026, 12, 10))
    assert read_marker(f"Header\nsee {marker} here") is None
    assert read_marker("studybot ref abc123/2026-13-40") is None
    assert read_marker(None) is None
    with pytest.raises(ValueError, match="calendar_id"):
        event_marker("", date(2026, 12, 10))
    with pytest.raises(ValueError, match="calendar_id"):
        event_marker("a b", date(2026, 12, 10))


# ---- reconciling with what exists on Discord --------------------------------------------------------------

D1, D2, D3 = date(2025, 3, 6), date(2025, 3, 13), date(2025, 3, 20)


def test_unrecorded_event_is_adopted_instead_of_created_again() -> None:
    # A crash after Discord created the event for D2 and before it was recorded.
    result = reconcile(
        {D1: (100, "p1")},
        [FoundEvent(100, D1, "p1"), FoundEvent(200, D2, "p2")],
        listed_ids={100, 200},
        desired={D1: "p1", D2: "p2"},
    )
    assert result == Reconciliation(links={D1: (100, "p1"), D2: (200, "p2")}, adopt=[(D2, 200, "p2")])
    assert diff_events([], result.links).create == []


def test_duplicates_are_deleted_keeping_the_recorded_one() -> None:
    found = [FoundEvent(i, D1, "p1") for i in (300, 100, 200)]
    result = reconcile({D1: (200, "old")}, found, listed_ids={100, 200, 300}, desired={D1: "p1"})
    assert result.links == {D1: (200, "old")}
    assert result.delete == [100, 300]
    assert result.adopt == []


def test_among_unrecorded_duplicates_the_one_already_right_is_kept() -> None:
    found = [FoundEvent(100, D1, "stale"), FoundEvent(200, D1, "p1"), FoundEvent(300, D1, "p1")]
    result = reconcile({}, found, listed_ids={100, 200, 300}, desired={D1: "p1"})
    assert result.adopt == [(D1, 200, "p1")]
    assert result.delete == [100, 300]


def test_recorded_event_gone_from_discord_is_forgotten() -> None:
    result = reconcile({D1: (100, "p1"), D3: (300, "p3")}, [], listed_ids={300, 999}, desired={D1: "p1"})
    assert result.forget == [100]
    assert result.links == {D3: (300, "p3")}
    assert diff_events(plan(build_schedule(REC, [], 1), count=1), result.links).create[0].original_date == D1


def test_orphan_of_a_session_no_longer_wanted_is_adopted_then_deleted_by_the_diff() -> None:
    result = reconcile({}, [FoundEvent(400, D3, "p3")], listed_ids={400}, desired={})
    assert result.links == {D3: (400, "p3")}
    assert diff_events([], result.links).delete == [400]


# ---- recognising the bot's own events in the guild's list -------------------------------------------------

BOT_ID = 555


def listed_event(**overrides: object) -> dict[str, object]:
    spec = plan(build_schedule(REC, [], 1), marker_for=lambda s: event_marker("abc123", s.original_date))[0]
    event: dict[str, object] = {
        "id": "900",
        "creator_id": str(BOT_ID),
        "name": spec.name,
        "description": spec.description,
        "entity_metadata": {"location": spec.location},
        "scheduled_start_time": spec.start.isoformat(),
        "scheduled_end_time": spec.end.isoformat(),
    }
    return {**event, **overrides}


def test_own_event_is_recognised_by_creator_and_marker_with_its_fingerprint() -> None:
    spec = plan(build_schedule(REC, [], 1), marker_for=lambda s: event_marker("abc123", s.original_date))[0]
    found = own_event(listed_event(), public_id="abc123", bot_id=BOT_ID)
    assert found == FoundEvent(900, D1, fingerprint(spec))


def test_events_of_members_and_of_other_studies_are_not_ours() -> None:
    assert own_event(listed_event(creator_id="1"), public_id="abc123", bot_id=BOT_ID) is None
    assert own_event(listed_event(), public_id="other", bot_id=BOT_ID) is None
    assert own_event(listed_event(), public_id="abc123", bot_id=None) is None


def test_unmarked_event_of_the_bot_counts_only_at_a_desired_start() -> None:
    unmarked = listed_event(description="old description without a marker")
    start = datetime(2025, 3, 6, 0, 0, tzinfo=UTC)
    assert own_event(unmarked, public_id="abc123", bot_id=BOT_ID) is None
    found = own_event(unmarked, public_id="abc123", bot_id=BOT_ID, unmarked={start: D1})
    assert found is not None and found.original_date == D1
    elsewhere = {start + timedelta(hours=1): D1}
    assert own_event(unmarked, public_id="abc123", bot_id=BOT_ID, unmarked=elsewhere) is None
    assert own_event(unmarked, public_id="abc123", bot_id=1, unmarked={start: D1}) is None
