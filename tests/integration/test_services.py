"""Services on a real, Alembic-migrated SQLite file: every admin edit is one transaction with an audit row,
and every refused edit writes nothing."""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.core.definition import dump_definition, load_definition, parse_definition
from bot.core.schedule import build_schedule
from bot.db import models as db
from bot.errors import UserError
from bot.runtime import Runtime
from bot.services.base import Actor
from bot.services.settings import SettingsChange
from tests.conftest import ADMIN, GUILD_ID, SEED_STUDY


async def counts(rt: Runtime) -> dict[str, int]:
    result: dict[str, int] = {}
    async with rt.sessionmaker() as session:
        for model in (db.Member, db.CurriculumWeek, db.Material, db.SessionChange, db.AuditEntry, db.Study):
            result[model.__tablename__] = int(
                (await session.execute(select(func.count()).select_from(model))).scalar_one()
            )
    return result


async def latest_audit(rt: Runtime) -> db.AuditEntry:
    async with rt.sessionmaker() as session:
        row = (await session.execute(select(db.AuditEntry).order_by(db.AuditEntry.id.desc()).limit(1))).scalar_one()
    return row


async def test_seed_import_creates_the_study(runtime: Runtime) -> None:
    snap = runtime.directory.by_guild(GUILD_ID)
    assert snap is not None
    assert snap.name == "죽되밥되 파이토치 스터디"
    assert len(snap.members) == 10
    assert [m.name for m in snap.members if m.role == "leader"] == ["차수연"]
    assert snap.week_count == 9
    assert snap.recurrence.weekday == 3 and snap.recurrence.start_time == time(9, 0)
    assert snap.place.name == "Gather Town"
    assert snap.reminder_offsets == (timedelta(days=1), timedelta(hours=1))
    assert any("boostcourse.org/ai214" in r.url for r in snap.resources)


async def test_import_export_import_changes_nothing(runtime: Runtime) -> None:
    before = await counts(runtime)
    exported = await runtime.services.definitions.export_definition(guild_id=GUILD_ID)
    assert exported == load_definition(SEED_STUDY)
    _, changed = await runtime.services.definitions.import_definition(
        guild_id=GUILD_ID, definition=parse_definition(dump_definition(exported)), actor=Actor.cli()
    )
    assert changed is False
    assert await counts(runtime) == before


async def test_reimport_keeps_discord_links_made_in_discord(runtime: Runtime) -> None:
    await runtime.services.roster.link(guild_id=GUILD_ID, actor=ADMIN, name="강동연", user_id=123456789012345678)
    _, changed = await runtime.services.definitions.import_definition(
        guild_id=GUILD_ID, definition=load_definition(SEED_STUDY), actor=Actor.cli()
    )
    assert changed is False
    snap = runtime.directory.by_guild(GUILD_ID)
    assert snap is not None
    assert next(m for m in snap.members if m.name == "강동연").discord_user_id == 123456789012345678


async def test_roster_add_writes_member_and_audit_row(runtime: Runtime) -> None:
    before = await counts(runtime)
    name = await runtime.services.roster.add(
        guild_id=GUILD_ID, actor=ADMIN, name=" 홍길동 ", github="https://github.com/hong", user_id=42
    )
    assert name == "홍길동"
    after = await counts(runtime)
    assert after["member"] == before["member"] + 1
    assert after["audit"] == before["audit"] + 1
    entry = await latest_audit(runtime)
    assert entry.action == "roster.add" and entry.actor_id == ADMIN.user_id and "홍길동" in entry.after
    snap = runtime.directory.by_guild(GUILD_ID)
    assert snap is not None and any(m.name == "홍길동" and m.discord_user_id == 42 for m in snap.members)


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"name": "차수연"}, "roster.duplicate"),
        ({"name": "x" * 101}, "error.text_too_long"),
        ({"name": "@everyone"}, "error.text_mention"),
        ({"name": "**bold**"}, "error.text_markdown"),
        ({"name": "<@123>"}, "error.text_markdown"),
        ({"name": "   "}, "error.text_empty"),
        ({"name": "홍길동", "github": "javascript:alert(1)"}, "error.url_scheme"),
        ({"name": "홍길동", "blog": "ftp://blog.example"}, "error.url_scheme"),
        ({"name": "홍길동", "role": "captain"}, "roster.bad_role"),
    ],
)
async def test_roster_add_refuses_bad_input_and_writes_nothing(
    runtime: Runtime, kwargs: dict[str, Any], key: str
) -> None:
    before = await counts(runtime)
    with pytest.raises(UserError) as info:
        await runtime.services.roster.add(guild_id=GUILD_ID, actor=ADMIN, **kwargs)
    assert info.value.key == key
    assert await counts(runtime) == before


async def test_roster_remove_edit_link_each_audited(runtime: Runtime) -> None:
    await runtime.services.roster.edit(guild_id=GUILD_ID, actor=ADMIN, name="김동영", blog="https://blog.example/kim")
    assert (await latest_audit(runtime)).action == "roster.edit"
    await runtime.services.roster.link(guild_id=GUILD_ID, actor=ADMIN, name="김동영", user_id=55)
    assert (await latest_audit(runtime)).action == "roster.link"
    with pytest.raises(UserError) as info:
        await runtime.services.roster.link(guild_id=GUILD_ID, actor=ADMIN, name="김정은", user_id=55)
    assert info.value.key == "roster.user_taken"
    await runtime.services.roster.remove(guild_id=GUILD_ID, actor=ADMIN, name="김동영")
    entry = await latest_audit(runtime)
    assert entry.action == "roster.remove" and "blog.example/kim" in entry.before
    snap = runtime.directory.by_guild(GUILD_ID)
    assert snap is not None and all(m.name != "김동영" for m in snap.members)
    with pytest.raises(UserError) as info:
        await runtime.services.roster.remove(guild_id=GUILD_ID, actor=ADMIN, name="김동영")
    assert info.value.key == "roster.unknown"


async def test_curriculum_edits(runtime: Runtime) -> None:
    await runtime.services.curriculum.set_topic(guild_id=GUILD_ID, actor=ADMIN, week=3, title="새 주제")
    item = await runtime.services.curriculum.add_material(
        guild_id=GUILD_ID, actor=ADMIN, week=3, title="추가 자료", url="https://example.com/x", kind="article"
    )
    snap = runtime.directory.by_guild(GUILD_ID)
    assert snap is not None
    week = snap.week(3)
    assert week is not None and week.title == "새 주제"
    assert week.materials[item - 1].url == "https://example.com/x"
    added = week.materials[item - 1]
    removed = await runtime.services.curriculum.remove_material(guild_id=GUILD_ID, actor=ADMIN, material_id=added.id)
    assert removed == "추가 자료"
    before = await counts(runtime)
    for kwargs, key in [
        ({"week": 3, "title": "t", "url": "not a url"}, "error.url_scheme"),
        ({"week": 42, "title": "t", "url": "https://ok.example"}, "error.week_range"),
        ({"week": 3, "title": "t", "url": "https://ok.example", "kind": "podcast"}, "curriculum.bad_kind"),
    ]:
        with pytest.raises(UserError) as info:
            await runtime.services.curriculum.add_material(guild_id=GUILD_ID, actor=ADMIN, **kwargs)
        assert info.value.key == key
    with pytest.raises(UserError) as info:
        await runtime.services.curriculum.remove_material(guild_id=GUILD_ID, actor=ADMIN, material_id=added.id)
    assert info.value.key == "curriculum.material_gone"
    assert await counts(runtime) == before


async def test_cancel_move_restore_change_week_numbering(runtime: Runtime) -> None:
    first = date(2026, 12, 3)
    await runtime.services.sessions.cancel(guild_id=GUILD_ID, actor=ADMIN, day=first, reason="연말 휴식")
    snap = runtime.directory.by_guild(GUILD_ID)
    assert snap is not None
    schedule = build_schedule(snap.recurrence, snap.changes, snap.week_count)
    assert schedule[0].cancelled and schedule[1].week == 1 and schedule[1].original_date == date(2026, 12, 10)
    with pytest.raises(UserError) as info:
        await runtime.services.sessions.cancel(guild_id=GUILD_ID, actor=ADMIN, day=first)
    assert info.value.key == "session.already_cancelled"
    with pytest.raises(UserError) as info:
        await runtime.services.sessions.cancel(guild_id=GUILD_ID, actor=ADMIN, day=date(2026, 12, 4))
    assert info.value.key == "session.not_a_session"
    moved = await runtime.services.sessions.move(
        guild_id=GUILD_ID, actor=ADMIN, day=date(2026, 12, 10), new_day=date(2026, 12, 11), new_time=time(20, 0)
    )
    assert moved.isoformat() == "2026-12-11T20:00:00+09:00"
    await runtime.services.sessions.restore(guild_id=GUILD_ID, actor=ADMIN, day=first)
    snap = runtime.directory.by_guild(GUILD_ID)
    assert snap is not None
    schedule = build_schedule(snap.recurrence, snap.changes, snap.week_count)
    assert schedule[0].week == 1 and not schedule[0].cancelled
    assert schedule[1].moved and schedule[1].start.isoformat() == "2026-12-11T11:00:00+00:00"
    actions = [e.action for e in await runtime.services.audit.latest(guild_id=GUILD_ID, limit=3)]
    assert actions == ["session.restore", "session.move", "session.cancel"]


async def test_settings_update_and_pause(runtime: Runtime) -> None:
    after = await runtime.services.settings.update(
        guild_id=GUILD_ID,
        actor=ADMIN,
        change=SettingsChange(
            start_time=time(20, 30), offsets=(timedelta(hours=2),), place_url="https://gather.town/app/x"
        ),
    )
    assert after["start_time"] == "20:30" and after["offsets"] == "120"
    snap = runtime.directory.by_guild(GUILD_ID)
    assert snap is not None and snap.place.url == "https://gather.town/app/x"
    await runtime.services.settings.set_paused(guild_id=GUILD_ID, actor=ADMIN, paused=True)
    with pytest.raises(UserError):
        await runtime.services.settings.set_paused(guild_id=GUILD_ID, actor=ADMIN, paused=True)
    before = await counts(runtime)
    with pytest.raises(UserError) as info:
        await runtime.services.settings.update(
            guild_id=GUILD_ID, actor=ADMIN, change=SettingsChange(place_url="gather.town")
        )
    assert info.value.key == "error.url_scheme"
    assert await counts(runtime) == before


async def test_unknown_server_is_a_user_error(runtime: Runtime) -> None:
    with pytest.raises(UserError) as info:
        await runtime.services.roster.add(guild_id=1, actor=ADMIN, name="누구")
    assert info.value.key == "error.no_study"
