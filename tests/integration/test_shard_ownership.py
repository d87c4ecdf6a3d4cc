"""A process running some shards holds exactly the studies of the servers on them, picks up edits made
through other processes by comparing revisions, and (on PostgreSQL) processes starting together migrate once."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.clock import FrozenClock
from bot.config import Settings
from bot.core.definition import load_definition
from bot.core.sharding import ShardPlan
from bot.db.engine import create_engine
from bot.db.migrate import upgrade_to_head
from bot.runtime import open_runtime, prepare
from bot.services.base import Actor
from tests.conftest import BEFORE_WEEK_1, SEED_STUDY

COUNT = 3


def guild_on(shard: int, n: int) -> int:
    return ((n * COUNT + shard) << 22) | 777


GUILDS = [guild_on(shard, n) for n in range(2) for shard in range(COUNT)]


async def import_all(url: str, definition_name: str = "") -> None:
    runtime = await open_runtime(Settings(token="", database_url=url), clock=FrozenClock(BEFORE_WEEK_1))
    definition = load_definition(SEED_STUDY)
    if definition_name:
        definition = replace(definition, name=definition_name)
    try:
        for guild_id in GUILDS:
            await runtime.services.definitions.import_definition(
                guild_id=guild_id, definition=definition, actor=Actor.cli()
            )
    finally:
        await runtime.close()


async def test_a_process_holds_only_the_studies_of_its_shards(db_url: str) -> None:
    await import_all(db_url)
    plan = ShardPlan((1,), COUNT)
    runtime = await open_runtime(Settings(token="", database_url=db_url, shards=plan), clock=FrozenClock(BEFORE_WEEK_1))
    try:
        await prepare(runtime)
        held = sorted(s.guild_id for s in runtime.directory.all())
        assert held == sorted(g for g in GUILDS if (g >> 22) % COUNT == 1)
        assert len(held) == 2
        assert runtime.directory.by_guild(guild_on(0, 0)) is None

        # Every study edited through another process: only the owned ones are picked up here.
        await import_all(db_url, definition_name="renamed")
        changed = await runtime.directory.reload_changed()
        assert sorted(runtime.directory.by_id(sid).guild_id for sid in changed) == held  # type: ignore[union-attr]
        assert {s.name for s in runtime.directory.all()} == {"renamed"}
        assert len(runtime.directory.all()) == 2
    finally:
        await runtime.close()


async def test_without_shards_a_process_holds_every_study(db_url: str) -> None:
    await import_all(db_url)
    runtime = await open_runtime(Settings(token="", database_url=db_url), clock=FrozenClock(BEFORE_WEEK_1))
    try:
        await prepare(runtime)
        assert sorted(s.guild_id for s in runtime.directory.all()) == sorted(GUILDS)
    finally:
        await runtime.close()


async def test_processes_starting_together_migrate_once(db_url: str, tmp_path: Path) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("the migration lock is PostgreSQL's advisory lock; SQLite serves one process")
    engines = [create_engine(db_url) for _ in range(4)]
    try:
        await asyncio.gather(*(upgrade_to_head(engine) for engine in engines))
        async with engines[0].connect() as connection:
            versions = (await connection.execute(text("SELECT version_num FROM alembic_version"))).all()
        assert len(versions) == 1
    finally:
        for engine in engines:
            await engine.dispose()


async def test_processes_starting_together_record_bot_state_without_conflict(db_url: str) -> None:
    """Each process stores the synced command hash at start; the second write of a new key must not fail."""
    runtimes = [await open_runtime(Settings(token="", database_url=db_url)) for _ in range(2)]
    try:
        for attempt in range(5):
            key = f"command_tree_hash:{attempt}"
            await asyncio.gather(*(rt.services.state.put(key, f"hash {i}") for i, rt in enumerate(runtimes)))
            assert await runtimes[0].services.state.get(key) in {"hash 0", "hash 1"}
    finally:
        for rt in runtimes:
            await rt.close()
