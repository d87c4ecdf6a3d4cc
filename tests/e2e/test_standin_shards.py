"""The stand-in with shards: `/gateway/bot` recommends a shard count, IDENTIFY with `shard: [i, n]` gets the
servers on that shard only, and each server's events go to the one shard that owns it. The bot given shards
connects through discord.py's AutoShardedClient and holds only the studies of its servers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import discord
import pytest

from bot.clock import ShiftedClock
from bot.config import Settings, StudyConfig
from bot.core.sharding import ShardPlan, shard_of
from bot.endpoints import apply_endpoints
from bot.offline import BUNDLED_STUDY, OfflineBot
from bot.runtime import create_bot, open_runtime, prepare, run_bot
from bot.sharding import ShardedStudyBot
from standin import StandIn

pytestmark = pytest.mark.e2e


def spread_guilds(standin: StandIn, count: int, per_shard: int) -> list[int]:
    """Servers with the bot in them, `per_shard` on each of `count` shards."""
    ids = []
    for n in range(per_shard):
        for shard in range(count):
            guild_id = ((1000 + n * count + shard) << 22) | 42
            standin.add_guild(guild_id, name=f"server {shard}.{n}")
            ids.append(guild_id)
    return ids


class QuickShards(discord.AutoShardedClient):
    """A bare sharded client that does not wait Discord's 5 s between shards (the stand-in has no limit)."""

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None


@pytest.fixture
async def sharded_standin() -> AsyncIterator[StandIn]:
    server = StandIn(recommended_shards=3)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def test_gateway_bot_recommends_the_configured_shards(sharded_standin: StandIn) -> None:
    headers = {"Authorization": f"Bot {sharded_standin.app.token}"}
    url = f"{sharded_standin.api_base_url}/gateway/bot"
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as response:
        body = await response.json()
    assert body["shards"] == 3
    assert body["url"] == sharded_standin.gateway_url


async def test_auto_sharded_client_gets_each_server_on_its_own_shard(sharded_standin: StandIn) -> None:
    standin = sharded_standin
    guilds = spread_guilds(standin, 3, 2)
    apply_endpoints(api_base_url=standin.api_base_url, gateway_url=standin.gateway_url)
    client = QuickShards(intents=discord.Intents(guilds=True))  # no count: asks /gateway/bot
    task = asyncio.create_task(client.start(standin.app.token))
    try:
        await asyncio.wait_for(client.wait_until_ready(), 20)
        assert client.shard_count == 3
        sessions = standin.gateway.live_sessions()
        assert sorted(s.shard for s in sessions if s.shard) == [(0, 3), (1, 3), (2, 3)]
        for guild_id in guilds:
            guild = client.get_guild(guild_id)
            assert guild is not None
            assert guild.shard_id == shard_of(guild_id, 3)
        # One server's event reaches only the shard that owns it.
        target = guilds[4]
        before = len(standin.events)
        standin.add_channel(target, "late-channel")
        [record] = [r for r in standin.events[before:] if r.name == "CHANNEL_CREATE"]
        [session_id] = record.sessions
        assert standin.gateway.sessions[session_id].shard == (shard_of(target, 3), 3)
        await standin.wait_until(lambda: any(c.name == "late-channel" for c in client.get_guild(target).channels))  # type: ignore[union-attr]
    finally:
        await client.close()
        await asyncio.gather(task, return_exceptions=True)


async def test_bot_given_shards_connects_them_and_holds_only_its_studies(
    tmp_path: Path, standin: StandIn, clock: ShiftedClock
) -> None:
    guilds = spread_guilds(standin, 2, 2)
    plan = ShardPlan((1,), 2)
    owned = sorted(g for g in guilds if shard_of(g, 2) == 1)
    settings = Settings(
        token=standin.app.token,
        api_base_url=standin.api_base_url,
        gateway_url=standin.gateway_url,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'studybot.db'}",
        studies=tuple(StudyConfig(g, BUNDLED_STUDY, None, None, None) for g in guilds),
        shards=plan,
    )
    runtime = await open_runtime(settings, clock=clock)
    await prepare(runtime)
    bot = create_bot(runtime, backoff_base=0.05, guild_ready_timeout=0.1)
    assert isinstance(bot, ShardedStudyBot)
    task = asyncio.create_task(run_bot(runtime, bot))
    offline = OfflineBot(standin, runtime, bot, tmp_path / "config.toml", task, False)
    try:
        await asyncio.wait_for(bot.wait_until_ready(), 20)
        [session] = standin.gateway.live_sessions()
        assert session.shard == (1, 2)
        on_shard = sorted(g for g in standin.world.guilds if shard_of(g, 2) == 1)
        assert sorted(g.id for g in bot.guilds) == on_shard
        # Each process imports (and holds) only the studies of its servers.
        assert sorted(s.guild_id for s in runtime.directory.all()) == owned
        assert bot.shard_ids == [1] and bot.shard_count == 2
    finally:
        await offline.stop()


async def test_one_process_without_shards_identifies_without_shard_fields(running: OfflineBot) -> None:
    [session] = running.standin.gateway.live_sessions()
    assert session.shard is None
    assert type(running.bot).__name__ == "StudyBot"
    assert running.bot.reload_seconds is None  # only the 15-minute sweep, as before
