"""Run the real bot offline: the local Discord stand-in plus `studybot run`'s own start-up path.

Used by `studybot console`, the end-to-end tests and the benchmarks. The bot is configured exactly like in
production — a config file whose `api_base_url`/`gateway_url` point at the stand-in — so what runs here is
what runs against Discord.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import tomli_w

from bot.app import StudyBot
from bot.clock import Clock
from bot.config import load_settings
from bot.core.definition import dump_definition, load_definition
from bot.runtime import Runtime, create_bot, open_runtime, prepare, run_bot
from standin import StandIn

BUNDLED_STUDY = Path(__file__).resolve().parents[1] / "studies" / "pytorch-study.toml"


def coming_session_date(weekday: int, today: date) -> date:
    """The next date on `weekday`, today included."""
    return today + timedelta(days=(weekday - today.weekday()) % 7)


def shifted_definition(source: Path, target: Path, *, now: datetime) -> Path:
    """Copy a definition with its first session moved to the coming session day, so week 1 is live."""
    definition = load_definition(source)
    zone = ZoneInfo(definition.timezone)
    first = coming_session_date(definition.weekday, now.astimezone(zone).date())
    if datetime.combine(first, definition.start_time, tzinfo=zone) <= now:
        first += timedelta(days=7)  # today's session has already started: the coming one is next week's
    target.write_text(dump_definition(replace(definition, first_session=first)), encoding="utf-8")
    return target


def write_config(
    path: Path,
    *,
    standin: StandIn,
    database: Path,
    definition: Path,
    guild_id: int,
    channel_id: int,
    ping_role_id: int | None,
    admin_role_id: int | None = None,
    web_listen: str | None = None,
) -> Path:
    study: dict[str, object] = {
        "guild_id": guild_id,
        "definition": str(definition),
        "reminder_channel_id": channel_id,
    }
    if ping_role_id:
        study["ping_role_id"] = ping_role_id
    if admin_role_id:
        study["admin_role_id"] = admin_role_id
    config = {
        "discord": {
            "token": standin.app.token,
            "api_base_url": standin.api_base_url,
            "gateway_url": standin.gateway_url,
        },
        "database": {"url": f"sqlite+aiosqlite:///{database}"},
        "logging": {"level": "WARNING"},
        "study": [study],
    }
    if web_listen is not None:
        config["web"] = {"listen": web_listen}
    path.write_text(tomli_w.dumps(config), encoding="utf-8")
    return path


@dataclass
class OfflineBot:
    """A running bot connected to a stand-in; `stop()` shuts both down."""

    standin: StandIn
    runtime: Runtime
    bot: StudyBot
    config_path: Path
    task: asyncio.Task[None]
    owns_standin: bool = True

    async def stop(self) -> None:
        if not self.bot.is_closed():
            await self.bot.close()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(self.task, timeout=10)
        await self.runtime.close()
        if self.owns_standin:
            await self.standin.stop()


async def start_bot(
    config_path: Path,
    *,
    standin: StandIn,
    clock: Clock | None = None,
    backoff_base: float = 1.0,
    owns_standin: bool = False,
    ready_within: float = 20.0,
) -> OfflineBot:
    """`studybot run --config config_path`, in this process and event loop, with an injectable clock."""
    settings = load_settings(config_path)
    runtime = await open_runtime(settings, clock=clock)
    await prepare(runtime)
    bot = create_bot(runtime, backoff_base=backoff_base)  # discord.py's own guild_ready_timeout, as in production
    task = asyncio.create_task(run_bot(runtime, bot), name="studybot")
    waiter = asyncio.create_task(bot.wait_until_serving())
    done, _ = await asyncio.wait({waiter, task}, timeout=ready_within, return_when=asyncio.FIRST_COMPLETED)
    if waiter not in done:
        waiter.cancel()
        if task in done:
            task.result()  # raises the start-up error
        raise TimeoutError("the bot did not become ready")
    await standin.wait_until(lambda: bot.reminders.started, ready_within)
    return OfflineBot(standin, runtime, bot, config_path, task, owns_standin)


async def start_offline(
    workdir: Path,
    *,
    definition: Path = BUNDLED_STUDY,
    database: Path | None = None,
    clock: Clock | None = None,
    standin: StandIn | None = None,
    shift_to_now: datetime | None = None,
    backoff_base: float = 1.0,
    ping_role: bool = True,
    web_listen: str | None = None,
) -> OfflineBot:
    """Stand-in (unless given) + config file + the real bot with the study imported for the default server."""
    owns = standin is None
    if standin is None:
        standin = StandIn()
        await standin.start()
    world = standin.defaults
    assert world is not None, "the stand-in must be seeded with its default world"
    if shift_to_now is not None:
        definition = shifted_definition(definition, workdir / "study.toml", now=shift_to_now)
    config = write_config(
        workdir / "config.toml",
        standin=standin,
        database=database or workdir / "studybot.db",
        definition=definition,
        guild_id=world.guild_id,
        channel_id=world.channel_id,
        ping_role_id=world.study_role_id if ping_role else None,
        web_listen=web_listen,
    )
    return await start_bot(config, standin=standin, clock=clock, backoff_base=backoff_base, owns_standin=owns)
