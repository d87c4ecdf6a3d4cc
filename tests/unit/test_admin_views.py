"""Specification of what admins see and what pausing means, pure: the pause rule of the planner, the week
of a cancelled session, the 🔀 of /schedule, and /admin audit showing every changed value whole."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, date, datetime, time, timedelta

import pytest

from bot.core.model import Recurrence, SessionChange, StudySnapshot
from bot.core.schedule import build_schedule, overlapping, session_on
from bot.db.models import AuditEntry
from bot.delivery.messages import render_status
from bot.delivery.plan import CANCEL_NOTICE, Decision, decide_due, held_by_pause, plan_deliveries
from bot.render.admin import AUDIT_PAGE_MAX, render_audit
from bot.render.study import render_schedule
from tests.unit.test_render import BEFORE_WEEK_1, all_text, assert_within_limits, schedule_of, shipped, snap

__all__ = ["shipped", "snap"]  # fixtures shared with test_render

EVER = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
THURSDAYS = Recurrence(3, time(9, 0), timedelta(minutes=60), "Asia/Seoul", date(2026, 12, 3))
OFFSETS = [timedelta(days=1), timedelta(hours=1)]


def plan_with(*changes: SessionChange) -> list:  # type: ignore[type-arg]
    return plan_deliveries(build_schedule(THURSDAYS, changes, 9), OFFSETS, since=EVER[0], until=EVER[1])


# ---- pause ---------------------------------------------------------------------------------------------


def test_pausing_holds_due_reminders_but_not_cancel_notices() -> None:
    planned = plan_with(SessionChange(date(2026, 12, 10), cancelled=True))
    notice = next(p for p in planned if p.is_cancel_notice)
    reminder = next(p for p in planned if p.occurrence > notice.occurrence)

    assert decide_due([notice], done=set(), now=notice.due, paused=True) == [(notice, Decision.SEND)]
    assert decide_due([reminder], done=set(), now=reminder.due, paused=True) == [(reminder, Decision.HELD)]
    assert held_by_pause(reminder, paused=True) and not held_by_pause(notice, paused=True)
    assert not held_by_pause(reminder, paused=False)


def test_a_paused_notice_is_still_missed_once_its_session_has_started() -> None:
    [notice] = [p for p in plan_with(SessionChange(date(2026, 12, 10), cancelled=True)) if p.is_cancel_notice]

    assert decide_due([notice], done=set(), now=notice.occurrence, paused=True) == [(notice, Decision.MISSED)]


def test_a_cancel_notice_carries_the_week_its_session_would_have_been() -> None:
    planned = plan_with(
        SessionChange(date(2026, 12, 10), cancelled=True), SessionChange(date(2026, 12, 17), cancelled=True)
    )

    notices = [(p.occurrence.date(), p.week) for p in planned if p.kind == CANCEL_NOTICE]
    assert notices == [(date(2026, 12, 10), 2), (date(2026, 12, 17), 2)]
    assert {p.week for p in planned if p.occurrence.date() == date(2026, 12, 24)} == {2}
    assert {p.week for p in planned if p.occurrence.date() == date(2026, 12, 3)} == {1}


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_status_names_the_date_and_week_of_a_coming_cancel_notice(snap: StudySnapshot, lang: str) -> None:
    with_cancel = dataclasses.replace(snap, changes=(SessionChange(date(2026, 12, 10), cancelled=True),))
    planned = plan_deliveries(schedule_of(with_cancel), with_cancel.reminder_offsets, since=EVER[0], until=EVER[1])
    notice = next(p for p in planned if p.is_cancel_notice)

    field = render_status(with_cancel, lang, upcoming=[notice], deliveries=[], problems=[]).embeds[0].fields[0]

    assert f"<t:{int(datetime(2026, 12, 10, 0, 0, tzinfo=UTC).timestamp())}:D>" in field.value
    assert re.search(r"2주차|week 2", field.value)
    assert "-" not in field.value.split("·")[-1]


# ---- sessions ------------------------------------------------------------------------------------------


def test_overlapping_ignores_the_session_itself_and_cancelled_ones() -> None:
    week2, week3 = date(2026, 12, 10), date(2026, 12, 17)
    onto_week2 = SessionChange(week3, cancelled=False, moved_to=datetime(2026, 12, 10, 0, 30, tzinfo=UTC))
    schedule = build_schedule(THURSDAYS, [onto_week2], 9)
    moved = session_on(schedule, week3)
    assert moved is not None
    clash = overlapping(schedule, moved)
    assert clash is not None and clash.original_date == week2

    schedule = build_schedule(THURSDAYS, [onto_week2, SessionChange(week2, cancelled=True)], 9)
    moved = session_on(schedule, week3)
    assert moved is not None and overlapping(schedule, moved) is None
    back_to_back = SessionChange(week3, cancelled=False, moved_to=datetime(2026, 12, 10, 1, 0, tzinfo=UTC))
    schedule = build_schedule(THURSDAYS, [back_to_back], 9)
    moved = session_on(schedule, week3)
    assert moved is not None and overlapping(schedule, moved) is None


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_schedule_marks_a_moved_session_with_the_legends_symbol(snap: StudySnapshot, lang: str) -> None:
    new_time = datetime(2026, 12, 18, 11, 0, tzinfo=UTC)
    moved = dataclasses.replace(snap, changes=(SessionChange(date(2026, 12, 17), cancelled=False, moved_to=new_time),))

    embed = render_schedule(moved, schedule_of(moved), BEFORE_WEEK_1, lang).embeds[0]

    lines = embed.description.splitlines()
    assert "🔀" in embed.footer
    assert "🔀" in lines[2] and f"<t:{int(new_time.timestamp())}:f>" in lines[2]
    assert not any("🔀" in line for index, line in enumerate(lines) if index != 2)


# ---- audit ---------------------------------------------------------------------------------------------

PLACE = "https://app.gather.town/app/AbCdEfGh12345678/pytorch-study-room?spawnToken=" + "x" * 60
SETTINGS_BEFORE = {
    "channel": 1,
    "ping_role": 2,
    "admin_role": None,
    "weekday": "thursday",
    "start_time": "09:00",
    "place": "Gather Town",
    "place_url": "https://app.gather.town/",
    "offsets": "1440,60",
    "paused": False,
}


def entry(before: object, after: object, *, action: str = "settings.update", minutes: int = 0) -> AuditEntry:
    return AuditEntry(
        study_id=1,
        actor_id=700000000000000001,
        actor_name="leader",
        action=action,
        target="settings",
        before="" if before is None else json.dumps(before),
        after="" if after is None else json.dumps(after),
        created_at=datetime(2026, 12, 1, 3, 0, tzinfo=UTC) - timedelta(minutes=minutes),
    )


def test_audit_shows_a_changed_link_in_full_and_only_the_fields_that_changed() -> None:
    after = {**SETTINGS_BEFORE, "place_url": PLACE, "offsets": "60"}

    text = render_audit([entry(SETTINGS_BEFORE, after)], "en").embeds[0].description

    assert PLACE in text
    assert "• `place_url`: <https://app.gather.town/> → <" + PLACE + ">" in text
    assert "`offsets`: 1d, 1h → 1h" in text
    assert "thursday" not in text and "Gather Town" not in text and "channel" not in text


def test_audit_of_a_created_member_and_a_plain_value() -> None:
    created = entry(None, {"name": "홍길동", "github": "https://github.com/hong", "user": None}, action="roster.add")
    legacy = AuditEntry(
        study_id=1,
        actor_id=None,
        actor_name="studybot cli",
        action="x",
        target="y",
        before="not json",
        after="",
        created_at=datetime(2026, 12, 1, tzinfo=UTC),
    )

    text = render_audit([created, legacy], "ko").embeds[0].description

    assert "`name`: - → 홍길동" in text and "https://github.com/hong" in text and "`user`" not in text
    assert "not json → -" in text


def test_a_recorded_no_op_says_nothing_changed() -> None:
    text = render_audit([entry(SETTINGS_BEFORE, SETTINGS_BEFORE)], "en").embeds[0].description

    assert "(no value changed)" in text


def test_long_audits_continue_on_further_pages_without_losing_a_character() -> None:
    values = [f"https://example.org/{i:02d}/" + "a" * 470 for i in range(26)]
    entries = [entry({"place_url": values[i]}, {"place_url": values[i + 1]}, minutes=i) for i in range(len(values) - 1)]

    pages = [render_audit(entries, "en", page) for page in range(1, 30)]

    for reply in pages:
        assert_within_limits(reply)
    texts = [reply.embeds[0].description for reply in pages]
    count = len(set(texts))
    assert count > 1
    assert all(len(t) <= AUDIT_PAGE_MAX for t in texts)
    assert pages[0].embeds[0].footer == f"Page 1/{count} · next: /admin audit page:2"
    assert pages[-1].embeds[0].footer == f"Page {count}/{count} (last)"  # past the end: the last page
    shown = "\n".join(dict.fromkeys(texts)).splitlines()
    # Every value whole, each on a line of its own: old ones as they were, new ones after the arrow.
    assert all(f"<{value}>" in shown for value in values[:-1])
    assert all(f"→ <{value}>" in shown for value in values[1:])


def test_a_value_longer_than_a_line_wraps_instead_of_being_cut() -> None:
    huge = "_" * 3000  # escaped to 6,000 characters: longer than a whole page

    replies = [render_audit([entry({"name": huge}, {"name": "kim"})], "ko", page) for page in (1, 2, 3)]

    for reply in replies:
        assert_within_limits(reply)
    assert replies[1].embeds[0].description != replies[0].embeds[0].description  # it took two pages
    joined = "".join(line.strip() for r in replies[:2] for line in r.embeds[0].description.splitlines())
    assert joined.count("\\_") == 3000
    assert "→ kim" in all_text(replies[1])


def test_a_new_session_change_lists_only_what_it_sets() -> None:
    move = entry(None, {"cancelled": False, "moved_to": "2026-12-11T09:00:00+09:00", "reason": ""})
    cancel = entry(None, {"cancelled": True, "moved_to": None, "reason": ""})
    restore = entry({"cancelled": True, "moved_to": None, "reason": "연말"}, {"cancelled": False, "moved_to": None})

    moved, cancelled, restored = (
        render_audit([e], "en").embeds[0].description.splitlines()[1:] for e in (move, cancel, restore)
    )

    assert moved == [f"• `moved_to`: - → <t:{int(datetime(2026, 12, 11, 0, 0, tzinfo=UTC).timestamp())}:f>"]
    assert cancelled == ["• `cancelled`: - → yes"]
    assert restored == ["• `cancelled`: yes → no", "• `reason`: 연말 → -"]
