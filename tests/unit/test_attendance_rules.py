"""Specification of the check-in rules (bot/core/attendance.py) and of the practice posts in the delivery plan
(check-in post, nudge, recap): when each is due, how long each is worth sending, and what they say."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar

import pytest
from PIL import Image

from bot.core.attendance import (
    AttendanceStatus,
    CheckinRefusal,
    checkin_status,
    member_history,
    session_to_check_in,
)
from bot.core.model import (
    Member,
    Place,
    PracticeSettings,
    Recurrence,
    SessionChange,
    StudySnapshot,
    Week,
)
from bot.core.schedule import build_schedule
from bot.delivery.plan import CHECKIN_POST, NUDGE, RECAP, Decision, decide_due, plan_deliveries
from bot.delivery.practice_posts import (
    PracticeFacts,
    checkin_custom_id,
    render_checkin_post,
    render_nudge,
    render_recap,
)
from bot.render.attendance import render_grid, render_member_history
from bot.render.embeds import DESCRIPTION_MAX, EMBED_TOTAL_MAX
from bot.render.pool import RenderPool
from bot.services.attendance import SessionFacts

WEEK1 = datetime(2026, 12, 3, 0, 0, tzinfo=UTC)  # Thursday 09:00 KST
MIN = timedelta(minutes=1)
PRACTICE = PracticeSettings()
RECURRENCE = Recurrence(3, time(9, 0), timedelta(minutes=60), "Asia/Seoul", date(2026, 12, 3))


def schedule(changes: tuple[SessionChange, ...] = (), weeks: int = 3) -> list:  # type: ignore[type-arg]
    return build_schedule(RECURRENCE, changes, weeks)


def snapshot(members: tuple[Member, ...] = (), practice: PracticeSettings = PRACTICE) -> StudySnapshot:
    return StudySnapshot(
        id=1,
        guild_id=5,
        name="스터디",
        locale="ko",
        recurrence=RECURRENCE,
        place=Place("Gather Town", "https://app.gather.town/x"),
        reminder_channel_id=7,
        ping_role_id=None,
        admin_role_id=None,
        reminder_offsets=(timedelta(days=1),),
        paused=False,
        members=members,
        weeks=(Week(1, "기본"), Week(2, "선형회귀"), Week(3, "CNN")),
        public_id="abc123",
        practice=practice,
    )


# --- check-in window -------------------------------------------------------------------------------------


def test_checkin_is_refused_before_the_window_opens_and_says_when() -> None:
    first = schedule()[0]
    verdict = checkin_status(first, PRACTICE, WEEK1 - 11 * MIN)
    assert isinstance(verdict, CheckinRefusal) and verdict.key == "attendance.too_early"
    assert verdict.params["opens"] == int((WEEK1 - 10 * MIN).timestamp())


def test_checkin_is_present_from_the_window_until_the_grace_then_late_until_the_end() -> None:
    first = schedule()[0]
    assert checkin_status(first, PRACTICE, WEEK1 - 10 * MIN) is AttendanceStatus.PRESENT
    assert checkin_status(first, PRACTICE, WEEK1 + 10 * MIN) is AttendanceStatus.PRESENT
    assert checkin_status(first, PRACTICE, WEEK1 + 11 * MIN) is AttendanceStatus.LATE
    closed = checkin_status(first, PRACTICE, WEEK1 + 60 * MIN)
    assert isinstance(closed, CheckinRefusal) and closed.key == "attendance.closed"


def test_window_and_grace_follow_the_study_settings() -> None:
    first = schedule()[0]
    wide = PracticeSettings(checkin_opens=30 * MIN, checkin_grace=0 * MIN)
    assert checkin_status(first, wide, WEEK1 - 25 * MIN) is AttendanceStatus.PRESENT
    assert checkin_status(first, wide, WEEK1 + MIN) is AttendanceStatus.LATE


def test_moved_session_is_checked_in_at_its_new_time_under_its_original_date() -> None:
    moved_to = WEEK1 + timedelta(days=1, hours=2)
    moved = schedule((SessionChange(date(2026, 12, 3), False, moved_to),))[0]
    assert isinstance(checkin_status(moved, PRACTICE, WEEK1), CheckinRefusal)
    assert checkin_status(moved, PRACTICE, moved_to) is AttendanceStatus.PRESENT
    found = session_to_check_in(schedule((SessionChange(date(2026, 12, 3), False, moved_to),)), PRACTICE, moved_to)
    assert not isinstance(found, CheckinRefusal) and found.original_date == date(2026, 12, 3)


def test_cancelled_session_cannot_be_checked_in() -> None:
    cancelled = schedule((SessionChange(date(2026, 12, 3), True),))[0]
    verdict = checkin_status(cancelled, PRACTICE, WEEK1)
    assert isinstance(verdict, CheckinRefusal) and verdict.key == "attendance.cancelled"
    # /checkin during the cancelled slot finds nothing open and points at the next window
    found = session_to_check_in(schedule((SessionChange(date(2026, 12, 3), True),)), PRACTICE, WEEK1)
    assert isinstance(found, CheckinRefusal) and found.key == "attendance.too_early"


def test_history_counts_ended_sessions_without_a_record_as_absent_and_leaves_excused_out_of_the_rate() -> None:
    sessions = schedule()
    now = sessions[2].start + MIN  # weeks 1 and 2 ended, week 3 under way
    history = member_history(sessions, {date(2026, 12, 3): AttendanceStatus.LATE}, now)
    assert [r.status for r in history.records] == [AttendanceStatus.LATE, AttendanceStatus.ABSENT, None]
    assert history.rate == 0.5
    excused = member_history(sessions, {date(2026, 12, 10): AttendanceStatus.EXCUSED}, now)
    assert excused.rate == 0.0 and excused.count(AttendanceStatus.EXCUSED) == 1
    assert member_history(sessions, {}, WEEK1 - MIN).rate is None


# --- the practice posts in the plan ------------------------------------------------------------------------


def test_each_session_gets_a_checkin_post_a_nudge_and_a_recap_at_their_times() -> None:
    sessions = schedule(weeks=1)
    planned = plan_deliveries(
        sessions, (), since=WEEK1 - timedelta(days=2), until=WEEK1 + timedelta(days=1), practice=PRACTICE
    )
    assert [(p.kind, p.due) for p in planned] == [
        (NUDGE, WEEK1 - timedelta(days=1)),
        (CHECKIN_POST, WEEK1 - 10 * MIN),
        (RECAP, WEEK1 + 60 * MIN),
    ]
    assert {p.occurrence for p in planned} == {WEEK1}


def test_switched_off_posts_and_cancelled_sessions_are_not_planned() -> None:
    off = PracticeSettings(nudge_offset=timedelta(0), recap_enabled=False, checkin_post_enabled=False)
    assert (
        plan_deliveries(schedule(), (), since=WEEK1 - timedelta(days=9), until=WEEK1 + timedelta(days=30), practice=off)
        == []
    )
    cancelled = schedule((SessionChange(date(2026, 12, 3), True),), weeks=1)
    day = timedelta(days=1)
    planned = plan_deliveries(cancelled, (day,), since=WEEK1 - 2 * day, until=WEEK1 + 2 * day, practice=PRACTICE)
    kinds = {p.kind for p in planned if p.session.cancelled}
    assert kinds == {"cancelled"}


def test_after_downtime_the_checkin_post_goes_out_late_until_the_session_ends_and_the_recap_within_hours() -> None:
    sessions = schedule(weeks=1)
    planned = plan_deliveries(
        sessions,
        (timedelta(hours=1),),
        since=WEEK1 - timedelta(days=2),
        until=WEEK1 + timedelta(days=2),
        practice=PRACTICE,
    )
    during = dict((d.kind, decision) for d, decision in decide_due(planned, done=set(), now=WEEK1 + 20 * MIN))
    assert during == {NUDGE: Decision.MISSED, "remind:60": Decision.MISSED, CHECKIN_POST: Decision.SEND_LATE}
    after = dict((d.kind, decision) for d, decision in decide_due(planned, done=set(), now=WEEK1 + 3 * 60 * MIN))
    assert after[RECAP] is Decision.SEND_LATE and after[CHECKIN_POST] is Decision.MISSED
    much_later = dict(
        (d.kind, decision) for d, decision in decide_due(planned, done=set(), now=WEEK1 + timedelta(days=1))
    )
    assert much_later[RECAP] is Decision.MISSED


def test_a_practice_post_due_with_a_reminder_does_not_supersede_it() -> None:
    sessions = schedule(weeks=1)
    planned = plan_deliveries(
        sessions, (timedelta(days=1),), since=WEEK1 - timedelta(days=2), until=WEEK1, practice=PRACTICE
    )
    decided = dict((d.kind, decision) for d, decision in decide_due(planned, done=set(), now=WEEK1 - timedelta(days=1)))
    assert decided == {NUDGE: Decision.SEND, "remind:1440": Decision.SEND}


# --- what the posts say --------------------------------------------------------------------------------------


def test_checkin_post_carries_week_topic_place_and_a_button_naming_study_and_session() -> None:
    session = schedule()[0]
    reply = render_checkin_post(snapshot(), session, now=WEEK1 - 10 * MIN, late=False, reference="ref x")
    [button] = reply.buttons
    assert button.custom_id == checkin_custom_id("abc123", date(2026, 12, 3)) == "studybot:checkin:abc123:2026-12-03"
    assert "1주차" in reply.embeds[0].title and "기본" in reply.embeds[0].title
    assert "https://app.gather.town/x" in reply.embeds[0].description
    assert reply.embeds[0].footer == "ref x"
    assert not reply.ping_role_ids and not reply.ping_user_ids


def test_nudge_pings_only_linked_members_who_opted_in_and_names_the_rest() -> None:
    members = (
        Member("가", discord_user_id=11, nudge_opt_in=True, id=1),
        Member("나", discord_user_id=12, nudge_opt_in=False, id=2),
        Member("다", discord_user_id=None, nudge_opt_in=True, id=3),
        Member("라", discord_user_id=14, nudge_opt_in=True, id=4),
    )
    facts = SessionFacts(logs={4: ["https://github.com/ra/notes"]})
    reply = render_nudge(snapshot(members), schedule()[0], facts)
    assert reply.ping_user_ids == (11,)
    assert "<@11>" in reply.content and "나" in reply.content and "다" in reply.content
    assert "<@12>" not in reply.content and "라" not in reply.content


def test_recap_lists_who_checked_in_whose_logs_are_up_and_the_next_topic_with_the_picture() -> None:
    members = (Member("가", id=1), Member("나", id=2), Member("다", id=3))
    facts = SessionFacts(
        attendance={1: AttendanceStatus.PRESENT, 2: AttendanceStatus.LATE, 3: AttendanceStatus.EXCUSED},
        logs={3: ["https://blog.example/w1"]},
    )
    sessions = schedule()
    reply = render_recap(snapshot(members), sessions[0], facts, following=sessions[1], png=b"\x89PNG")
    attended, logs, following = reply.embeds[0].fields
    assert (
        "2/3" in attended.name
        and "✅ 가" in attended.value
        and "🕒 나" in attended.value
        and "다" not in attended.value
    )
    assert "https://blog.example/w1" in logs.value
    assert "선형회귀" in following.value
    assert reply.file_bytes == b"\x89PNG" and reply.file_name == "progress-week1.png"


def test_grid_of_200_members_over_52_weeks_is_split_into_pages_within_discords_limits() -> None:
    recurrence = Recurrence(3, time(9, 0), timedelta(minutes=60), "Asia/Seoul", date(2026, 12, 3))
    sessions = build_schedule(recurrence, (), 52)
    members = tuple(Member(f"참여자{i:03d}" + "가" * 80, id=i) for i in range(200))
    now = sessions[-1].end + MIN
    histories = [(m, member_history(sessions, {}, now)) for m in members]
    pages = render_grid(snapshot(members), histories, "ko", now=now)
    assert len(pages) > 1
    shown = "".join(p.embeds[0].description for p in pages)
    for page in pages:
        embed = page.embeds[0]
        assert len(embed.description) <= DESCRIPTION_MAX and embed.total_length() <= EMBED_TOTAL_MAX
        assert embed.description.startswith("```") and embed.description.endswith("```")
    assert all(m.name in shown for m in members)


def test_member_history_shows_every_week_and_the_rate() -> None:
    sessions = schedule()
    member = Member("가", id=1)
    history = member_history(sessions, {date(2026, 12, 3): AttendanceStatus.PRESENT}, sessions[1].end + MIN)
    reply = render_member_history(snapshot((member,)), member, history, "en")
    embed = reply.embeds[0]
    assert "50%" in embed.title
    assert embed.description.count("\n") == 2 and "present" in embed.description and "absent" in embed.description
    assert reply.ephemeral


# --- the recap's picture hook -----------------------------------------------------------------------------


class _Records:
    async def session_facts(self, *, study_id: int, original_date: date) -> SessionFacts:
        return SessionFacts()

    async def statuses(self, *, study_id: int) -> dict[int, dict[date, AttendanceStatus]]:
        return {1: {date(2026, 12, 3): AttendanceStatus.PRESENT}}

    async def log_dates(self, *, study_id: int) -> dict[int, set[date]]:
        return {1: {date(2026, 12, 3)}}


T = TypeVar("T")


class _RecordingPool(RenderPool):
    """The real pool (worker processes), noting what it was asked to draw."""

    def __init__(self) -> None:
        super().__init__(workers=1)
        self.calls: list[str] = []

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        self.calls.append(fn.__name__)
        return await super().run(fn, *args)


async def test_recap_picture_is_the_progress_picture_drawn_in_the_render_pool() -> None:
    pool = _RecordingPool()
    try:
        png = await PracticeFacts(_Records(), pool=pool).progress_png(snapshot(), lang="en")
        worker_pid = await pool.run(os.getpid)
    finally:
        await pool.close()

    assert png is not None and png.startswith(b"\x89PNG")
    assert Image.open(io.BytesIO(png)).size[0] > 100  # a real picture, decoded
    assert pool.calls[0] == "render_progress"  # drawn in the pool, not in a thread of the event loop
    assert worker_pid != os.getpid()


async def test_without_a_render_pool_the_recap_goes_without_a_picture() -> None:
    assert await PracticeFacts(_Records()).progress_png(snapshot(), lang="en") is None


async def test_a_failing_progress_renderer_leaves_the_recap_without_a_picture(monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.render.progress as progress

    def broken(*args: object, **kwargs: object) -> bytes:
        raise RuntimeError("no font")

    monkeypatch.setattr(progress, "recap_progress_data", broken)
    pool = RenderPool(workers=1)
    try:
        assert await PracticeFacts(_Records(), pool=pool).progress_png(snapshot(), lang="ko") is None
    finally:
        await pool.close()
    assert not pool.started  # failed before anything was sent to a worker
