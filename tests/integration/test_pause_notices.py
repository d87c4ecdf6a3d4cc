"""Pausing reminders holds reminders, never the news that a session is off: a cancel notice that falls due
while paused goes out on time (and after a crash), the reminders due meanwhile are recorded as skipped."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from bot.clock import FrozenClock
from bot.delivery.plan import CANCEL_NOTICE
from bot.delivery.runner import QueuedSend, ReminderRunner
from bot.runtime import Runtime
from tests.conftest import ADMIN, GUILD_ID
from tests.integration.test_ledger import ChannelLog, run_until_idle, runner_for

WEEK2 = date(2026, 12, 10)
WEEK2_START = datetime(2026, 12, 10, 0, 0, tzinfo=UTC)  # Thursday 09:00 KST
NOTICE_DUE = WEEK2_START - timedelta(days=1)  # when its first reminder (1d) would have gone


async def cancel_week_2_and_pause(runtime: Runtime) -> None:
    await runtime.services.sessions.cancel(guild_id=GUILD_ID, actor=ADMIN, day=WEEK2, reason="연말")
    await runtime.services.settings.set_paused(guild_id=GUILD_ID, actor=ADMIN, paused=True)


async def test_a_cancel_notice_due_while_paused_is_posted_on_time(runtime: Runtime, clock: FrozenClock) -> None:
    await cancel_week_2_and_pause(runtime)
    channel = ChannelLog()
    runner = runner_for(runtime, clock, channel)
    clock.set(NOTICE_DUE + timedelta(seconds=5))

    await run_until_idle(runner)

    [(_, _, notice)] = channel.messages
    assert "취소" in notice.content
    rows = {(row.occurrence, row.kind): row for row in await runner.ledger.all()}
    assert rows[(WEEK2_START, CANCEL_NOTICE)].status == "sent"
    assert {row.status for key, row in rows.items() if key[1] != CANCEL_NOTICE} == {"missed"}


async def test_reminders_due_while_paused_are_not_sent_after_resume(runtime: Runtime, clock: FrozenClock) -> None:
    await runtime.services.settings.set_paused(guild_id=GUILD_ID, actor=ADMIN, paused=True)
    channel = ChannelLog()
    clock.set(datetime(2026, 12, 2, 0, 0, 5, tzinfo=UTC))  # week 1's 1-day reminder is due
    await run_until_idle(runner_for(runtime, clock, channel))
    await runtime.services.settings.set_paused(guild_id=GUILD_ID, actor=ADMIN, paused=False)

    await run_until_idle(runner_for(runtime, clock, channel))

    assert channel.messages == []
    [row] = await runner_for(runtime, clock, channel).ledger.all()
    assert (row.kind, row.status, row.last_error) == ("remind:1440", "missed", "reminders paused")


async def test_a_cancel_notice_claimed_before_a_crash_is_sent_after_restart_while_paused(
    runtime: Runtime, clock: FrozenClock
) -> None:
    await cancel_week_2_and_pause(runtime)
    channel = ChannelLog()
    crashed = runner_for(runtime, clock, channel)
    clock.set(NOTICE_DUE + timedelta(seconds=5))
    snap = runtime.directory.by_guild(GUILD_ID)
    assert snap is not None
    [notice] = [p for p in crashed.plan(snap, since=NOTICE_DUE, until=clock.now()) if p.is_cancel_notice]
    assert await crashed.ledger.claim(study_id=snap.id, planned=notice, late=False) is not None  # then: crash

    await run_until_idle(runner_for(runtime, clock, channel))

    assert len(channel.messages) == 1
    rows = {row.kind: row.status for row in await crashed.ledger.all() if row.occurrence == WEEK2_START}
    assert rows == {CANCEL_NOTICE: "sent"}


async def test_a_notice_whose_session_has_started_is_not_sent(runtime: Runtime, clock: FrozenClock) -> None:
    await cancel_week_2_and_pause(runtime)
    channel = ChannelLog()
    clock.set(WEEK2_START + timedelta(minutes=1))  # the bot was down from before the notice until the start

    await run_until_idle(runner_for(runtime, clock, channel))

    assert channel.messages == []


async def test_status_while_paused_lists_the_cancel_notice_with_its_week_and_date(
    runtime: Runtime, clock: FrozenClock
) -> None:
    await cancel_week_2_and_pause(runtime)
    runner = runner_for(runtime, clock, ChannelLog())
    snap = runtime.directory.by_guild(GUILD_ID)
    assert snap is not None

    upcoming = await runner.upcoming(snap, 3)
    reply = await runner.status_reply(snap, "ko")

    assert [p.kind for p in upcoming] == [CANCEL_NOTICE]  # reminders are held: not listed as coming
    assert upcoming[0].week == 2
    next_field = reply.embeds[0].fields[0].value
    assert f"<t:{int(WEEK2_START.timestamp())}:D> 모임 취소 안내 (원래 2주차)" in next_field
    assert "-주차" not in next_field


async def test_a_pause_while_sends_wait_in_the_queue_holds_the_reminder_and_posts_the_notice(
    runtime: Runtime, clock: FrozenClock
) -> None:
    await runtime.services.sessions.cancel(guild_id=GUILD_ID, actor=ADMIN, day=WEEK2)
    channel = ChannelLog()
    ledger = runner_for(runtime, clock, channel).ledger
    queued = ReminderRunner(directory=runtime.directory, ledger=ledger, clock=clock, poster=channel, workers=0)
    snap = runtime.directory.by_guild(GUILD_ID)
    assert snap is not None
    week1_1h = datetime(2026, 12, 2, 23, 0, tzinfo=UTC)
    clock.set(week1_1h + timedelta(seconds=5))
    # Week 1's 1-hour reminder and week 2's cancel notice (its due time matters not here) wait in the queue...
    for planned in queued.plan(snap, since=week1_1h, until=NOTICE_DUE + timedelta(seconds=1)):
        row = await ledger.claim(study_id=snap.id, planned=planned, late=False)
        assert row is not None
        await queued.queue.put(QueuedSend(snap.id, row.id, planned, False, row.nonce))
    # ...while an admin pauses.
    await runtime.services.settings.set_paused(guild_id=GUILD_ID, actor=ADMIN, paused=True)

    while not queued.queue.empty():
        await queued._deliver(queued.queue.get_nowait())

    [(_, _, notice)] = channel.messages
    assert "취소" in notice.content
    rows = {row.kind: (row.status, row.last_error) for row in await ledger.all()}
    assert rows == {CANCEL_NOTICE: ("sent", ""), "remind:60": ("missed", "reminders paused")}
