"""End-to-end fixtures: the local Discord stand-in and the real bot started through its own start-up path."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.clock import ShiftedClock
from bot.offline import OfflineBot, start_offline
from standin import StandIn
from tests.conftest import POSTGRES_URL
from tests.e2e.procs import throwaway_database

# Tuesday 2026-12-01 12:00 KST: week 1 of the bundled study (Thursday 2026-12-03 09:00 KST) is next.
START = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ShiftedClock:
    """Real time shifted to START, so the scheduler's timers still run in real seconds."""
    shifted = ShiftedClock()
    shifted.set(START)
    return shifted


@pytest.fixture
async def standin() -> AsyncIterator[StandIn]:
    server = StandIn()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def running(tmp_path: Path, standin: StandIn, clock: ShiftedClock) -> AsyncIterator[OfflineBot]:
    offline = await start_offline(tmp_path, standin=standin, clock=clock, backoff_base=0.05)
    try:
        yield offline
    finally:
        await offline.stop()


@pytest.fixture
async def running_on_each_database(
    tmp_path: Path, standin: StandIn, clock: ShiftedClock, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[OfflineBot]:
    """`running`, once on SQLite and once on PostgreSQL (a fresh database; reported as skipped when
    STUDYBOT_TEST_POSTGRES_URL is not set) — pointed there the way an operator would, by the environment."""
    monkeypatch.setenv("STUDYBOT_DATABASE_URL", db_url)
    offline = await start_offline(tmp_path, standin=standin, clock=clock, backoff_base=0.05)
    try:
        yield offline
    finally:
        await offline.stop()


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A fresh PostgreSQL database for this test, dropped after it (the several-process tests share it)."""
    if not POSTGRES_URL:
        pytest.skip("several processes share PostgreSQL: set STUDYBOT_TEST_POSTGRES_URL to run this test")
    async with throwaway_database(POSTGRES_URL) as url:
        yield url
