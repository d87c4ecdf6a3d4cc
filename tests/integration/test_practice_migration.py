"""The practice tables (attendance, study logs, roster claims) and settings arrive by migration 0003: on
SQLite and PostgreSQL the migrations build exactly the models' schema (`alembic check`), go down to 0002
and back up, keep existing studies and members with the documented defaults, and enforce the keys.

Plain functions for the `command.*` calls: Alembic's env.py calls `asyncio.run`, which cannot run inside
pytest-asyncio's loop.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Coroutine, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from bot.db import models as db
from bot.db.engine import create_engine, create_sessionmaker
from bot.db.migrate import alembic_config
from tests.conftest import BACKENDS, POSTGRES_URL

T = TypeVar("T")

NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
PRACTICE_TABLES = {"attendance", "study_log", "roster_claim"}


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("STUDYBOT_DATABASE_URL", raising=False)
    root = logging.getLogger()
    saved = (root.level, root.handlers[:])
    yield
    root.setLevel(saved[0])
    root.handlers[:] = saved[1]


def _run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@pytest.fixture(params=BACKENDS)
def sync_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """`db_url` for plain (non-async) tests: a SQLite file, or a fresh PostgreSQL database dropped after."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'practice.db'}"
        return
    import asyncpg

    admin_dsn = POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")
    name = f"studybot_t_{uuid.uuid4().hex[:12]}"

    async def admin(statement: str) -> None:
        conn = await asyncpg.connect(admin_dsn)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    _run(admin(f'CREATE DATABASE "{name}"'))
    yield POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    _run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def _execute(url: str, *statements: str) -> list[list[tuple[object, ...]]]:
    engine = create_engine(url)
    out: list[list[tuple[object, ...]]] = []
    try:
        async with engine.begin() as conn:
            for statement in statements:
                result = await conn.execute(text(statement))
                out.append([tuple(row) for row in result.all()] if result.returns_rows else [])
    finally:
        await engine.dispose()
    return out


def _cfg(url: str) -> Config:
    return alembic_config(url)


def test_practice_migration_matches_the_models_and_goes_down_and_up(sync_db_url: str) -> None:
    cfg = _cfg(sync_db_url)
    command.upgrade(cfg, "head")
    assert _run(_tables(sync_db_url)) >= PRACTICE_TABLES
    command.check(cfg)

    command.downgrade(cfg, "0002")
    tables = _run(_tables(sync_db_url))
    assert not PRACTICE_TABLES & tables
    assert "study" in tables

    command.upgrade(cfg, "head")
    command.check(cfg)


def test_existing_studies_and_members_keep_their_rows_and_get_the_default_practice_settings(sync_db_url: str) -> None:
    cfg = _cfg(sync_db_url)
    command.upgrade(cfg, "0002")
    _run(
        _execute(
            sync_db_url,
            "INSERT INTO study (id, guild_id, name, description, timezone, locale, weekday, start_time,"
            " duration_minutes, first_session, location_name, location_url, reminder_offsets, paused,"
            " created_at, updated_at, revision, public_id) VALUES (1, 5, 's', '', 'Asia/Seoul', 'ko', 3, '09:00',"
            " 60, '2026-12-03', 'Gather Town', '', '1440,60', false, '2026-12-01 00:00:00',"
            " '2026-12-01 00:00:00', 0, 'abc')",
            "INSERT INTO member (id, study_id, name, role, github, blog, active) VALUES (1, 1, 'a', 'member', '',"
            " '', true)",
        )
    )

    command.upgrade(cfg, "head")

    study, member = _run(
        _execute(
            sync_db_url,
            "SELECT checkin_opens_minutes, checkin_grace_minutes, nudge_offset_minutes, recap_enabled,"
            " checkin_post_enabled, guide FROM study",
            "SELECT nudge_opt_in FROM member",
        )
    )
    assert study == [(10, 10, 1440, True, True, "")]
    assert member == [(False,)]

    command.downgrade(cfg, "0002")

    (members,) = _run(_execute(sync_db_url, "SELECT name FROM member"))
    assert members == [("a",)]  # going down drops the practice data only, never the roster


async def test_attendance_is_one_row_per_member_and_session_and_goes_with_its_member(db_url: str) -> None:
    from bot.db.migrate import upgrade_to_head

    engine = create_engine(db_url)
    try:
        await upgrade_to_head(engine)
        sessionmaker = create_sessionmaker(engine)
        async with sessionmaker() as session, session.begin():
            study = db.Study(guild_id=1, name="s", first_session=date(2026, 12, 3), created_at=NOW, updated_at=NOW)
            session.add(study)
            await session.flush()
            member = db.Member(study_id=study.id, name="a")
            session.add(member)
            await session.flush()
            ids = (study.id, member.id)
            session.add(
                db.Attendance(
                    study_id=ids[0],
                    member_id=ids[1],
                    original_date=date(2026, 12, 3),
                    status="present",
                    checked_in_at=NOW,
                    source="button",
                    updated_at=NOW,
                )
            )
            session.add(
                db.StudyLog(
                    study_id=ids[0], member_id=ids[1], original_date=date(2026, 12, 3), url="https://x", created_at=NOW
                )
            )
            session.add(db.RosterClaim(study_id=ids[0], member_id=ids[1], discord_user_id=42, created_at=NOW))

        with pytest.raises(IntegrityError):
            async with sessionmaker() as session, session.begin():
                session.add(
                    db.Attendance(
                        study_id=ids[0],
                        member_id=ids[1],
                        original_date=date(2026, 12, 3),
                        status="late",
                        source="command",
                        updated_at=NOW,
                    )
                )
        with pytest.raises(IntegrityError):
            async with sessionmaker() as session, session.begin():
                session.add(db.RosterClaim(study_id=ids[0], member_id=ids[1], discord_user_id=43, created_at=NOW))

        async with sessionmaker() as session, session.begin():
            await session.execute(text("DELETE FROM member"))
        async with engine.connect() as conn:
            for table in ("attendance", "study_log", "roster_claim"):
                assert (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one() == 0
    finally:
        await engine.dispose()
