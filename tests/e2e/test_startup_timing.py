"""Start-up timing of the real bot against the stand-in (bench/startup.py measures the distribution).

Two costs every start paid: discord.py dispatches `ready` only `guild_ready_timeout` seconds (2 s by default)
after the last GUILD_CREATE, and the bot's own gateway-side work (server events, the safety-net jobs) waited
for it; and `prepare` ran a full garbage collection over everything the imports had made.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from pathlib import Path
from typing import Any

from bot.config import load_settings
from bot.offline import BUNDLED_STUDY
from bot.runtime import create_bot, open_runtime, prepare, run_bot
from standin import StandIn
from tests.e2e.procs import default_world_config


async def test_gateway_work_starts_once_every_server_is_in_not_guild_ready_timeout_later(
    tmp_path: Path, standin: StandIn
) -> None:
    world = standin.defaults
    assert world is not None
    second = standin.add_guild(name="Second server")  # two servers: READY lists both, then two GUILD_CREATEs
    config = default_world_config(tmp_path, standin, ping_role=True)
    runtime = await open_runtime(load_settings(config))
    await prepare(runtime)
    bot = create_bot(runtime, guild_ready_timeout=60.0)  # discord.py's `ready` comes a minute late
    task = asyncio.create_task(run_bot(runtime, bot))
    try:
        await asyncio.wait_for(bot.wait_until_serving(), timeout=15)
        assert {g.id for g in bot.guilds} == {world.guild_id, second}
        assert bot.is_ready()
        assert bot.reminders.scheduler.get_job("reminders:sweep") is not None
        assert bot.reminders.scheduler.get_job("events:refresh") is not None
        # The first event sync runs now: the coming sessions appear as server events.
        await standin.wait_until(lambda: len(standin.world.guilds[world.guild_id].scheduled_events) > 0, 15)
    finally:
        await bot.close()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(task, timeout=10)
        await runtime.close()


async def test_prepare_collects_only_young_objects_then_freezes_and_turns_the_collector_on(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "studybot.db"}"\n\n'
        f'[[study]]\nguild_id = 42\ndefinition = "{BUNDLED_STUDY}"\n',
        encoding="utf-8",
    )
    runtime = await open_runtime(load_settings(config, require_token=False))
    full: list[int] = []

    def record(phase: str, info: dict[str, Any]) -> None:
        if phase == "start" and info["generation"] == 2:
            full.append(1)

    gc.disable()  # as `studybot run` does from its first import
    gc.callbacks.append(record)
    try:
        await prepare(runtime)
    finally:
        gc.callbacks.remove(record)
        gc.enable()
        await runtime.close()
    assert full == []  # no walk over the whole heap during start-up
    assert gc.get_freeze_count() > 0
    assert runtime.directory.by_guild(42) is not None
