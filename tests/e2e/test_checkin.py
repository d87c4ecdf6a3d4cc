"""Check-in end to end: the real bot posts the session-start message with its button through the stand-in,
members press it (type-3 component interactions), a restart between the post and the press changes nothing,
unlinked members claim their name from the button, and the session-start post survives a kill -9 between
its claim and its post exactly once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.clock import ShiftedClock
from bot.db import models as db
from bot.foreground import foreground
from bot.offline import OfflineBot, start_bot, start_offline
from bot.services.base import Actor
from standin import MessageRecord, StandIn
from tests.e2e.procs import kill, kill_after_first_post, spawn
from tests.e2e.test_crash_restart import ledger, prepare_study

pytestmark = pytest.mark.practice

WEEK1 = datetime(2026, 12, 3, 0, 0, tzinfo=UTC)  # Thursday 09:00 KST
OPENS = WEEK1 - timedelta(minutes=10)
MESSAGES = r"/channels/\d+/messages"


def clock_at(moment: datetime) -> ShiftedClock:
    clock = ShiftedClock()
    clock.set(moment)
    return clock


async def link_member(offline: OfflineBot, user_id: int) -> str:
    snap = offline.runtime.directory.all()[0]
    name = snap.members[0].name
    await offline.runtime.services.roster.link(
        guild_id=snap.guild_id, actor=Actor(1, "leader"), name=name, user_id=user_id
    )
    return name


def checkin_posts(standin: StandIn, channel_id: int) -> list[MessageRecord]:
    return [m for m in standin.messages(channel_id) if m.components]


def fast_path(offline: OfflineBot) -> Any:
    """The check-in fast path in front of discord.py's parser (`bot.exts.attendance._fast.FastCheckin`; each bot
    loads its extensions afresh, so the class is not the one this module could import)."""
    parser = offline.bot._connection.parsers["INTERACTION_CREATE"]
    assert type(parser).__name__ == "FastCheckin"
    return parser


async def checkin_ready(
    tmp_path: Path, standin: StandIn, clock: ShiftedClock, *, link: bool = True
) -> tuple[OfflineBot, MessageRecord, str]:
    """The bot started, the stand-in's member linked (unless `link` is False), the session-start post up:
    (the bot, its post, the member's roster name or ""). The caller stops the bot."""
    world = standin.defaults
    assert world is not None
    offline = await start_offline(tmp_path, standin=standin, clock=clock)
    try:
        name = await link_member(offline, world.member_user_id) if link else ""
        await standin.wait_until(lambda: bool(checkin_posts(standin, world.channel_id)), timeout=15)
    except BaseException:
        await offline.stop()
        raise
    [post] = checkin_posts(standin, world.channel_id)
    return offline, post, name


def button_id(message: MessageRecord) -> str:
    return str(message.components[0]["components"][0]["custom_id"])


async def test_session_start_post_has_the_button_and_a_press_checks_in_once(tmp_path: Path, standin: StandIn) -> None:
    world = standin.defaults
    assert world is not None
    offline, post, name = await checkin_ready(tmp_path, standin, clock_at(OPENS - timedelta(seconds=1)))
    try:
        assert "1주차" in post.content and "https://app.gather.town/" in post.embeds[0]["description"]
        assert not post.pings.users and not post.pings.roles and not post.pings.everyone
        study = offline.runtime.directory.all()[0]
        assert button_id(post) == f"studybot:checkin:{study.public_id}:2026-12-03"

        press = await standin.click(post, button_id(post), user_id=world.member_user_id, locale="en-US")
        answer = await press.wait_response(timeout=10)
        assert answer.accepted and answer.ephemeral and answer.latency is not None and answer.latency < 3
        assert name in (answer.content or "") and "present" in (answer.content or "")

        with pytest.raises(ValueError, match="no component"):  # the stand-in presses only what is shown
            await standin.click(post, "studybot:checkin:other:2026-12-03", user_id=world.member_user_id)
        again = await standin.click(post, button_id(post), user_id=world.member_user_id, locale="ko")
        second = await again.wait_response(timeout=10)
        assert second.ephemeral and "이미" in (second.content or "")
        async with offline.runtime.sessionmaker() as session:
            rows = list((await session.execute(select(db.Attendance))).scalars())
        assert [(r.status, r.source) for r in rows] == [("present", "button")]
        # Both were answered by the fast path (no Interaction built, nothing read back from the callback).
        assert fast_path(offline).answered == 2
        callbacks = [r for r in standin.requests if r.route.endswith("/callback")]
        assert len(callbacks) == 2 and all("with_response" not in r.query for r in callbacks)
    finally:
        await offline.stop()


async def test_a_press_after_a_restart_still_checks_in(tmp_path: Path, standin: StandIn) -> None:
    world = standin.defaults
    assert world is not None
    first = await start_offline(tmp_path, standin=standin, clock=clock_at(OPENS - timedelta(seconds=1)))
    try:
        await link_member(first, world.member_user_id)
        await standin.wait_until(lambda: bool(checkin_posts(standin, world.channel_id)), timeout=15)
        await first.bot.reminders.drain()
    finally:
        await first.stop()
    [post] = checkin_posts(standin, world.channel_id)

    second = await start_bot(first.config_path, standin=standin, clock=clock_at(WEEK1 + timedelta(minutes=15)))
    try:
        press = await standin.click(post, button_id(post), user_id=world.member_user_id, locale="en-US")
        answer = await press.wait_response(timeout=10)
        assert answer.ephemeral and "late" in (answer.content or "")
        assert len(checkin_posts(standin, world.channel_id)) == 1  # the restart did not post it again
    finally:
        await second.stop()


async def test_unlinked_member_claims_from_the_button_and_checks_in_after_the_admin_confirms(
    tmp_path: Path, standin: StandIn
) -> None:
    world = standin.defaults
    assert world is not None
    offline, post, _ = await checkin_ready(tmp_path, standin, clock_at(OPENS - timedelta(seconds=1)), link=False)
    try:
        press = await standin.click(post, button_id(post), user_id=world.member_user_id, locale="en-US")
        offer = await press.wait_reply(timeout=10)
        assert offer.ephemeral and "not linked" in offer.content
        assert fast_path(offline).answered == 0  # not linked: the ordinary path answered, with the claim menu
        menu = offer.components[0]["components"][0]
        name = menu["options"][0]["value"]

        picked = await standin.click(offer, menu["custom_id"], values=[name], user_id=world.member_user_id)
        filed = await picked.wait_reply(timeout=10)
        assert name in filed.content and filed.ephemeral

        confirm = await standin.invoke(
            "admin roster confirm", {"name": name}, user_id=world.admin_user_id, locale="en-US"
        )
        assert name in (await confirm.wait_reply(timeout=10)).content
        checkin = await standin.invoke("checkin", {}, user_id=world.member_user_id, locale="en-US")
        done = await checkin.wait_reply(timeout=10)
        assert done.ephemeral and name in done.content
        sheet = await standin.invoke("attendance", {"member": name}, user_id=world.member_user_id, locale="en-US")
        history = await sheet.wait_reply(timeout=10)
        assert name in history.embeds[0]["title"]
    finally:
        await offline.stop()


async def test_checkin_outside_the_window_is_refused_clearly(tmp_path: Path, standin: StandIn) -> None:
    world = standin.defaults
    assert world is not None
    offline = await start_offline(tmp_path, standin=standin, clock=clock_at(OPENS - timedelta(hours=2)))
    try:
        await link_member(offline, world.member_user_id)
        handle = await standin.invoke("checkin", {}, user_id=world.member_user_id, locale="ko")
        reply = await handle.wait_reply(timeout=10)
        assert reply.ephemeral and "아직 출석 체크 시간이 아닙니다" in reply.content
        assert f"<t:{int(OPENS.timestamp())}:F>" in reply.content
    finally:
        await offline.stop()


async def test_checkin_post_killed_between_claim_and_post_is_posted_once(tmp_path: Path, standin: StandIn) -> None:
    """A real `studybot run` process, killed with SIGKILL while its check-in post is claimed but not posted."""
    world = standin.defaults
    assert world is not None
    config = await prepare_study(tmp_path, standin, minutes_ahead=5, reminders=False, practice="checkin")
    path = f"/channels/{world.channel_id}/messages"
    standin.faults.server_error("POST", MESSAGES, count=None, status=500)
    await kill_after_first_post(standin, config, path)
    [row] = await ledger(tmp_path)
    assert (row.kind, row.status) == ("checkin", "claimed")
    assert standin.messages(world.channel_id) == []
    standin.faults.clear()
    second = await spawn(config)
    try:
        await standin.wait_until(lambda: len(standin.messages(world.channel_id)) == 1, timeout=30)
        for _ in range(60):
            if (await ledger(tmp_path))[0].status == "sent":
                break
            await asyncio.sleep(0.25)
        [row] = await ledger(tmp_path)
        assert row.status == "sent"
        [post] = standin.messages(world.channel_id)
        assert row.message_id == post.id and post.components
    finally:
        await kill(second)
    assert len(standin.messages(world.channel_id)) == 1


async def test_nudge_pings_only_the_opted_in_linked_member_and_admin_commands_correct_records(
    tmp_path: Path, standin: StandIn
) -> None:
    world = standin.defaults
    assert world is not None
    day_before = WEEK1 - timedelta(days=1)
    offline = await start_offline(tmp_path, standin=standin, clock=clock_at(day_before - timedelta(minutes=5)))
    try:
        name = await link_member(offline, world.member_user_id)
        study = offline.runtime.directory.all()[0]
        async with offline.runtime.sessionmaker() as session, session.begin():
            for row in (await session.execute(select(db.Member).where(db.Member.study_id == study.id))).scalars():
                row.nudge_opt_in = True  # everyone opted in; only the linked one can be pinged
        await offline.runtime.directory.changed(study.id)
        assert isinstance(offline.runtime.clock, ShiftedClock)
        offline.runtime.clock.set(day_before - timedelta(seconds=1))
        await offline.bot.reminders.rearm_all()
        await standin.wait_until(
            lambda: any("스터디로그" in m.content for m in standin.messages(world.channel_id)), timeout=15
        )
        [nudge] = [m for m in standin.messages(world.channel_id) if "스터디로그" in m.content]
        assert nudge.pings.users == frozenset({world.member_user_id})
        assert not nudge.pings.roles and not nudge.pings.everyone
        assert f"<@{world.member_user_id}>" in nudge.content and study.members[1].name in nudge.content

        offline.runtime.clock.set(WEEK1 + timedelta(days=1))
        mark = await standin.invoke(
            "admin attendance mark", {"member": name, "week": 1, "status": "late"}, user_id=world.admin_user_id
        )
        assert name in (await mark.wait_reply(timeout=10)).content
        refused = await standin.invoke(
            "admin attendance mark", {"member": name, "week": 1}, user_id=world.member_user_id
        )
        denied = await refused.wait_reply(timeout=10)
        assert denied.ephemeral and "admins" in denied.content
        settings = await standin.invoke(
            "admin practice", {"nudge": "off", "checkin_grace": 5}, user_id=world.admin_user_id, locale="en-US"
        )
        shown = (await settings.wait_reply(timeout=10)).content
        assert "study log nudge: off" in shown and "5m from the start" in shown
        sheet = await standin.invoke("attendance", {}, user_id=world.member_user_id, locale="en-US")
        grid = await sheet.wait_reply(timeout=10)
        assert "L" in grid.embeds[0]["description"] and name in grid.embeds[0]["description"]
    finally:
        await offline.stop()


async def test_roster_claim_files_a_claim_and_a_linked_name_is_refused(tmp_path: Path, standin: StandIn) -> None:
    world = standin.defaults
    assert world is not None
    offline = await start_offline(tmp_path, standin=standin, clock=clock_at(OPENS - timedelta(hours=2)))
    try:
        study = offline.runtime.directory.all()[0]
        linked = await link_member(offline, world.admin_user_id)
        refused = await standin.invoke("roster", {"claim": linked}, user_id=world.member_user_id, locale="en-US")
        answer = await refused.wait_reply(timeout=10)
        assert answer.ephemeral and "already linked to another Discord account" in answer.content
        free = study.members[1].name
        claimed = await standin.invoke("roster", {"claim": free}, user_id=world.member_user_id, locale="ko")
        filed = await claimed.wait_reply(timeout=10)
        assert filed.ephemeral and free in filed.content
        pending = await offline.runtime.services.attendance.pending_claims(guild_id=world.guild_id)
        assert pending == [(free, world.member_user_id)]
        roster = await standin.invoke("roster", {}, user_id=world.member_user_id)
        assert (await roster.wait_reply(timeout=10)).embeds  # without claim: the roster as before
    finally:
        await offline.stop()


async def test_a_press_after_the_window_closed_is_refused_by_the_ordinary_path_writing_nothing(
    tmp_path: Path, standin: StandIn
) -> None:
    world = standin.defaults
    assert world is not None
    clock = clock_at(OPENS - timedelta(seconds=1))
    offline, post, _ = await checkin_ready(tmp_path, standin, clock)
    try:
        clock.set(WEEK1 + timedelta(hours=2))  # the session ended an hour ago
        press = await standin.click(post, button_id(post), user_id=world.member_user_id, locale="en-US")
        answer = await press.wait_reply(timeout=10)
        assert answer.ephemeral and answer.content.startswith("⚠️")
        assert fast_path(offline).answered == 0  # refused: the fast path handed it to the ordinary one
        async with offline.runtime.sessionmaker() as session:
            assert list((await session.execute(select(db.Attendance))).scalars()) == []
    finally:
        await offline.stop()


async def test_a_press_waits_while_a_command_is_being_answered_and_is_answered_right_after(
    tmp_path: Path, standin: StandIn
) -> None:
    world = standin.defaults
    assert world is not None
    offline, post, _ = await checkin_ready(tmp_path, standin, clock_at(OPENS - timedelta(seconds=1)))
    front = foreground()  # the event loop's, shared by the bot and this test
    front.timings = []
    try:
        # A real command opens in the foreground as its gateway event is parsed and closes as its answer leaves.
        week = await standin.invoke("week", {}, locale="ko")
        assert (await week.wait_response(timeout=10)).accepted
        assert [name for name, _ in front.timings] == ["week"] and not front.busy()

        # A command still being answered (held open here for as long as the test needs) goes first.
        front.max_wait = 60
        front.begin("a-command-being-answered", "attendance")
        waited = front.waited
        press = await standin.click(post, button_id(post), user_id=world.member_user_id, locale="en-US")
        await standin.wait_until(lambda: front.waited > waited, timeout=10)  # the press queued behind it
        await asyncio.sleep(0.05)
        assert press.callbacks == []
        front.end("a-command-being-answered")
        answer = await press.wait_response(timeout=10)
        assert answer.accepted and answer.ephemeral and "present" in (answer.content or "")
        assert fast_path(offline).answered == 1
    finally:
        front.max_wait, front.timings = front.MAX_WAIT, None
        await offline.stop()
