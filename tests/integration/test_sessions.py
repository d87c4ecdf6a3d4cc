"""Moving sessions: a move must change something, must not land on another session's time, and a refused
move writes nothing — on both databases, and when two admins move sessions onto one slot at the same time."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time

import pytest
from sqlalchemy import func, select

from bot.core.schedule import build_schedule, session_on
from bot.db import models as db
from bot.errors import UserError
from bot.runtime import Runtime
from bot.services.base import Actor
from tests.conftest import ADMIN, GUILD_ID

WEEK2 = date(2026, 12, 10)  # Thursdays, 09:00–10:00 Asia/Seoul (00:00–01:00 UTC)
WEEK3 = date(2026, 12, 17)
WEEK4 = date(2026, 12, 24)
CO_ADMIN = Actor(700000000000000002, "co-leader#0002")


async def stored(rt: Runtime) -> tuple[int, int, int]:
    """(session-change rows, audit rows, study revision): what a refused edit must leave as it was."""
    async with rt.sessionmaker() as session:
        changes = (await session.execute(select(func.count()).select_from(db.SessionChange))).scalar_one()
        audits = (await session.execute(select(func.count()).select_from(db.AuditEntry))).scalar_one()
        revision = (await session.execute(select(db.Study.revision))).scalar_one()
    return int(changes), int(audits), int(revision)


async def move(rt: Runtime, day: date, new_day: date, new_time: time | None = None, actor: Actor = ADMIN) -> datetime:
    return await rt.services.sessions.move(guild_id=GUILD_ID, actor=actor, day=day, new_day=new_day, new_time=new_time)


async def refused(rt: Runtime, day: date, new_day: date, new_time: time | None = None) -> UserError:
    before = await stored(rt)
    with pytest.raises(UserError) as caught:
        await move(rt, day, new_day, new_time)
    assert await stored(rt) == before, "a refused move wrote something"
    return caught.value


def start_of(rt: Runtime, day: date) -> datetime:
    snap = rt.directory.by_guild(GUILD_ID)
    assert snap is not None
    found = session_on(build_schedule(snap.recurrence, snap.changes, snap.week_count), day)
    assert found is not None
    return found.start


async def test_moving_week_3_onto_week_2s_slot_is_refused_as_a_clash(runtime: Runtime) -> None:
    error = await refused(runtime, WEEK3, WEEK2)

    assert error.key == "session.move_clash"
    assert error.params["week"] == 2
    assert error.params["other"] == f"<t:{int(datetime(2026, 12, 10, 0, 0, tzinfo=UTC).timestamp())}:F>"


async def test_a_move_that_overlaps_part_of_another_session_is_a_clash(runtime: Runtime) -> None:
    assert (await refused(runtime, WEEK3, WEEK2, time(9, 30))).key == "session.move_clash"
    assert (await refused(runtime, WEEK3, WEEK2, time(8, 1))).key == "session.move_clash"


async def test_a_move_right_after_another_session_is_accepted(runtime: Runtime) -> None:
    moved_to = await move(runtime, WEEK3, WEEK2, time(10, 0))

    assert start_of(runtime, WEEK3) == moved_to == datetime(2026, 12, 10, 1, 0, tzinfo=UTC)


async def test_moving_a_session_to_its_own_time_is_refused_as_no_change(runtime: Runtime) -> None:
    assert (await refused(runtime, WEEK3, WEEK3)).key == "session.move_no_change"
    await move(runtime, WEEK3, date(2026, 12, 18))
    assert (await refused(runtime, WEEK3, date(2026, 12, 18))).key == "session.move_no_change"


async def test_moving_back_to_the_usual_time_points_to_restore(runtime: Runtime) -> None:
    await move(runtime, WEEK3, date(2026, 12, 18))

    assert (await refused(runtime, WEEK3, WEEK3, time(9, 0))).key == "session.move_to_usual"


async def test_a_cancelled_session_does_not_block_its_slot(runtime: Runtime) -> None:
    await runtime.services.sessions.cancel(guild_id=GUILD_ID, actor=ADMIN, day=WEEK2)

    moved_to = await move(runtime, WEEK3, WEEK2)

    assert moved_to == datetime(2026, 12, 10, 0, 0, tzinfo=UTC)
    assert start_of(runtime, WEEK3) == moved_to


async def test_a_moved_session_blocks_its_new_slot(runtime: Runtime) -> None:
    await move(runtime, WEEK3, date(2026, 12, 19))

    error = await refused(runtime, WEEK4, date(2026, 12, 19), time(9, 59))

    assert error.key == "session.move_clash" and error.params["week"] == 3


async def test_two_admins_moving_sessions_onto_one_slot_at_once_move_one(runtime: Runtime) -> None:
    target = date(2026, 12, 19)

    results = await asyncio.gather(
        move(runtime, WEEK3, target), move(runtime, WEEK4, target, actor=CO_ADMIN), return_exceptions=True
    )

    errors = [r for r in results if isinstance(r, BaseException)]
    assert len(errors) == 1 and isinstance(errors[0], UserError), results
    assert errors[0].key == "session.move_clash"
    snap = runtime.directory.by_guild(GUILD_ID)
    assert snap is not None
    assert sum(1 for c in snap.changes if c.moved_to is not None) == 1


async def test_restoring_a_session_onto_one_moved_into_its_slot_is_refused(runtime: Runtime) -> None:
    await runtime.services.sessions.cancel(guild_id=GUILD_ID, actor=ADMIN, day=WEEK2)
    await move(runtime, WEEK3, WEEK2)  # week 2's slot is free while it is cancelled
    before = await stored(runtime)

    with pytest.raises(UserError) as caught:
        await runtime.services.sessions.restore(guild_id=GUILD_ID, actor=ADMIN, day=WEEK2)

    assert caught.value.key == "session.restore_clash"
    assert await stored(runtime) == before


async def test_restoring_a_moved_session_whose_slot_was_taken_is_refused(runtime: Runtime) -> None:
    await move(runtime, WEEK3, date(2026, 12, 18))
    await move(runtime, WEEK4, WEEK3)

    with pytest.raises(UserError) as caught:
        await runtime.services.sessions.restore(guild_id=GUILD_ID, actor=ADMIN, day=WEEK3)

    assert caught.value.key == "session.restore_clash" and caught.value.params["week"] == 4
    await runtime.services.sessions.restore(guild_id=GUILD_ID, actor=ADMIN, day=WEEK4)
    await runtime.services.sessions.restore(guild_id=GUILD_ID, actor=ADMIN, day=WEEK3)  # now its slot is free
