"""The delivery ledger and runner on a real database: the UNIQUE row is the claim, and a restart at any
point between claim, send and mark ends with exactly one posted reminder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.clock import FrozenClock
from bot.delivery.ledger import DeliveryLedger
from bot.delivery.plan import nonce_for
from bot.delivery.runner import PostError, ReminderRunner, reference_for
from bot.render.embeds import Reply
from bot.runtime import Runtime
from tests.conftest import GUILD_ID


class ChannelLog:
    """A channel that behaves like Discord's for our purposes: a nonce seen before returns the same message."""

    def __init__(self) -> None:
        self.messages: list[tuple[int, str, Reply]] = []  # (id, nonce, reply)
        self.fail_next = 0

    async def post(self, channel_id: int, reply: Reply, *, nonce: str) -> int:
        if self.fail_next:
            self.fail_next -= 1
            raise PostError("Discord answered 503", permanent=False, retry_after=0)
        for message_id, seen, _ in self.messages:
            if seen == nonce:
                return message_id
        message_id = 1000 + len(self.messages)
        self.messages.append((message_id, nonce, reply))
        return message_id

    async def find(self, channel_id: int, marker: str, *, after: datetime | None) -> int | None:
        for message_id, _, reply in self.messages:
            if any(marker in e.footer for e in reply.embeds):
                return message_id
        return None


def runner_for(runtime: Runtime, clock: FrozenClock, channel: ChannelLog) -> ReminderRunner:
    ledger = DeliveryLedger(sessionmaker=runtime.sessionmaker, clock=clock)
    return ReminderRunner(directory=runtime.directory, ledger=ledger, clock=clock, poster=channel, backoff_base=0)


async def run_until_idle(runner: ReminderRunner) -> None:
    """Start the runner (resume + catch-up + arm), let every queued send finish, stop it."""
    await runner.start()
    try:
        await runner.drain()
    finally:
        await runner.stop()


def first_due(runtime: Runtime, runner: ReminderRunner, clock: FrozenClock) -> None:
    snap = runtime.directory.by_guild(GUILD_ID)
    assert snap is not None
    planned = runner.plan(snap, since=clock.now(), until=clock.now() + timedelta(days=7))
    clock.set(planned[0].due + timedelta(seconds=5))


async def test_second_claim_of_the_same_delivery_is_refused(runtime: Runtime, clock: FrozenClock) -> None:
    ledger = DeliveryLedger(sessionmaker=runtime.sessionmaker, clock=clock)
    runner = runner_for(runtime, clock, ChannelLog())
    snap = runtime.directory.by_guild(GUILD_ID)
    assert snap is not None
    planned = runner.plan(snap, since=clock.now(), until=clock.now() + timedelta(days=7))[0]
    first = await ledger.claim(study_id=snap.id, planned=planned, late=False)
    assert first is not None
    assert first.nonce == nonce_for(snap.id, planned.occurrence, planned.kind)
    assert await ledger.claim(study_id=snap.id, planned=planned, late=False) is None
    assert not await ledger.record_missed(study_id=snap.id, planned=planned, reason="x")


async def test_due_reminder_is_sent_once_and_marked(runtime: Runtime, clock: FrozenClock) -> None:
    channel = ChannelLog()
    runner = runner_for(runtime, clock, channel)
    first_due(runtime, runner, clock)
    await runner.start()
    try:
        await runner.drain()
        await runner.run_due(runtime.directory.all()[0].id)  # a second wake-up finds nothing to do
        await runner.drain()
    finally:
        await runner.stop()
    assert len(channel.messages) == 1
    [row] = await runner.ledger.all()
    assert (row.status, row.message_id, row.attempts) == ("sent", channel.messages[0][0], 1)


async def test_crash_between_claim_and_send_sends_once_after_restart(runtime: Runtime, clock: FrozenClock) -> None:
    channel = ChannelLog()
    crashed = runner_for(runtime, clock, channel)
    first_due(runtime, crashed, clock)
    snap = runtime.directory.all()[0]
    planned = crashed.plan(snap, since=clock.now() - timedelta(days=1), until=clock.now())[-1]
    assert await crashed.ledger.claim(study_id=snap.id, planned=planned, late=False) is not None  # then: crash
    restarted = runner_for(runtime, clock, channel)
    await run_until_idle(restarted)
    assert len(channel.messages) == 1
    [row] = await restarted.ledger.all()
    assert row.status == "sent"


async def test_crash_between_send_and_mark_does_not_post_again(runtime: Runtime, clock: FrozenClock) -> None:
    channel = ChannelLog()
    crashed = runner_for(runtime, clock, channel)
    first_due(runtime, crashed, clock)
    snap = runtime.directory.all()[0]
    planned = crashed.plan(snap, since=clock.now() - timedelta(days=1), until=clock.now())[-1]
    row = await crashed.ledger.claim(study_id=snap.id, planned=planned, late=False)
    assert row is not None
    reply = crashed.render(snap, planned, late=False, nonce=row.nonce)
    await channel.post(snap.reminder_channel_id or 0, reply, nonce=row.nonce)  # posted; then: crash
    assert reference_for(row.nonce) in reply.embeds[0].footer
    restarted = runner_for(runtime, clock, channel)
    await run_until_idle(restarted)
    assert len(channel.messages) == 1
    [after] = await restarted.ledger.all()
    assert (after.status, after.message_id) == ("sent", channel.messages[0][0])


async def test_transient_failures_are_retried_and_recorded(runtime: Runtime, clock: FrozenClock) -> None:
    channel = ChannelLog()
    channel.fail_next = 2
    runner = runner_for(runtime, clock, channel)
    first_due(runtime, runner, clock)
    await run_until_idle(runner)
    [row] = await runner.ledger.all()
    assert (row.status, row.attempts) == ("sent", 3)
    assert len(channel.messages) == 1


async def test_paused_study_records_due_reminders_as_missed(runtime: Runtime, clock: FrozenClock) -> None:
    from tests.conftest import ADMIN

    await runtime.services.settings.set_paused(guild_id=GUILD_ID, actor=ADMIN, paused=True)
    channel = ChannelLog()
    runner = runner_for(runtime, clock, channel)
    first_due(runtime, runner, clock)
    await run_until_idle(runner)
    assert channel.messages == []
    [row] = await runner.ledger.all()
    assert (row.status, row.last_error) == ("missed", "reminders paused")
    # The 1-day reminder of week 1 (Thursday 2026-12-03 09:00 KST), recorded rather than dropped silently.
    assert (row.kind, row.due_at) == ("remind:1440", datetime(2026, 12, 2, 0, 0, tzinfo=UTC))
