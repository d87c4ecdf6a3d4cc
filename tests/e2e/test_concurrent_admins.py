"""Two admins firing the same edit at the same moment through Discord, on SQLite and on PostgreSQL: one edit
lands, the other admin is told — in their own language — that it already happened; never a second removal,
a duplicate row or the "unexpected error" apology."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.db import models as db
from bot.offline import OfflineBot
from standin import InteractionHandle, MessageRecord, StandIn

pytestmark = pytest.mark.e2e


async def count(offline: OfflineBot, model: type[db.Base], **where: object) -> int:
    async with offline.runtime.sessionmaker() as session:
        query = select(func.count()).select_from(model).filter_by(**where)
        return int((await session.execute(query)).scalar_one())


async def at_once(
    standin: StandIn, command: str, options: dict[str, Any], admins: list[tuple[int, str]]
) -> list[MessageRecord]:
    """Dispatch the command for every (user, locale) before waiting for any answer."""
    handles: list[InteractionHandle] = [
        await standin.invoke(command, options, user_id=user, locale=locale) for user, locale in admins
    ]
    replies = await asyncio.gather(*(h.wait_reply(timeout=15) for h in handles))
    for reply in replies:
        assert reply.ephemeral and reply.pings.nobody
        assert not reply.content.startswith("😵"), reply.content  # never the unexpected-error apology
    return replies


def admins_of(standin: StandIn) -> list[tuple[int, str]]:
    world = standin.defaults
    assert world is not None
    co_admin = standin.add_member(world.guild_id, name="co-admin", admin=True)
    return [(world.admin_user_id, "ko"), (co_admin, "en-US")]


def refusal(replies: list[MessageRecord], admins: list[tuple[int, str]], ko: str, en: str) -> None:
    """Exactly one reply confirms; the other is the refusal in that admin's language."""
    refused = [(r, locale) for r, (_, locale) in zip(replies, admins, strict=True) if r.content.startswith("⚠️")]
    assert len(refused) == 1, [r.content for r in replies]
    reply, locale = refused[0]
    assert (ko if locale == "ko" else en) in reply.content, reply.content


async def test_two_admins_removing_the_same_material_remove_exactly_one(running_on_each_database: OfflineBot) -> None:
    offline = running_on_each_database
    admins = admins_of(offline.standin)
    for _ in range(3):
        snap = offline.runtime.directory.by_guild(offline.standin.defaults.guild_id)  # type: ignore[union-attr]
        assert snap is not None
        week = snap.week(2)
        assert week is not None
        target, others = week.materials[0], [m.id for m in week.materials[1:]]
        audits = await count(offline, db.AuditEntry)
        replies = await at_once(
            offline.standin, "admin curriculum remove-material", {"week": 2, "item": f"id:{target.id}"}, admins
        )
        refusal(replies, admins, ko="그 자료는 이미 없습니다", en="That material is no longer there")
        assert await count(offline, db.Material, id=target.id) == 0
        assert all([await count(offline, db.Material, id=m) == 1 for m in others])
        assert await count(offline, db.AuditEntry) == audits + 1


async def test_two_admins_adding_the_same_member_add_exactly_one(running_on_each_database: OfflineBot) -> None:
    offline = running_on_each_database
    admins = admins_of(offline.standin)
    for name in ("동시추가", "동시추가둘", "동시추가셋"):
        audits = await count(offline, db.AuditEntry)
        replies = await at_once(offline.standin, "admin roster add", {"name": name}, admins)
        refusal(
            replies, admins, ko=f"**{name}**이라는 참여자가 이미 있습니다", en=f"already a member called **{name}**"
        )
        assert await count(offline, db.Member, name=name) == 1
        assert await count(offline, db.AuditEntry) == audits + 1
