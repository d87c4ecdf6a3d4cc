"""Shared fixtures: a real SQLite file migrated by Alembic, the bundled study imported, a frozen clock."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from bot.clock import FrozenClock
from bot.config import Settings
from bot.core.definition import load_definition
from bot.runtime import Runtime, open_runtime
from bot.services.base import Actor

# Property tests judge correctness, not speed: no per-example deadline (CI machines are shared and slow).
hypothesis_settings.register_profile("studybot", deadline=None, suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.load_profile("studybot")

ROOT = Path(__file__).resolve().parents[1]
SEED_STUDY = ROOT / "studies" / "pytorch-study.toml"
GUILD_ID = 900000000000000001
CHANNEL_ID = 900000000000000002
ROLE_ID = 900000000000000003
ADMIN = Actor(700000000000000001, "leader#0001")
# Tuesday 2026-12-01 12:00 KST: week 1 (Thursday 2026-12-03 09:00 KST) is the coming session.
BEFORE_WEEK_1 = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def practice_posts(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests of reminders count every message a study posts; the practice posts (session-start post, nudge,
    recap — on by default) would add to those counts. Outside tests marked `practice`, studies are loaded
    with them switched off, as a leader would with `/admin practice`; the marked tests see the real defaults."""
    if request.node.get_closest_marker("practice") is not None:
        return
    from bot.core.model import PracticeSettings
    from bot.services import directory

    off = PracticeSettings(nudge_offset=timedelta(0), recap_enabled=False, checkin_post_enabled=False)
    monkeypatch.setattr(directory, "practice_from", lambda study: off)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(BEFORE_WEEK_1)


POSTGRES_URL = os.environ.get("STUDYBOT_TEST_POSTGRES_URL", "")
# PostgreSQL runs are always collected; without a server they report as skipped (with the reason), so a run
# without the variable shows what it did not check instead of silently having fewer tests.
POSTGRES_MARKS = [pytest.mark.postgres]
if not POSTGRES_URL:
    POSTGRES_MARKS.append(pytest.mark.skip(reason="PostgreSQL not configured: set STUDYBOT_TEST_POSTGRES_URL"))
BACKENDS = ["sqlite", pytest.param("postgres", marks=POSTGRES_MARKS)]


@pytest.fixture(params=BACKENDS)
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database: a SQLite file, and (when STUDYBOT_TEST_POSTGRES_URL is set) a new PostgreSQL
    database created for this test and dropped after it."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'studybot.db'}"
        return
    from tests.e2e.procs import throwaway_database

    async with throwaway_database(POSTGRES_URL) as url:
        yield url


@pytest.fixture
async def runtime(db_url: str, clock: FrozenClock) -> AsyncIterator[Runtime]:
    """Migrated database with the bundled study imported for GUILD_ID and its snapshot loaded."""
    settings = Settings(token="", database_url=db_url)
    rt = await open_runtime(settings, clock=clock)
    await rt.services.definitions.import_definition(
        guild_id=GUILD_ID,
        definition=load_definition(SEED_STUDY),
        actor=Actor.cli(),
        reminder_channel_id=CHANNEL_ID,
        ping_role_id=ROLE_ID,
    )
    await rt.directory.load_all()
    try:
        yield rt
    finally:
        await rt.close()
