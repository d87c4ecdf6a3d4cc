"""Reminders through the real bot and the stand-in: on time, once, through 429 storms, 5xx bursts and
restarts, pinging the configured role only; cancellations become one notice; events mirror sessions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from bot.clock import ShiftedClock
from bot.db import models as db
from bot.offline import OfflineBot, start_bot, start_offline
from standin import StandIn

WEEK1 = datetime(2026, 12, 3, 0, 0, tzinfo=UTC)  # Thursday 09:00 KST
DAY_BEFORE = WEEK1 - timedelta(days=1)  # the "1d" reminder
MESSAGES = r"/channels/\d+/messages"


def clock_at(moment: datetime) -> ShiftedClock:
    clock = ShiftedClock()
    clock.set(moment)
    return clock


async def deliveries(offline: OfflineBot) -> list[db.Delivery]:
    async with offline.runtime.sessionmaker() as session:
        return list((await session.execute(select(db.Delivery).order_by(db.Delivery.id))).scalars())


async def settled_until(offline: OfflineBot, next_due: datetime) -> None:
    """Wait for the positive signal that the runner is done with everything due so far: its queue is empty
    and the study's next wake-up is armed for `next_due` (so nothing before it is left to send)."""
    runner = offline.bot.reminders
    clock = offline.runtime.clock
    assert isinstance(clock, ShiftedClock)
    study_id = offline.runtime.directory.all()[0].id

    def armed_for_next() -> bool:
        wake = runner.next_wakeup(study_id)
        return wake is not None and abs((wake + clock.offset - next_due).total_seconds()) < 1

    await offline.standin.wait_until(armed_for_next, timeout=10, what=f"next wake-up at {next_due}")
    await runner.drain()


async def test_reminder_posted_once_on_time_pinging_only_the_role(tmp_path: Path, standin: StandIn) -> None:
    world = standin.defaults
    assert world is not None
    offline = await start_offline(tmp_path, standin=standin, clock=clock_at(DAY_BEFORE - timedelta(seconds=1.5)))
    try:
        [message] = await standin.wait_for_messages(world.channel_id, 1, timeout=10)
        assert message.content.startswith(f"<@&{world.study_role_id}> ⏰ 1주차")
        assert message.pings.roles == frozenset({world.study_role_id})
        assert not message.pings.everyone and not message.pings.users
        assert message.nonce and len(message.nonce) <= 25
        embed = message.embeds[0]
        assert embed["title"] == "1주차 · 파이토치(PyTorch) 기본 익히기"
        assert f"<t:{int(WEEK1.timestamp())}:F>" in embed["description"]
        assert "https://app.gather.town/" in embed["description"]
        assert "quickstart_tutorial.html" in embed["fields"][0]["value"]
        await settled_until(offline, WEEK1 - timedelta(hours=1))
        assert len(standin.messages(world.channel_id)) == 1
        [row] = await deliveries(offline)
        assert (row.status, row.kind, row.message_id) == ("sent", "remind:1440", message.id)
        assert row.occurrence == WEEK1
    finally:
        await offline.stop()


async def test_topic_with_everyone_still_pings_only_the_role(tmp_path: Path, standin: StandIn) -> None:
    world = standin.defaults
    assert world is not None
    offline = await start_offline(tmp_path, standin=standin, clock=clock_at(DAY_BEFORE - timedelta(minutes=5)))
    try:
        # Validation refuses mentions typed in Discord, so put one in the database behind its back.
        async with offline.runtime.sessionmaker() as session, session.begin():
            week = (await session.execute(select(db.CurriculumWeek).where(db.CurriculumWeek.number == 1))).scalar_one()
            week.title = "@everyone @here <@&1> <@2> 기본"
        study_id = offline.runtime.directory.all()[0].id
        await offline.runtime.directory.changed(study_id)
        assert isinstance(offline.runtime.clock, ShiftedClock)
        offline.runtime.clock.set(DAY_BEFORE - timedelta(seconds=1))
        await offline.bot.reminders.rearm_all()
        [message] = await standin.wait_for_messages(world.channel_id, 1, timeout=10)
        assert "@everyone" in message.embeds[0]["title"]
        assert message.pings.roles == frozenset({world.study_role_id}) and not message.pings.everyone
        assert message.allowed_mentions is not None
        assert message.allowed_mentions.get("parse") == []
        assert [int(r) for r in message.allowed_mentions.get("roles", [])] == [world.study_role_id]
    finally:
        await offline.stop()


async def test_429_storm_and_5xx_burst_deliver_exactly_once(tmp_path: Path, standin: StandIn) -> None:
    world = standin.defaults
    assert world is not None
    standin.faults.rate_limit("POST", MESSAGES, count=7, retry_after=0.05)  # more than discord.py's 5 tries
    standin.faults.server_error("POST", MESSAGES, count=1, status=500, after_handling=True)  # posted, then 500
    standin.faults.server_error("POST", MESSAGES, count=1, status=502)
    offline = await start_offline(
        tmp_path, standin=standin, clock=clock_at(DAY_BEFORE - timedelta(seconds=1)), backoff_base=0.05
    )
    try:
        await standin.wait_until(lambda: bool(standin.messages(world.channel_id)), timeout=30)
        await offline.bot.reminders.drain()
        assert len(standin.messages(world.channel_id)) == 1
        [row] = await deliveries(offline)
        assert row.status == "sent" and row.attempts >= 2
        assert row.message_id == standin.messages(world.channel_id)[0].id
    finally:
        await offline.stop()


async def test_missing_channel_access_is_recorded_as_failed(tmp_path: Path, standin: StandIn) -> None:
    world = standin.defaults
    assert world is not None
    standin.faults.forbid("POST", MESSAGES)
    offline = await start_offline(tmp_path, standin=standin, clock=clock_at(DAY_BEFORE - timedelta(seconds=1)))
    try:
        await standin.wait_until(
            lambda: bool(standin.requests_to("POST", f"/channels/{world.channel_id}/messages")), timeout=10
        )
        await offline.bot.reminders.drain()
        [row] = await deliveries(offline)
        assert row.status == "failed" and "permission" in row.last_error
        handle = await standin.invoke("admin reminders status", {}, user_id=world.admin_user_id, locale="en-US")
        reply = await handle.wait_reply(timeout=10)
        assert "failed" in reply.embeds[0]["fields"][1]["value"]
    finally:
        await offline.stop()


async def test_downtime_sends_only_the_latest_missed_reminder_late(tmp_path: Path, standin: StandIn) -> None:
    world = standin.defaults
    assert world is not None
    clock = clock_at(DAY_BEFORE - timedelta(hours=2))
    first = await start_offline(tmp_path, standin=standin, clock=clock)
    await first.bot.close()
    await first.runtime.close()
    # Down until 30 minutes before week 1: the 1d reminder was missed, the 1h one is 30 min late.
    clock.set(WEEK1 - timedelta(minutes=30))
    offline = await start_bot(first.config_path, standin=standin, clock=clock)
    try:
        [message] = await standin.wait_for_messages(world.channel_id, 1, timeout=10)
        assert "늦은 알림" in message.content
        await offline.bot.reminders.drain()
        rows = {r.kind: r.status for r in await deliveries(offline)}
        assert rows == {"remind:1440": "missed", "remind:60": "sent"}
    finally:
        await offline.stop()


async def test_cancelled_session_gets_one_notice_and_moved_session_is_reminded_at_new_time(
    tmp_path: Path, standin: StandIn
) -> None:
    world = standin.defaults
    assert world is not None
    clock = clock_at(DAY_BEFORE - timedelta(hours=1))
    offline = await start_offline(tmp_path, standin=standin, clock=clock)
    try:
        handle = await standin.invoke(
            "admin session cancel", {"date": "2026-12-03", "reason": "연말"}, user_id=world.admin_user_id
        )
        await handle.wait_reply(timeout=10)
        handle = await standin.invoke(
            "admin session move",
            {"date": "2026-12-10", "new_date": "2026-12-11", "new_time": "20:00"},
            user_id=world.admin_user_id,
        )
        await handle.wait_reply(timeout=10)
        clock.set(DAY_BEFORE - timedelta(seconds=1))  # the cancel notice is due when the 1d reminder would be
        await offline.bot.reminders.rearm_all()
        [notice] = await standin.wait_for_messages(world.channel_id, 1, timeout=10)
        assert "취소" in notice.content and notice.pings.roles == frozenset({world.study_role_id})
        assert "연말" in notice.embeds[0]["description"]
        moved_start = datetime(2026, 12, 11, 11, 0, tzinfo=UTC)  # 20:00 KST
        assert f"<t:{int(moved_start.timestamp())}:F>" in notice.embeds[0]["description"]
        clock.set(moved_start - timedelta(days=1, seconds=1))  # the moved session's 1d reminder
        await offline.bot.reminders.rearm_all()
        messages = await standin.wait_for_messages(world.channel_id, 2, timeout=10)
        assert messages[1].content.startswith(f"<@&{world.study_role_id}> ⏰ 1주차")
        assert f"<t:{int(moved_start.timestamp())}:F>" in messages[1].embeds[0]["description"]
        await offline.bot.reminders.drain()
        rows = {(r.occurrence, r.kind): r.status for r in await deliveries(offline)}
        assert rows == {(WEEK1, "cancelled"): "sent", (moved_start, "remind:1440"): "sent"}
        assert len(standin.messages(world.channel_id)) == 2
    finally:
        await offline.stop()


async def test_scheduled_events_mirror_the_next_four_sessions(tmp_path: Path, standin: StandIn) -> None:
    world = standin.defaults
    assert world is not None
    offline = await start_offline(tmp_path, standin=standin, clock=clock_at(DAY_BEFORE - timedelta(hours=5)))
    try:
        await standin.wait_until(lambda: len(standin.scheduled_events(world.guild_id)) == 4, timeout=10)
        events = sorted(standin.scheduled_events(world.guild_id), key=lambda e: e["scheduled_start_time"])
        assert events[0]["name"].startswith("1주차")
        assert events[0]["entity_metadata"]["location"] == "https://app.gather.town/"
        handle = await standin.invoke("admin session cancel", {"date": "2026-12-03"}, user_id=world.admin_user_id)
        await handle.wait_reply(timeout=10)
        await standin.wait_until(
            lambda: (
                min(e["scheduled_start_time"] for e in standin.scheduled_events(world.guild_id)).startswith(
                    "2026-12-10"
                )
                and len(standin.scheduled_events(world.guild_id)) == 4
            ),
            timeout=10,
        )
        names = sorted(e["name"] for e in standin.scheduled_events(world.guild_id))
        # Week 1 moved to the 10th; the four events are weeks 1-4 on the four Thursdays after the 3rd.
        assert [n.split(" ")[0] for n in names] == ["1주차", "2주차", "3주차", "4주차"]
        starts = sorted(e["scheduled_start_time"] for e in standin.scheduled_events(world.guild_id))
        assert starts[0].startswith("2026-12-10T00:00:00")
    finally:
        await offline.stop()


async def test_missing_manage_events_is_reported_not_raised(tmp_path: Path, standin: StandIn) -> None:
    world = standin.defaults
    assert world is not None
    standin.set_manage_events(world.guild_id, False)
    offline = await start_offline(tmp_path, standin=standin, clock=clock_at(DAY_BEFORE - timedelta(hours=5)))
    try:
        await standin.wait_until(
            lambda: bool(offline.bot.reminders.problems.of(offline.runtime.directory.all()[0].id)), timeout=10
        )
        handle = await standin.invoke("admin reminders status", {}, user_id=world.admin_user_id, locale="en-US")
        reply = await handle.wait_reply(timeout=10)
        assert "Manage Events" in str(reply.embeds[0]["fields"])
        assert "Week 1" in (await (await standin.invoke("week", {})).wait_reply()).embeds[0]["title"]
    finally:
        await offline.stop()


async def test_restart_after_send_sends_nothing_again(tmp_path: Path, standin: StandIn) -> None:
    world = standin.defaults
    assert world is not None
    clock = clock_at(DAY_BEFORE - timedelta(seconds=1))
    offline = await start_offline(tmp_path, standin=standin, clock=clock)
    await standin.wait_for_messages(world.channel_id, 1, timeout=10)
    await offline.bot.reminders.drain()
    await offline.bot.close()
    await offline.runtime.close()
    again = await start_bot(offline.config_path, standin=standin, clock=clock)
    try:
        await settled_until(again, WEEK1 - timedelta(hours=1))
        assert len(standin.messages(world.channel_id)) == 1
        assert [(r.kind, r.status) for r in await deliveries(again)] == [("remind:1440", "sent")]
    finally:
        await again.stop()
