"""A bare discord.py bot (one `/ping` answering "pong"): the latency baseline the real bot is compared with."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import discord
from discord.ext import commands

from bot.endpoints import apply_endpoints

PONG = "pong"


class BareBot(commands.Bot):
    """commands.Bot + CommandTree with a single `/ping`; syncs its tree globally in setup_hook if asked."""

    def __init__(self, *, sync: bool = True, **options: Any) -> None:
        options.setdefault("guild_ready_timeout", 0.1)  # the stand-in sends every GUILD_CREATE right after READY
        super().__init__(command_prefix=commands.when_mentioned, intents=discord.Intents.default(), **options)
        self.sync_on_setup = sync
        self.runner: asyncio.Task[None] | None = None

        @self.tree.command(name="ping", description="Answer pong")
        async def ping(interaction: discord.Interaction) -> None:
            await interaction.response.send_message(PONG)

    async def setup_hook(self) -> None:
        if self.sync_on_setup:
            await self.tree.sync()


async def start_bare_bot(
    *,
    token: str,
    api_base_url: str,
    gateway_url: str,
    bot: BareBot | None = None,
    ready_timeout: float = 10.0,
) -> commands.Bot:
    """Point discord.py at the endpoints, log in, connect in a background task and wait until ready.

    Pass a `BareBot` you built (e.g. with extra test commands) as `bot`; stop it with `stop_bare_bot`.
    """
    apply_endpoints(api_base_url=api_base_url, gateway_url=gateway_url)
    bot = bot or BareBot()
    await bot.login(token)
    runner = asyncio.get_running_loop().create_task(bot.connect(reconnect=True), name="bare-bot")
    bot.runner = runner
    ready = asyncio.ensure_future(bot.wait_until_ready())
    done, _ = await asyncio.wait({ready, runner}, timeout=ready_timeout, return_when=asyncio.FIRST_COMPLETED)
    if ready not in done:
        ready.cancel()
        await stop_bare_bot(bot)
        error = runner.exception() if runner in done and not runner.cancelled() else None
        if error is not None:
            raise RuntimeError("bare bot failed to connect") from error
        raise TimeoutError(f"bare bot not ready after {ready_timeout}s")
    return bot


async def stop_bare_bot(bot: commands.Bot) -> None:
    """Close the bot and wait for its connection task."""
    await bot.close()
    runner = getattr(bot, "runner", None)
    if runner is not None:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await runner
