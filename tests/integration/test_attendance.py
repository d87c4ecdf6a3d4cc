"""Attendance on a real database (SQLite, and PostgreSQL when configured): check-in once per member and
session, claims an admin confirms, audited corrections, the records export, 200 presses at once, and the
practice posts delivered exactly once through the ledger across a crash."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, date, datetime, time, timedelta

import pytest
from PIL import Image
from sqlalchemy import select

from bot.clock import FrozenClock
from bot.core.attendance import AttendanceStatus, CheckinSource
from bot.db import models as db
from bot.delivery.ledger import DeliveryLedger
from bot.delivery.plan import CHECKIN_POST, NUDGE, RECAP
from bot.delivery.practice_posts import PracticeFacts
from bot.delivery.runner import ReminderRunner
from bot.errors import UserError
from bot.render.pool import RenderPool
from bot.runtime import Runtime
from bot.services.attendance import NotLinked
from bot.services.base import Actor
from tests.conftest import ADMIN, GUILD_ID
from tests.integration.test_ledger import ChannelLog

pytestmark = pytest.mark.practice

WEEK1 = datetime(2026, 12, 3, 0, 0, tzinfo=UTC)  # Thursday 09:00 KST
WEEK1_DATE = date(2026, 12, 3)
MIN = timedelta(minutes=1)
MEMBER = Actor(800000000000000001, "member#0001")


def snap(runtime: Runtime):  # type: ignore[no-untyped-def]
    found = runtime.directory.by_guild(GUILD_ID)
    assert found is not None
    return found


async def link_first(runtime: Runtime, user_id: int = MEMBER.user_id or 0) -> str:
    name = snap(runtime).members[0].name
    await runtime.services.roster.link(guild_id=GUILD_ID, actor=ADMIN, name=name, user_id=user_id)
    return name


async def attendance_rows(runtime: Runtime) -> list[db.Attendance]:
    async with runtime.sessionmaker() as session:
        return list((await session.execute(select(db.Attendance).order_by(db.Attendance.id))).scalars())


async def check_in(runtime: Runtime, user_id: int = MEMBER.user_id or 0, day: date | None = WEEK1_DATE):  # type: ignore[no-untyped-def]
    return await runtime.services.attendance.check_in(
        guild_id=GUILD_ID, user_id=user_id, original_date=day, source=CheckinSource.BUTTON
    )


# --- check-in -----------------------------------------------------------------------------------------


async def test_checkin_in_the_window_is_present_and_a_second_press_writes_nothing(
    runtime: Runtime, clock: FrozenClock
) -> None:
    name = await link_first(runtime)
    clock.set(WEEK1 - 5 * MIN)

    first = await check_in(runtime)
    second = await check_in(runtime)

    assert (first.status, first.already, first.member, first.session.week) == (AttendanceStatus.PRESENT, False, name, 1)
    assert (second.status, second.already) == (AttendanceStatus.PRESENT, True)
    [row] = await attendance_rows(runtime)
    assert (row.status, row.source, row.original_date, row.checked_in_at) == (
        "present",
        "button",
        WEEK1_DATE,
        WEEK1 - 5 * MIN,
    )


async def test_checkin_after_the_grace_is_late_and_outside_the_window_is_refused_writing_nothing(
    runtime: Runtime, clock: FrozenClock
) -> None:
    await link_first(runtime)
    clock.set(WEEK1 - 11 * MIN)
    with pytest.raises(UserError) as early:
        await check_in(runtime)
    assert early.value.key == "attendance.too_early"
    clock.set(WEEK1 + 61 * MIN)
    with pytest.raises(UserError) as closed:
        await check_in(runtime)
    assert closed.value.key == "attendance.closed"
    assert await attendance_rows(runtime) == []

    clock.set(WEEK1 + 30 * MIN)
    assert (await check_in(runtime, day=None)).status is AttendanceStatus.LATE


async def test_moved_session_counts_at_its_new_time_and_cancelled_one_cannot_be_checked_in(
    runtime: Runtime, clock: FrozenClock
) -> None:
    await link_first(runtime)
    new_start = WEEK1 + timedelta(days=1, hours=2)  # Friday 11:00 KST
    await runtime.services.sessions.move(
        guild_id=GUILD_ID, actor=ADMIN, day=WEEK1_DATE, new_day=date(2026, 12, 4), new_time=time(11, 0)
    )
    clock.set(WEEK1)
    with pytest.raises(UserError):
        await check_in(runtime)
    clock.set(new_start + 2 * MIN)
    assert (await check_in(runtime)).status is AttendanceStatus.PRESENT
    [row] = await attendance_rows(runtime)
    assert row.original_date == WEEK1_DATE

    week2 = date(2026, 12, 10)
    await runtime.services.sessions.cancel(guild_id=GUILD_ID, actor=ADMIN, day=week2, reason="")
    clock.set(datetime(2026, 12, 10, 0, 0, tzinfo=UTC))
    with pytest.raises(UserError) as refused:
        await check_in(runtime, day=week2)
    assert refused.value.key == "attendance.cancelled"


async def test_unlinked_account_is_told_to_claim_and_nothing_is_written(runtime: Runtime, clock: FrozenClock) -> None:
    clock.set(WEEK1)
    with pytest.raises(NotLinked):
        await check_in(runtime)
    assert await attendance_rows(runtime) == []


async def test_200_members_pressing_at_once_are_each_recorded_once(runtime: Runtime, clock: FrozenClock) -> None:
    study = snap(runtime)
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            db.Member.__table__.update().where(db.Member.study_id == study.id).values(discord_user_id=None)
        )
        for i in range(200 - len(study.members)):
            session.add(db.Member(study_id=study.id, name=f"참여자{i:03d}"))
    async with runtime.sessionmaker() as session, session.begin():
        members = (await session.execute(select(db.Member).where(db.Member.study_id == study.id))).scalars().all()
        for i, member in enumerate(members):
            member.discord_user_id = 600000000000000000 + i
    await runtime.directory.changed(study.id)
    clock.set(WEEK1 - MIN)
    users = [600000000000000000 + i for i in range(200)]

    results = await asyncio.gather(*(check_in(runtime, u) for u in users), *(check_in(runtime, u) for u in users[:50]))

    assert sum(1 for r in results if not r.already) == 200
    rows = await attendance_rows(runtime)
    assert len(rows) == 200 and len({r.member_id for r in rows}) == 200


async def test_a_check_in_is_stored_as_every_other_write_stores_it(runtime: Runtime, clock: FrozenClock) -> None:
    # A check-in is written on a bare connection (Core, not the ORM's session); what it stores must read back,
    # and conflict, exactly as the ORM's own rows do.
    name = await link_first(runtime)
    other = snap(runtime).members[1].name
    await runtime.services.roster.link(guild_id=GUILD_ID, actor=ADMIN, name=other, user_id=800000000000000002)
    at = WEEK1 + timedelta(minutes=3, seconds=2, microseconds=345)
    clock.set(at)
    await runtime.services.attendance.set_status(
        guild_id=GUILD_ID, actor=ADMIN, name=other, week=1, status=AttendanceStatus.EXCUSED
    )

    first = await check_in(runtime)
    kept = await check_in(runtime, 800000000000000002)  # the admin's row (written by the ORM) is found

    assert (first.status, first.already, first.member) == (AttendanceStatus.PRESENT, False, name)
    assert (kept.status, kept.already) == (AttendanceStatus.EXCUSED, True)
    rows = {r.member_id: r for r in await attendance_rows(runtime)}
    mine = rows[snap(runtime).members[0].id]
    assert (mine.original_date, mine.status, mine.source) == (WEEK1_DATE, "present", "button")
    assert mine.checked_in_at == at and mine.updated_at == at  # aware UTC, to the microsecond
    assert rows[snap(runtime).members[1].id].status == "excused"
    again = await check_in(runtime)
    assert again.already and len(await attendance_rows(runtime)) == 2


async def test_a_batch_is_one_transaction(runtime: Runtime, clock: FrozenClock) -> None:
    # A row that cannot be written (its member is gone) fails the whole batch and leaves nothing behind; the
    # batch without it is written whole.
    study = snap(runtime)
    writer = runtime.services.attendance._writer()
    rows = [
        {
            "study_id": study.id,
            "member_id": member.id,
            "original_date": WEEK1_DATE,
            "status": "present",
            "checked_in_at": WEEK1,
            "source": "button",
            "updated_at": WEEK1,
        }
        for member in study.members[:7]
    ]
    gone = dict(rows[0], member_id=max(m.id for m in study.members) + 1000)
    with pytest.raises(Exception, match=r"(?i)foreign key"):
        await writer._write([*rows, gone])
    assert await attendance_rows(runtime) == []
    written = await writer._write(rows + rows[:2])  # a member twice in one batch: written once
    assert written == {(study.id, m.id, WEEK1_DATE) for m in study.members[:7]}
    assert len(await attendance_rows(runtime)) == 7
    assert await writer._write(rows[:3]) == set()  # already there: nothing written


# --- claims ---------------------------------------------------------------------------------------------


async def test_claim_then_admin_confirm_links_the_account_audited(runtime: Runtime, clock: FrozenClock) -> None:
    name = snap(runtime).members[1].name
    assert await runtime.services.attendance.claim(guild_id=GUILD_ID, actor=MEMBER, name=name) == name
    assert await runtime.services.attendance.pending_claims(guild_id=GUILD_ID) == [(name, MEMBER.user_id)]
    other = Actor(800000000000000002, "other#0002")
    with pytest.raises(UserError) as taken:
        await runtime.services.attendance.claim(guild_id=GUILD_ID, actor=other, name=name)
    assert taken.value.key == "claim.pending_other"

    assert await runtime.services.attendance.confirm_claim(guild_id=GUILD_ID, actor=ADMIN, name=name) == (
        name,
        MEMBER.user_id,
    )

    member = next(m for m in snap(runtime).members if m.name == name)
    assert member.discord_user_id == MEMBER.user_id
    assert await runtime.services.attendance.pending_claims(guild_id=GUILD_ID) == []
    actions = [e.action for e in await runtime.services.audit.latest(guild_id=GUILD_ID, limit=2)]
    assert actions == ["roster.confirm", "roster.claim"]
    with pytest.raises(UserError) as again:
        await runtime.services.attendance.claim(guild_id=GUILD_ID, actor=MEMBER, name=snap(runtime).members[2].name)
    assert again.value.key == "claim.already_linked"
    with pytest.raises(UserError) as linked:
        await runtime.services.attendance.claim(guild_id=GUILD_ID, actor=other, name=name)
    assert linked.value.key == "claim.taken"


# --- admin corrections ------------------------------------------------------------------------------------


async def test_admin_mark_excuse_and_unmark_are_audited_and_counted(runtime: Runtime, clock: FrozenClock) -> None:
    name = snap(runtime).members[0].name
    clock.set(WEEK1 + timedelta(days=8))  # weeks 1 and 2 are over
    service = runtime.services.attendance
    await service.set_status(guild_id=GUILD_ID, actor=ADMIN, name=name, week=1, status=AttendanceStatus.LATE)
    await service.set_status(guild_id=GUILD_ID, actor=ADMIN, name=name, week=2, status=AttendanceStatus.EXCUSED)
    histories = dict((m.name, h) for m, h in await service.histories(snap(runtime)))
    assert [r.status for r in histories[name].records[:3]] == [AttendanceStatus.LATE, AttendanceStatus.EXCUSED, None]
    assert histories[name].rate == 1.0

    await service.set_status(guild_id=GUILD_ID, actor=ADMIN, name=name, week=1, status=None)
    with pytest.raises(UserError) as nothing:
        await service.set_status(guild_id=GUILD_ID, actor=ADMIN, name=name, week=1, status=None)
    assert nothing.value.key == "attendance.nothing_to_unmark"
    with pytest.raises(UserError) as future:
        await service.set_status(guild_id=GUILD_ID, actor=ADMIN, name=name, week=5, status=AttendanceStatus.PRESENT)
    assert future.value.key == "attendance.mark_future"
    with pytest.raises(UserError) as out_of_range:
        await service.set_status(guild_id=GUILD_ID, actor=ADMIN, name=name, week=99, status=AttendanceStatus.PRESENT)
    assert out_of_range.value.key == "error.week_range"
    actions = [e.action for e in await runtime.services.audit.latest(guild_id=GUILD_ID, limit=3)]
    assert actions == ["attendance.unmark", "attendance.excused", "attendance.late"]


async def test_practice_settings_are_validated_audited_and_reach_the_snapshot(runtime: Runtime) -> None:
    service = runtime.services.attendance
    with pytest.raises(UserError) as bad:
        await service.update_practice(guild_id=GUILD_ID, actor=ADMIN, checkin_grace=5000)
    assert bad.value.key == "practice.bad_minutes"
    await service.update_practice(
        guild_id=GUILD_ID, actor=ADMIN, checkin_opens=30, nudge_offset=0, recap=False, checkin_post=False
    )
    practice = snap(runtime).practice
    assert practice.checkin_opens == 30 * MIN and practice.nudge_offset == timedelta(0)
    assert not practice.recap_enabled and not practice.checkin_post_enabled
    [entry] = await runtime.services.audit.latest(guild_id=GUILD_ID, limit=1)
    assert entry.action == "practice.settings"


# --- records --------------------------------------------------------------------------------------------


async def test_records_export_writes_attendance_with_absences_and_logs_with_korean_names(
    runtime: Runtime, clock: FrozenClock
) -> None:
    name = await link_first(runtime)
    clock.set(WEEK1)
    await check_in(runtime)
    study = snap(runtime)
    async with runtime.sessionmaker() as session, session.begin():
        session.add(
            db.StudyLog(
                study_id=study.id,
                member_id=study.members[0].id,
                original_date=WEEK1_DATE,
                url="https://github.com/hong/notes",
                note="1주차 정리",
                created_at=WEEK1,
            )
        )
    clock.set(WEEK1 + timedelta(days=2))

    files = await runtime.services.attendance.export_records(guild_id=GUILD_ID)

    attendance = list(csv.DictReader(io.StringIO(files["attendance.csv"])))
    assert len(attendance) == len(study.members)  # week 1 is over: everyone has a row
    mine = next(r for r in attendance if r["member"] == name)
    assert (mine["week"], mine["status"], mine["source"]) == ("1", "present", "button")
    assert {r["status"] for r in attendance if r["member"] != name} == {"absent"}
    [log_row] = list(csv.DictReader(io.StringIO(files["logs.csv"])))
    assert (log_row["member"], log_row["note"], log_row["week"]) == (name, "1주차 정리", "1")


# --- the practice posts through the ledger ------------------------------------------------------------------


def runner_for(
    runtime: Runtime, clock: FrozenClock, channel: ChannelLog, pool: RenderPool | None = None
) -> ReminderRunner:
    ledger = DeliveryLedger(sessionmaker=runtime.sessionmaker, clock=clock)
    return ReminderRunner(
        directory=runtime.directory,
        ledger=ledger,
        clock=clock,
        poster=channel,
        backoff_base=0,
        practice=PracticeFacts(runtime.services.attendance, pool=pool),
    )


async def deliveries(runtime: Runtime) -> list[db.Delivery]:
    async with runtime.sessionmaker() as session:
        return list((await session.execute(select(db.Delivery).order_by(db.Delivery.id))).scalars())


async def test_checkin_post_claimed_then_crashed_is_posted_once_after_restart(
    runtime: Runtime, clock: FrozenClock
) -> None:
    channel = ChannelLog()
    clock.set(WEEK1 - 10 * MIN + timedelta(seconds=2))
    first = runner_for(runtime, clock, channel)
    study = snap(runtime)
    [planned] = [p for p in first.plan(study, since=WEEK1 - 11 * MIN, until=WEEK1 - 9 * MIN) if p.kind == CHECKIN_POST]
    claimed = await first.ledger.claim(study_id=study.id, planned=planned, late=False)
    assert claimed is not None  # the crash: claimed, never posted

    second = runner_for(runtime, clock, channel)
    await second.start()
    await second.drain()
    await second.stop()
    third = runner_for(runtime, clock, channel)
    await third.start()
    await third.drain()
    await third.stop()

    posts = [reply for _, _, reply in channel.messages if reply.buttons]
    assert len(posts) == 1
    assert posts[0].buttons[0].custom_id == f"studybot:checkin:{study.public_id}:2026-12-03"
    [row] = [d for d in await deliveries(runtime) if d.kind == CHECKIN_POST]
    assert row.status == "sent"


async def test_nudge_and_recap_go_out_once_each_with_what_the_database_holds(
    runtime: Runtime, clock: FrozenClock
) -> None:
    name = await link_first(runtime)
    study = snap(runtime)
    async with runtime.sessionmaker() as session, session.begin():
        member = await session.get(db.Member, study.members[0].id)
        assert member is not None
        member.nudge_opt_in = True
        other = await session.get(db.Member, study.members[1].id)
        assert other is not None
        other.discord_user_id = 800000000000000009  # linked, not opted in: named, never pinged
    await runtime.directory.changed(study.id)
    channel = ChannelLog()

    clock.set(WEEK1 - timedelta(days=1) + timedelta(seconds=1))
    runner = runner_for(runtime, clock, channel)
    await runner.start()
    await runner.drain()
    await runner.stop()
    nudges = [r for _, _, r in channel.messages if r.ping_user_ids or "스터디로그" in r.content]
    assert len(nudges) == 1
    assert nudges[0].ping_user_ids == (MEMBER.user_id,)
    assert "<@800000000000000009>" not in nudges[0].content

    clock.set(WEEK1)
    await check_in(runtime)
    clock.set(WEEK1 + 60 * MIN + timedelta(seconds=1))
    pool = RenderPool(workers=1)
    try:
        for _ in range(2):  # a restart after the recap posts nothing again
            runner = runner_for(runtime, clock, channel, pool)
            await runner.start()
            await runner.drain()
            await runner.stop()
    finally:
        await pool.close()
    recaps = [r for _, _, r in channel.messages if r.embeds and "정리" in r.embeds[0].title]
    assert len(recaps) == 1
    assert name in recaps[0].embeds[0].fields[0].value
    # The progress picture, drawn in the render pool's worker process, is attached as a real PNG.
    png = recaps[0].file_bytes
    assert png is not None and png.startswith(b"\x89PNG")
    assert Image.open(io.BytesIO(png)).size[0] > 100
    assert recaps[0].file_name == "progress-week1.png"
    kinds = [d.kind for d in await deliveries(runtime) if d.status == "sent"]
    assert kinds.count(NUDGE) == 1 and kinds.count(RECAP) == 1
