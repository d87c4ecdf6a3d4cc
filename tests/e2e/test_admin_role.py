"""The admin check's role path, end to end: a member without Manage Server but with the study's admin role
may use /admin; once the role is taken away, they may not.

Discord shows `/admin` only to Manage Server unless the server owner grants it to a role in the server's
integration settings; the stand-in lets anyone invoke it, which is exactly that override — so the check
inside every subcommand is what decides.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from bot.db import models as db
from bot.offline import OfflineBot
from standin import MessageRecord, Perm, StandIn

pytestmark = pytest.mark.e2e


async def ask(standin: StandIn, command: str, options: dict[str, Any], *, user: int) -> MessageRecord:
    handle = await standin.invoke(command, options, user_id=user, locale="ko")
    reply = await handle.wait_reply(timeout=10)
    assert reply.ephemeral and reply.pings.nobody
    return reply


async def members_named(offline: OfflineBot, name: str) -> int:
    async with offline.runtime.sessionmaker() as session:
        query = select(func.count()).select_from(db.Member).filter_by(name=name)
        return int((await session.execute(query)).scalar_one())


async def test_the_study_admin_role_grants_admin_until_it_is_removed(running: OfflineBot) -> None:
    standin = running.standin
    world = standin.defaults
    assert world is not None
    leads = standin.add_role(world.guild_id, "Study Leads")
    lead = standin.add_member(world.guild_id, name="lead", roles=[world.study_role_id, leads])
    guild = standin.world.guilds[world.guild_id]
    assert not standin.world.permissions(guild, lead) & (Perm.MANAGE_GUILD | Perm.ADMINISTRATOR)

    refused = await ask(standin, "admin roster add", {"name": "역할로추가"}, user=lead)
    assert refused.content.startswith("⚠️") and "관리자만" in refused.content

    set_role = await ask(standin, "admin settings", {"admin_role": leads}, user=world.admin_user_id)
    assert not set_role.content.startswith("⚠️"), set_role.content
    snap = running.runtime.directory.by_guild(world.guild_id)
    assert snap is not None and snap.admin_role_id == leads

    done = await ask(standin, "admin roster add", {"name": "역할로추가"}, user=lead)
    assert not done.content.startswith("⚠️"), done.content
    assert await members_named(running, "역할로추가") == 1
    async with running.runtime.sessionmaker() as session:
        latest = (await session.execute(select(db.AuditEntry).order_by(db.AuditEntry.id.desc()))).scalars().first()
    assert latest is not None and (latest.action, latest.actor_id) == ("roster.add", lead)

    standin.set_member_roles(world.guild_id, lead, [world.study_role_id])
    again = await ask(standin, "admin roster remove", {"name": "역할로추가"}, user=lead)
    assert again.content.startswith("⚠️") and "관리자만" in again.content
    assert await members_named(running, "역할로추가") == 1
