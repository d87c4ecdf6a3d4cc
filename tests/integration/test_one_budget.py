"""The process's one rate budget as `create_bot` wires it (reminders and server events draw on one gate, at the
shards' share of Discord's global limit), and a start that leaves another process's half-done deliveries to it."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from bot.clock import FrozenClock
from bot.config import Settings
from bot.core.sharding import ShardPlan
from bot.delivery.ledger import DeliveryLedger
from bot.delivery.pacing import PROCESS_RATE
from bot.delivery.runner import ReminderRunner
from bot.runtime import Runtime, create_bot, open_runtime, prepare
from tests.conftest import GUILD_ID
from tests.integration.test_ledger import ChannelLog


@pytest.mark.parametrize(("plan", "share"), [(None, 1.0), (ShardPlan((0, 1, 2), 6), 0.5), (ShardPlan((5,), 8), 0.125)])
async def test_reminders_and_events_share_one_gate_at_the_shards_share(
    runtime: Runtime, plan: ShardPlan | None, share: float
) -> None:
    runtime.settings = replace(runtime.settings, shards=plan)
    bot = create_bot(runtime)  # built, never connected: nothing to close
    assert bot.events.gate is bot.reminders.gate
    assert bot.reminders.gate.rate == pytest.approx(PROCESS_RATE * share)
    assert bot.reminders.shared is (plan is not None)


async def test_a_start_leaves_another_process_s_claimed_delivery_to_its_owner(
    runtime: Runtime, clock: FrozenClock
) -> None:
    """The owner claimed a reminder and is posting it; a process of other shards starting now must neither
    post it nor mark it failed."""
    channel = ChannelLog()
    owner = ReminderRunner(
        directory=runtime.directory,
        ledger=DeliveryLedger(sessionmaker=runtime.sessionmaker, clock=clock),
        clock=clock,
        poster=channel,
        workers=0,  # claims and queues, never sends: the post is "in flight"
        shared=True,
    )
    snap = runtime.directory.by_guild(GUILD_ID)
    assert snap is not None
    planned = owner.plan(snap, since=clock.now(), until=clock.now() + timedelta(days=7))
    clock.set(planned[0].due + timedelta(seconds=5))
    await owner.start()
    await owner.stop()
    [row] = await owner.ledger.unfinished()

    other_shard = (GUILD_ID >> 22) % 4 + 1
    settings = Settings(token="", database_url=runtime.settings.database_url, shards=ShardPlan((other_shard,), 5))
    other = await open_runtime(settings, clock=clock, migrate=False)
    try:
        await prepare(other)
        assert other.directory.by_guild(GUILD_ID) is None  # not this process's server
        runner = ReminderRunner(
            directory=other.directory,
            ledger=DeliveryLedger(sessionmaker=other.sessionmaker, clock=clock),
            clock=clock,
            poster=channel,
            shared=True,
        )
        await runner.start()
        await runner.drain()
        await runner.stop()
    finally:
        await other.close()
    [after] = await owner.ledger.unfinished()
    assert (after.id, after.status) == (row.id, "claimed")  # still the owner's to finish
    assert channel.messages == []
