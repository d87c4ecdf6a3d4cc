"""Reminders follow edits made while they wait: a queued reminder for a session that was then cancelled,
moved or paused is not posted; a moved-then-cancelled session still gets its notice; a crash leaves at most
one (late) reminder; edits made by another process are picked up."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from bot.clock import FrozenClock
from bot.core.schedule import build_schedule
from bot.delivery.runner import PostError
from bot.errors import UserError
from bot.render.embeds import Reply
from bot.runtime import Runtime, open_runtime
from bot.services.settings import SettingsChange
from tests.conftest import ADMIN, GUILD_ID
from tests.integration.test_ledger import ChannelLog, run_until_idle, runner_for

WEEK1 = datetime(2026, 12, 3, 0, 0, tzinfo=UTC)


class FlakyChannel(ChannelLog):
    """Fails the first post and lets the test change the study before the retry."""

    def __init__(self, runtime: Runtime, change: str) -> None:
        super().__init__()
        self.runtime = runtime
        self.change = change

    async def post(self, channel_id: int, reply: Reply, *, nonce: str) -> int:
        if self.change:
            change, self.change = self.change, ""
            services = self.runtime.services
            if change == "cancel":
                await services.sessions.cancel(guild_id=GUILD_ID, actor=ADMIN, day=date(2026, 12, 3))
            elif change == "move":
                await services.sessions.move(
                    guild_id=GUILD_ID, actor=ADMIN, day=date(2026, 12, 3), new_day=date(2026, 12, 4)
                )
            else:
                await services.settings.set_paused(guild_id=GUILD_ID, actor=ADMIN, paused=True)
            raise PostError("Discord answered 503", permanent=False, retry_after=0)
        return await super().post(channel_id, reply, nonce=nonce)


@pytest.mark.parametrize("change", ["cancel", "move", "pause"])
async def test_reminder_waiting_for_a_retry_is_dropped_when_its_session_changes(
    runtime: Runtime, clock: FrozenClock, change: str
) -> None:
    channel = FlakyChannel(runtime, change)
    runner = runner_for(runtime, clock, channel)
    clock.set(WEEK1 - timedelta(days=1) + timedelta(seconds=5))
    await run_until_idle(runner)
    reminders_for_week1 = [r for _, _, r in channel.messages if "1주차" in r.content and "⏰" in r.content]
    assert reminders_for_week1 == []
    rows = {(r.occurrence, r.kind): r.status for r in await runner.ledger.all()}
    assert rows[(WEEK1, "remind:1440")] == "missed"


async def test_moved_then_cancelled_session_still_gets_its_notice(runtime: Runtime, clock: FrozenClock) -> None:
    moved = await runtime.services.sessions.move(
        guild_id=GUILD_ID, actor=ADMIN, day=date(2026, 12, 3), new_day=date(2026, 12, 5), new_time=time(9, 0)
    )
    await runtime.services.sessions.cancel(guild_id=GUILD_ID, actor=ADMIN, day=date(2026, 12, 3))
    snap = runtime.directory.by_guild(GUILD_ID)
    assert snap is not None
    first = build_schedule(snap.recurrence, snap.changes, snap.week_count)[0]
    assert first.cancelled
    assert first.start == moved  # the time members were last told about
    channel = ChannelLog()
    runner = runner_for(runtime, clock, channel)
    clock.set(moved - timedelta(days=1) + timedelta(seconds=5))
    await run_until_idle(runner)
    assert len(channel.messages) == 1
    assert "취소" in channel.messages[0][2].content


async def test_crash_then_restart_near_the_session_sends_only_the_latest_reminder_late(
    runtime: Runtime, clock: FrozenClock
) -> None:
    channel = ChannelLog()
    crashed = runner_for(runtime, clock, channel)
    clock.set(WEEK1 - timedelta(days=1) + timedelta(seconds=5))
    snap = runtime.directory.all()[0]
    day_before = crashed.plan(snap, since=clock.now() - timedelta(minutes=1), until=clock.now())[0]
    assert await crashed.ledger.claim(study_id=snap.id, planned=day_before, late=False) is not None  # crash
    clock.set(WEEK1 - timedelta(minutes=30))
    restarted = runner_for(runtime, clock, channel)
    await run_until_idle(restarted)
    assert len(channel.messages) == 1
    assert "늦은 알림" in channel.messages[0][2].content
    rows = {r.kind: r.status for r in await restarted.ledger.all()}
    assert rows == {"remind:1440": "missed", "remind:60": "sent"}


async def test_weekday_change_is_refused_while_upcoming_sessions_are_changed(runtime: Runtime) -> None:
    await runtime.services.sessions.cancel(guild_id=GUILD_ID, actor=ADMIN, day=date(2026, 12, 10))
    with pytest.raises(UserError) as info:
        await runtime.services.settings.update(guild_id=GUILD_ID, actor=ADMIN, change=SettingsChange(weekday=4))
    assert info.value.key == "settings.weekday_has_changes"
    await runtime.services.sessions.restore(guild_id=GUILD_ID, actor=ADMIN, day=date(2026, 12, 10))
    await runtime.services.settings.update(guild_id=GUILD_ID, actor=ADMIN, change=SettingsChange(weekday=4))
    snap = runtime.directory.by_guild(GUILD_ID)
    assert snap is not None
    assert build_schedule(snap.recurrence, snap.changes, snap.week_count)[0].original_date == date(2026, 12, 4)


async def test_writes_from_another_process_are_picked_up(runtime: Runtime, clock: FrozenClock, db_url: str) -> None:
    from bot.config import Settings

    other = await open_runtime(Settings(token="", database_url=db_url), clock=clock)
    try:
        await other.directory.load_all()
        clock.advance(timedelta(minutes=1))
        await other.services.roster.add(guild_id=GUILD_ID, actor=ADMIN, name="새멤버")
    finally:
        await other.close()
    snap = runtime.directory.by_guild(GUILD_ID)
    assert snap is not None and all(m.name != "새멤버" for m in snap.members)
    changed = await runtime.directory.reload_changed()
    assert changed == [snap.id]
    snap = runtime.directory.by_guild(GUILD_ID)
    assert snap is not None and any(m.name == "새멤버" for m in snap.members)
    assert await runtime.directory.reload_changed() == []
