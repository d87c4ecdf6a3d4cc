"""Two leaders at once: concurrent edits of one study, from one process and from two, on both databases.

Each "process" is a runtime of its own (engine, connection pool, snapshot directory) on the same database,
so only the database's own locking can keep the edits apart — an in-process lock would not.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from bot.clock import FrozenClock
from bot.config import Settings
from bot.db import models as db
from bot.errors import UserError
from bot.runtime import Runtime, open_runtime
from bot.services.base import Actor
from tests.conftest import GUILD_ID

OTHER_ADMIN = Actor(700000000000000002, "co-leader#0002")


@pytest.fixture
async def second(runtime: Runtime, db_url: str, clock: FrozenClock) -> AsyncIterator[Runtime]:
    """A second process's runtime on the same database."""
    rt = await open_runtime(Settings(token="", database_url=db_url), clock=clock)
    await rt.directory.load_all()
    try:
        yield rt
    finally:
        await rt.close()


async def count(rt: Runtime, model: type[db.Base], **where: object) -> int:
    async with rt.sessionmaker() as session:
        query = select(func.count()).select_from(model).filter_by(**where)
        return int((await session.execute(query)).scalar_one())


async def outcomes(*calls: object) -> list[object]:
    return await asyncio.gather(*calls, return_exceptions=True)  # type: ignore[arg-type]


def keys(results: list[object]) -> list[str]:
    """ "ok" for a success, the message key for a user error; anything else fails the test."""
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, UserError):
            raise result
    return sorted(r.key if isinstance(r, UserError) else "ok" for r in results)


async def test_two_processes_removing_the_same_material_remove_one(runtime: Runtime, second: Runtime) -> None:
    for _ in range(3):
        await runtime.directory.reload_changed()  # the other process may have made the last removal
        snap = runtime.directory.by_guild(GUILD_ID)
        assert snap is not None
        week = snap.week(2)
        assert week is not None and len(week.materials) >= 2
        first, survivor = week.materials[0], week.materials[1]
        audits = await count(runtime, db.AuditEntry)
        results = await outcomes(
            runtime.services.curriculum.remove_material(guild_id=GUILD_ID, actor=Actor.cli(), material_id=first.id),
            second.services.curriculum.remove_material(guild_id=GUILD_ID, actor=OTHER_ADMIN, material_id=first.id),
        )
        assert keys(results) == [
            "curriculum.material_gone",
            "ok",
        ]
        assert await count(runtime, db.Material, id=survivor.id) == 1
        assert await count(runtime, db.Material, id=first.id) == 0
        assert await count(runtime, db.AuditEntry) == audits + 1


async def test_two_processes_adding_the_same_member_get_one_member_and_a_clear_refusal(
    runtime: Runtime, second: Runtime
) -> None:
    results = await outcomes(
        runtime.services.roster.add(guild_id=GUILD_ID, actor=Actor.cli(), name="동시추가"),
        second.services.roster.add(guild_id=GUILD_ID, actor=OTHER_ADMIN, name="동시추가"),
    )
    assert keys(results) == ["ok", "roster.duplicate"]
    assert await count(runtime, db.Member, name="동시추가") == 1


async def test_many_concurrent_adds_in_one_process_each_land_once(runtime: Runtime) -> None:
    names = [f"멤버{i}" for i in range(8)]
    results = await outcomes(
        *(runtime.services.roster.add(guild_id=GUILD_ID, actor=Actor.cli(), name=n) for n in names + names)
    )
    assert keys(results) == ["ok"] * 8 + ["roster.duplicate"] * 8
    snap = runtime.directory.by_guild(GUILD_ID)
    assert snap is not None and all(any(m.name == n for m in snap.members) for n in names)


async def test_an_edit_in_one_process_does_not_leave_the_other_stale_after_reload(
    runtime: Runtime, second: Runtime
) -> None:
    await runtime.services.roster.add(guild_id=GUILD_ID, actor=Actor.cli(), name="새멤버")
    snap = runtime.directory.by_guild(GUILD_ID)
    assert snap is not None and any(m.name == "새멤버" for m in snap.members)
    assert await second.directory.reload_changed() == [snap.id]
    other = second.directory.by_guild(GUILD_ID)
    assert other is not None and any(m.name == "새멤버" for m in other.members)
