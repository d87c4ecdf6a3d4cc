"""Server events are created claim-first: two processes holding the same study (a rolling restart's overlap)
create each session's event once between them, and a session another process has claimed is left to it until
its claim is recorded or goes stale.

Two `EventSync`s over one database and one bot stand for the two processes (the bot's HTTP client is only how
each talks to Discord); the stand-in is Discord.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import delete, select

from bot.clock import ShiftedClock
from bot.db import models as db
from bot.delivery.event_plan import read_marker
from bot.delivery.server_events import CLAIM_PREFIX, CLAIM_TTL, EventSync
from bot.offline import OfflineBot
from standin import StandIn


def another_process(offline: OfflineBot) -> EventSync:
    offline.bot.reminders.shared = True  # several processes: a claim may be another live process's
    return EventSync(
        bot=offline.bot,
        directory=offline.runtime.directory,
        sessionmaker=offline.runtime.sessionmaker,
        clock=offline.runtime.clock,
        reminders=offline.bot.reminders,
    )


async def fresh_start(offline: OfflineBot, standin: StandIn) -> int:
    """The study's events gone from Discord and from the database, as before anyone synced; its id."""
    world = standin.defaults
    assert world is not None
    await standin.wait_until(lambda: len(standin.scheduled_events(world.guild_id)) == 4, timeout=15)
    for _ in range(1200):  # the bot's own first sync has recorded them all (it must not record one later)
        if len([r for r in await rows(offline) if r.discord_event_id]) == 4:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the bot's first event sync did not record its four events")
    first_sync = offline.bot._event_sync  # the bot's own first sync: over before the test plays two processes
    if first_sync is not None:
        await first_sync
    standin.world.guilds[world.guild_id].scheduled_events.clear()
    async with offline.runtime.sessionmaker() as session, session.begin():
        await session.execute(delete(db.ScheduledEventLink))
    snap = offline.runtime.directory.by_guild(world.guild_id)
    assert snap is not None
    return snap.id


async def rows(offline: OfflineBot) -> list[db.ScheduledEventLink]:
    async with offline.runtime.sessionmaker() as session:
        return list((await session.execute(select(db.ScheduledEventLink))).scalars())


async def test_two_processes_syncing_together_create_each_session_s_event_once(
    running: OfflineBot, standin: StandIn
) -> None:
    world = standin.defaults
    assert world is not None
    study_id = await fresh_start(running, standin)
    first, second = another_process(running), another_process(running)
    await asyncio.gather(first.sync(study_id), second.sync(study_id))
    events = standin.scheduled_events(world.guild_id)
    dates = [read_marker(str(e["description"])) for e in events]
    assert len(events) == 4 and len({d for d in dates if d is not None}) == 4  # four sessions, none twice
    recorded = await rows(running)
    assert sorted(r.discord_event_id for r in recorded) == sorted(int(str(e["id"])) for e in events)


async def test_a_session_claimed_by_another_process_is_left_to_it_until_the_claim_is_stale(
    running: OfflineBot, standin: StandIn, clock: ShiftedClock
) -> None:
    world = standin.defaults
    assert world is not None
    study_id = await fresh_start(running, standin)
    sync = another_process(running)
    snap = running.runtime.directory.by_id(study_id)
    assert snap is not None
    claimed_day = sync.desired(snap)[0].original_date
    async with running.runtime.sessionmaker() as session, session.begin():
        session.add(
            db.ScheduledEventLink(
                study_id=study_id,
                original_date=claimed_day,
                discord_event_id=0,
                fingerprint=CLAIM_PREFIX + clock.now().isoformat(),
            )
        )
    await sync.sync(study_id)
    made = {read_marker(str(e["description"])) for e in standin.scheduled_events(world.guild_id)}
    assert len(made) == 3 and (snap.public_id, claimed_day) not in made  # the claimed session is not created
    assert running.bot.reminders.scheduler.get_job(f"events:again:{study_id}") is not None  # looked at again

    clock.advance(CLAIM_TTL + timedelta(seconds=5))  # its process never recorded it: the claim is stale
    await sync.sync(study_id)
    made = {read_marker(str(e["description"])) for e in standin.scheduled_events(world.guild_id)}
    assert len(made) == 4 and (snap.public_id, claimed_day) in made
    recorded = await rows(running)
    assert len(recorded) == 4 and all(r.discord_event_id for r in recorded)  # the claim became the record
