"""Edits propagate between processes through PostgreSQL NOTIFY: an edit committed through one runtime is in
another runtime's snapshot within a second; a rolled-back edit announces nothing; a lost listening
connection reconnects and catches up; without NOTIFY the revision poll still finds the edit.

Two runtimes on one real PostgreSQL database stand for two processes (each its own engine, directory and
listening connection).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.clock import FrozenClock
from bot.config import Settings
from bot.core.definition import load_definition
from bot.errors import UserError
from bot.runtime import Runtime, open_runtime
from bot.services.notify import CHANNEL, EditListener, asyncpg_dsn
from tests.conftest import ADMIN, GUILD_ID, POSTGRES_URL, SEED_STUDY

pytestmark = pytest.mark.postgres
if not POSTGRES_URL:
    pytestmark = [pytest.mark.postgres, pytest.mark.skip(reason="LISTEN/NOTIFY needs STUDYBOT_TEST_POSTGRES_URL")]

OTHER_GUILD = GUILD_ID + (1 << 22)


@pytest.fixture
async def pg_database() -> AsyncIterator[str]:
    import uuid

    import asyncpg

    admin_dsn = POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")
    name = f"studybot_t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def two(pg_database: str, clock: FrozenClock) -> AsyncIterator[tuple[Runtime, Runtime]]:
    """Two runtimes on one database, both holding the bundled study of GUILD_ID and OTHER_GUILD."""
    first = await open_runtime(Settings(token="", database_url=pg_database), clock=clock)
    second = await open_runtime(Settings(token="", database_url=pg_database), clock=clock, migrate=False)
    try:
        for guild in (GUILD_ID, OTHER_GUILD):
            await first.services.definitions.import_definition(
                guild_id=guild, definition=load_definition(SEED_STUDY), actor=ADMIN
            )
        await first.directory.load_all()
        await second.directory.load_all()
        yield first, second
    finally:
        await first.close()
        await second.close()


async def until(condition: object, *, within: float) -> float:
    """Wait for `condition()` to hold; the seconds it took (fails after `within` seconds)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    while not condition():  # type: ignore[operator]
        assert loop.time() - started < within, "not seen in time"
        await asyncio.sleep(0.01)
    return loop.time() - started


def topic(runtime: Runtime, guild_id: int = GUILD_ID) -> str:
    snap = runtime.directory.by_guild(guild_id)
    assert snap is not None
    week = snap.week(1)
    assert week is not None
    return week.title


async def test_an_edit_through_one_process_is_in_the_others_snapshot_within_a_second(
    two: tuple[Runtime, Runtime],
) -> None:
    first, second = two
    dsn = asyncpg_dsn(second.settings.database_url)
    assert dsn is not None
    listener = EditListener(dsn, second.directory)
    await listener.start()
    try:
        await asyncio.wait_for(listener.listening.wait(), 10)
        await first.services.curriculum.set_topic(guild_id=GUILD_ID, actor=ADMIN, week=1, title="다른 프로세스의 주제")
        took = await until(lambda: topic(second) == "다른 프로세스의 주제", within=5)
        assert took < 1.0
        assert listener.received == 1  # one notification: the edited study's server
    finally:
        await listener.stop()


async def test_notifications_go_out_on_commit_only(two: tuple[Runtime, Runtime]) -> None:
    import asyncpg

    first, _ = two
    dsn = asyncpg_dsn(first.settings.database_url)
    heard: asyncio.Queue[str] = asyncio.Queue()
    connection = await asyncpg.connect(dsn)
    try:
        await connection.add_listener(CHANNEL, lambda _c, _p, _ch, payload: heard.put_nowait(payload))
        # Refused inside the transaction (nothing changed): rolled back, so nothing is announced …
        with pytest.raises(UserError):
            await first.services.curriculum.set_topic(
                guild_id=GUILD_ID, actor=ADMIN, week=1, title=topic(first, GUILD_ID)
            )
        # … and the next committed edit (another server) is the first thing heard.
        await first.services.curriculum.set_topic(guild_id=OTHER_GUILD, actor=ADMIN, week=1, title="바뀐 주제")
        assert await asyncio.wait_for(heard.get(), 5) == str(OTHER_GUILD)
        assert heard.empty()
    finally:
        await connection.close()


async def test_a_lost_listening_connection_reconnects_and_catches_up(two: tuple[Runtime, Runtime]) -> None:
    import asyncpg

    first, second = two
    dsn = asyncpg_dsn(second.settings.database_url)
    assert dsn is not None
    listener = EditListener(dsn, second.directory, retry_seconds=0.05)
    await listener.start()
    admin = await asyncpg.connect(dsn)
    try:
        await asyncio.wait_for(listener.listening.wait(), 10)
        # The server ends the listening connection; the edit is made while nobody listens.
        pid = listener._connection.get_server_pid()
        await admin.execute("SELECT pg_terminate_backend($1)", pid)
        await until(lambda: not listener.listening.is_set() or listener.connections > 1, within=10)
        await first.services.curriculum.set_topic(guild_id=GUILD_ID, actor=ADMIN, week=1, title="끊긴 사이의 편집")
        await until(lambda: topic(second) == "끊긴 사이의 편집", within=10)
        assert listener.connections >= 2
    finally:
        await admin.close()
        await listener.stop()


async def test_without_notify_the_revision_poll_finds_the_edit(two: tuple[Runtime, Runtime]) -> None:
    first, second = two
    await first.services.curriculum.set_topic(guild_id=GUILD_ID, actor=ADMIN, week=1, title="폴링으로 찾은 편집")
    assert topic(second) != "폴링으로 찾은 편집"  # nobody listens in `second`
    changed = await second.directory.reload_changed()
    assert changed == [second.directory.by_guild(GUILD_ID).id]  # type: ignore[union-attr]
    assert topic(second) == "폴링으로 찾은 편집"
