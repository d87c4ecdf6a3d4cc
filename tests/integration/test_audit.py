"""The audit trail records what changed and nothing else: only the changed fields, and no row — no write at
all, not even the study's revision — for an edit that changes nothing. Settings can clear the admin role."""

from __future__ import annotations

import dataclasses
import json

import pytest
from sqlalchemy import func, select

from bot.core.definition import load_definition
from bot.db import models as db
from bot.errors import UserError
from bot.runtime import Runtime
from bot.services.base import Actor
from bot.services.settings import SettingsChange
from tests.conftest import ADMIN, GUILD_ID, SEED_STUDY

PLACE = "https://app.gather.town/app/AbCdEfGh12345678/pytorch-study-room"


async def trail(rt: Runtime) -> tuple[int, int]:
    """(audit rows, study revision)."""
    async with rt.sessionmaker() as session:
        audits = (await session.execute(select(func.count()).select_from(db.AuditEntry))).scalar_one()
        revision = (await session.execute(select(db.Study.revision))).scalar_one()
    return int(audits), int(revision)


async def latest(rt: Runtime) -> db.AuditEntry:
    async with rt.sessionmaker() as session:
        query = select(db.AuditEntry).order_by(db.AuditEntry.id.desc()).limit(1)
        return (await session.execute(query)).scalar_one()


async def update(rt: Runtime, **fields: object) -> None:
    await rt.services.settings.update(guild_id=GUILD_ID, actor=ADMIN, change=SettingsChange(**fields))  # type: ignore[arg-type]


async def test_a_settings_change_records_only_the_changed_field_in_full(runtime: Runtime) -> None:
    await update(runtime, place_url=PLACE)

    entry = await latest(runtime)
    assert json.loads(entry.before) == {"place_url": "https://app.gather.town/"}
    assert json.loads(entry.after) == {"place_url": PLACE}


async def test_settings_that_change_nothing_write_nothing(runtime: Runtime) -> None:
    await update(runtime, place_url=PLACE)
    before = await trail(runtime)

    with pytest.raises(UserError) as caught:
        await update(runtime, place_url=PLACE, place_name="Gather Town")

    assert caught.value.key == "error.nothing_changed"
    assert await trail(runtime) == before


async def test_a_roster_edit_that_changes_nothing_writes_nothing(runtime: Runtime) -> None:
    await runtime.services.roster.edit(guild_id=GUILD_ID, actor=ADMIN, name="강동연", github="https://github.com/k")
    before = await trail(runtime)

    with pytest.raises(UserError) as caught:
        await runtime.services.roster.edit(guild_id=GUILD_ID, actor=ADMIN, name="강동연", github="https://github.com/k")

    assert caught.value.key == "error.nothing_changed"
    assert await trail(runtime) == before


async def test_an_import_that_keeps_the_counts_is_still_recorded(runtime: Runtime) -> None:
    definition = load_definition(SEED_STUDY)
    renamed = dataclasses.replace(definition, description=definition.description + " (2기)")
    before = await trail(runtime)

    _, changed = await runtime.services.definitions.import_definition(
        guild_id=GUILD_ID, definition=renamed, actor=Actor.cli()
    )

    assert changed
    assert await trail(runtime) == (before[0] + 1, before[1] + 1)


async def test_the_admin_role_can_be_cleared(runtime: Runtime) -> None:
    await update(runtime, admin_role_id=123456789012345678)
    snap = runtime.directory.by_guild(GUILD_ID)
    assert snap is not None and snap.admin_role_id == 123456789012345678

    await update(runtime, clear_admin_role=True)

    snap = runtime.directory.by_guild(GUILD_ID)
    assert snap is not None and snap.admin_role_id is None
    entry = await latest(runtime)
    assert (json.loads(entry.before), json.loads(entry.after)) == (
        {"admin_role": 123456789012345678},
        {"admin_role": None},
    )
    with pytest.raises(UserError, match=r"error\.nothing_changed"):
        await update(runtime, clear_admin_role=True)
