"""Resuming a half-done delivery after Discord has forgotten its nonce: the channel history check is what
prevents a duplicate. The test channel here dedupes nonces only for a few minutes, as Discord does."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.clock import FrozenClock
from bot.delivery.ledger import DeliveryLedger
from bot.delivery.runner import PostError, ReminderRunner
from bot.render.embeds import Reply
from bot.runtime import Runtime
from tests.integration.test_ledger import first_due, run_until_idle

NONCE_WINDOW = timedelta(minutes=5)


class WindowedChannel:
    """A channel whose nonce dedupe lasts NONCE_WINDOW on the test's clock; history can be made unreadable."""

    def __init__(self, clock: FrozenClock) -> None:
        self.clock = clock
        self.messages: list[tuple[int, str, Reply]] = []
        self.posted_at: dict[int, datetime] = {}
        self.history_readable = True
        self.posts = 0

    async def post(self, channel_id: int, reply: Reply, *, nonce: str) -> int:
        self.posts += 1
        now = self.clock.now()
        for message_id, seen, _ in self.messages:
            if seen == nonce and now - self.posted_at[message_id] <= NONCE_WINDOW:
                return message_id
        message_id = 1000 + len(self.messages)
        self.messages.append((message_id, nonce, reply))
        self.posted_at[message_id] = now
        return message_id

    async def find(self, channel_id: int, marker: str, *, after: datetime | None) -> int | None:
        if not self.history_readable:
            raise PostError("could not read history: 403 Missing Access", permanent=True)
        for message_id, _, reply in self.messages:
            if any(marker in e.footer for e in reply.embeds):
                return message_id
        return None


def runner_for(runtime: Runtime, clock: FrozenClock, channel: WindowedChannel) -> ReminderRunner:
    ledger = DeliveryLedger(sessionmaker=runtime.sessionmaker, clock=clock)
    return ReminderRunner(directory=runtime.directory, ledger=ledger, clock=clock, poster=channel, backoff_base=0)


async def crash_after_posting(runtime: Runtime, clock: FrozenClock, channel: WindowedChannel) -> int:
    """Claim the first due reminder and post it, then stop as a kill would: the row stays `claimed`."""
    crashed = runner_for(runtime, clock, channel)
    first_due(runtime, crashed, clock)
    snap = runtime.directory.all()[0]
    planned = crashed.plan(snap, since=clock.now() - timedelta(days=1), until=clock.now())[-1]
    row = await crashed.ledger.claim(study_id=snap.id, planned=planned, late=False)
    assert row is not None
    reply = crashed.render(snap, planned, late=False, nonce=row.nonce)
    return await channel.post(snap.reminder_channel_id or 0, reply, nonce=row.nonce)


async def test_restart_after_the_nonce_window_marks_the_posted_reminder_sent(
    runtime: Runtime, clock: FrozenClock
) -> None:
    channel = WindowedChannel(clock)
    posted = await crash_after_posting(runtime, clock, channel)
    clock.advance(NONCE_WINDOW + timedelta(minutes=5))  # down longer than Discord remembers the nonce
    restarted = runner_for(runtime, clock, channel)
    await run_until_idle(restarted)
    assert [m[0] for m in channel.messages] == [posted]
    assert channel.posts == 1  # found in history: not even a resend with the same nonce
    [row] = await restarted.ledger.all()
    assert (row.status, row.message_id) == ("sent", posted)


async def test_restart_inside_the_window_without_history_relies_on_the_nonce(
    runtime: Runtime, clock: FrozenClock
) -> None:
    channel = WindowedChannel(clock)
    posted = await crash_after_posting(runtime, clock, channel)
    channel.history_readable = False
    clock.advance(timedelta(minutes=1))
    restarted = runner_for(runtime, clock, channel)
    await run_until_idle(restarted)
    assert [m[0] for m in channel.messages] == [posted]
    [row] = await restarted.ledger.all()
    assert (row.status, row.message_id) == ("sent", posted)
