"""Study logs, the nudge opt-in, the guide and the progress data on a real migrated database (SQLite and
PostgreSQL): one transaction and one audit row per change, nothing written on a refusal."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.core.definition import dump_definition, load_definition, parse_definition
from bot.core.guide import stage_titles
from bot.db import models as db
from bot.errors import UserError
from bot.render.progress import Mark
from bot.runtime import Runtime
from bot.services.base import Actor
from tests.conftest import ADMIN, GUILD_ID, SEED_STUDY

USER = 800000000000000001
MEMBER = Actor(USER, "kang#0001")


async def link(rt: Runtime, name: str = "강동연") -> None:
    await rt.services.roster.link(guild_id=GUILD_ID, actor=ADMIN, name=name, user_id=USER)


async def table_counts(rt: Runtime) -> dict[str, Any]:
    async with rt.sessionmaker() as session:
        return {
            "logs": (await session.execute(select(func.count()).select_from(db.StudyLog))).scalar_one(),
            "audit": (await session.execute(select(func.count()).select_from(db.AuditEntry))).scalar_one(),
        }


async def test_a_log_is_stored_for_the_sessions_original_date_with_an_audit_row(runtime: Runtime) -> None:
    await link(runtime)
    before = await table_counts(runtime)
    entry = await runtime.services.logs.add(
        guild_id=GUILD_ID, user_id=USER, actor=MEMBER, url=" https://github.com/kang/study ", week=3, note=" CNN "
    )
    assert (entry.week, entry.original_date, entry.url, entry.note) == (
        3,
        date(2026, 12, 17),
        "https://github.com/kang/study",
        "CNN",
    )
    assert await table_counts(runtime) == {"logs": before["logs"] + 1, "audit": before["audit"] + 1}
    async with runtime.sessionmaker() as session:
        audit = (await session.execute(select(db.AuditEntry).order_by(db.AuditEntry.id.desc()))).scalars().first()
    assert audit is not None and audit.action == "log.add" and audit.actor_id == USER and audit.target == "강동연"
    default = await runtime.services.logs.add(guild_id=GUILD_ID, user_id=USER, actor=MEMBER, url="https://a.example")
    assert default.week == 1  # the frozen clock is two days before week 1
    removed = await runtime.services.logs.remove(guild_id=GUILD_ID, user_id=USER, actor=MEMBER, ref=f"id:{entry.id}")
    assert removed.id == entry.id
    member, mine = await runtime.services.logs.mine(guild_id=GUILD_ID, user_id=USER)
    assert member.name == "강동연" and [e.url for e in mine] == ["https://a.example"]


@pytest.mark.parametrize(
    ("linked", "options", "key"),
    [
        (False, {"url": "https://github.com/x"}, "log.not_linked"),
        (True, {"url": "ftp://x.example"}, "error.url_scheme"),
        (True, {"url": "https://x.example", "week": 10}, "error.week_range"),
        (True, {"url": "https://x.example", "note": "**bold**"}, "error.text_markdown"),
        (True, {"url": "https://x.example/" + "a" * 500}, "error.text_too_long"),
    ],
)
async def test_refused_logs_write_nothing(runtime: Runtime, linked: bool, options: dict[str, Any], key: str) -> None:
    if linked:
        await link(runtime)
    before = await table_counts(runtime)
    with pytest.raises(UserError) as caught:
        await runtime.services.logs.add(guild_id=GUILD_ID, user_id=USER, actor=MEMBER, **options)
    assert caught.value.key == key
    assert await table_counts(runtime) == before


async def test_duplicates_too_many_and_someone_elses_log_are_refused(runtime: Runtime) -> None:
    await link(runtime)
    logs = runtime.services.logs
    for n in range(5):
        await logs.add(guild_id=GUILD_ID, user_id=USER, actor=MEMBER, url=f"https://x.example/{n}", week=2)
    other = 800000000000000002
    await runtime.services.roster.link(guild_id=GUILD_ID, actor=ADMIN, name="김동영", user_id=other)
    before = await table_counts(runtime)
    with pytest.raises(UserError, match=r"log\.duplicate"):
        await logs.add(guild_id=GUILD_ID, user_id=USER, actor=MEMBER, url="https://x.example/0", week=2)
    with pytest.raises(UserError, match=r"log\.too_many"):
        await logs.add(guild_id=GUILD_ID, user_id=USER, actor=MEMBER, url="https://x.example/9", week=2)
    _, mine = await logs.mine(guild_id=GUILD_ID, user_id=USER)
    with pytest.raises(UserError, match=r"log\.unknown"):
        await logs.remove(guild_id=GUILD_ID, user_id=other, actor=Actor(other, "kim"), ref=f"id:{mine[0].id}")
    assert await table_counts(runtime) == before


async def test_nudge_opt_in_is_stored_audited_and_in_the_snapshot(runtime: Runtime) -> None:
    await link(runtime)
    assert await runtime.services.logs.set_nudge(guild_id=GUILD_ID, user_id=USER, actor=MEMBER, on=True)
    snap = runtime.directory.by_guild(GUILD_ID)
    assert snap is not None and next(m for m in snap.members if m.name == "강동연").nudge_opt_in
    await runtime.services.logs.set_nudge(guild_id=GUILD_ID, user_id=USER, actor=MEMBER, on=False)
    async with runtime.sessionmaker() as session:
        actions = (await session.execute(select(db.AuditEntry.action))).scalars().all()
    assert actions.count("log.nudge") == 2


async def test_the_guide_is_kept_by_import_and_export(runtime: Runtime) -> None:
    shipped = load_definition(SEED_STUDY)
    exported = await runtime.services.definitions.export_definition(guild_id=GUILD_ID)
    assert exported.guide == shipped.guide and exported.guide is not None
    assert parse_definition(dump_definition(exported)) == exported
    _, changed = await runtime.services.definitions.import_definition(
        guild_id=GUILD_ID, definition=exported, actor=Actor.cli()
    )
    assert not changed  # import → export → import changes nothing
    snap = runtime.directory.by_guild(GUILD_ID)
    assert snap is not None and snap.guide is not None
    assert stage_titles(snap.guide.for_locale("en"))[4] == "Deep Learning Zero To All, Season 2"
    # A file without a guide removes it.
    from dataclasses import replace

    _, changed = await runtime.services.definitions.import_definition(
        guild_id=GUILD_ID, definition=replace(exported, guide=None), actor=Actor.cli()
    )
    assert changed
    snap = runtime.directory.by_guild(GUILD_ID)
    assert snap is not None and snap.guide is None


async def test_progress_data_combines_attendance_logs_and_stages(runtime: Runtime) -> None:
    await link(runtime)
    await runtime.services.logs.add(guild_id=GUILD_ID, user_id=USER, actor=MEMBER, url="https://a.example", week=1)
    snap = runtime.directory.by_guild(GUILD_ID)
    assert snap is not None
    kang = next(m for m in snap.members if m.name == "강동연")
    async with runtime.sessionmaker() as session, session.begin():
        session.add(
            db.Attendance(
                study_id=snap.id,
                member_id=kang.id,
                original_date=date(2026, 12, 3),
                status="late",
                source="admin",
                updated_at=runtime.clock.now(),
            )
        )
    runtime.clock.set(runtime.clock.now() + timedelta(days=3))  # week 1 is over
    [page] = await runtime.services.progress.pages(guild_id=GUILD_ID, lang="ko")
    rows = {row.name: row for row in page.rows}
    assert rows["강동연"].marks[0] is Mark.LATE and rows["강동연"].logs[0]
    assert rows["김동영"].marks[0] is Mark.ABSENT and rows["김동영"].marks[1] is Mark.NONE
    assert page.weeks[0].rate == pytest.approx(0.1)
    assert [w.stage for w in page.weeks[:2]] == ["파이토치 공식 튜토리얼", "모두를 위한 딥러닝 시즌2"]
    [one] = await runtime.services.progress.pages(guild_id=GUILD_ID, lang="en", member="강동연")
    assert [row.name for row in one.rows] == ["강동연"] and one.weeks[5].stage == "Pseudo-Lab Tutorial-Book"
    with pytest.raises(UserError, match=r"roster\.unknown"):
        await runtime.services.progress.pages(guild_id=GUILD_ID, lang="en", member="nobody")
