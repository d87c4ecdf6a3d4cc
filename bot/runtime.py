"""Builds every resource once (engine, sessions, clock, directory, services, bot) and runs the bot.

`studybot run` and the offline console both go through `open_runtime` → `prepare` → `create_bot` →
`run_bot`, so the tests exercise the same start-up path as production.
"""

from __future__ import annotations

import gc
import json
import logging
from dataclasses import dataclass

import discord
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.app import StudyBot
from bot.clock import Clock, SystemClock
from bot.config import ConfigError, Settings, StudyConfig
from bot.core.definition import load_definition
from bot.core.sharding import owns
from bot.db.engine import create_engine, create_sessionmaker
from bot.db.migrate import upgrade_to_head
from bot.db.repositories import BotStateRepository, StudyRepository
from bot.delivery.discord_poster import DiscordPoster
from bot.delivery.ledger import DeliveryLedger
from bot.delivery.runner import ReminderRunner
from bot.delivery.server_events import EventSync
from bot.endpoints import apply_endpoints
from bot.services.audit import AuditService
from bot.services.base import Actor
from bot.services.curriculum import CurriculumService
from bot.services.definitions import DefinitionService
from bot.services.directory import StudyDirectory
from bot.services.roster import RosterService
from bot.services.sessions import SessionService
from bot.services.settings import SettingsService
from bot.sharding import bot_class_options

log = logging.getLogger(__name__)


class BotStateStore:
    """Small facts about the bot itself, kept in the database (e.g. the last synced command hash)."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker

    async def get(self, key: str) -> str | None:
        async with self.sessionmaker() as session:
            return await BotStateRepository.get(session, key=key)

    async def put(self, key: str, value: str) -> None:
        async with self.sessionmaker() as session, session.begin():
            await BotStateRepository.put(session, key=key, value=value)


@dataclass(slots=True)
class ServiceSet:
    roster: RosterService
    curriculum: CurriculumService
    sessions: SessionService
    settings: SettingsService
    audit: AuditService
    definitions: DefinitionService
    state: BotStateStore


@dataclass(slots=True)
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    clock: Clock
    directory: StudyDirectory
    services: ServiceSet

    async def close(self) -> None:
        await self.engine.dispose()


async def open_runtime(settings: Settings, *, clock: Clock | None = None, migrate: bool = True) -> Runtime:
    """Engine → migrations to head → services. Nothing touches Discord yet."""
    engine = create_engine(settings.database_url)
    if migrate:
        try:
            await upgrade_to_head(engine)
        except (OSError, SQLAlchemyError) as exc:
            await engine.dispose()
            reason = getattr(exc, "orig", None) or exc
            raise ConfigError(
                settings.source,
                "database.url",
                f"({settings.database_url}) cannot be opened: {reason}. Check the path/server, or set "
                "STUDYBOT_DATABASE_URL",
            ) from exc
    sessionmaker = create_sessionmaker(engine)
    clock = clock or SystemClock()
    plan = settings.shards
    directory = StudyDirectory(sessionmaker, owns=None if plan is None else plan.owns)
    common = {"sessionmaker": sessionmaker, "clock": clock, "directory": directory}
    services = ServiceSet(
        roster=RosterService(**common),  # type: ignore[arg-type]
        curriculum=CurriculumService(**common),  # type: ignore[arg-type]
        sessions=SessionService(**common),  # type: ignore[arg-type]
        settings=SettingsService(**common),  # type: ignore[arg-type]
        audit=AuditService(**common),  # type: ignore[arg-type]
        definitions=DefinitionService(**common),  # type: ignore[arg-type]
        state=BotStateStore(sessionmaker),
    )
    return Runtime(settings, engine, sessionmaker, clock, directory, services)


async def prepare(runtime: Runtime) -> None:
    """Import each configured study that is not in the database yet, apply config ids, load snapshots."""
    for study in runtime.settings.studies:
        if owns(runtime.settings.shards, study.guild_id):  # each server's process imports its own study
            await _ensure_study(runtime, study)
    await runtime.directory.load_all()
    # The snapshots live as long as the process: move them (and everything imported so far) out of the
    # collector's way, and collect less often — measured in bench/: mid-size collections were the /week p99.
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 50, 100)


async def _ensure_study(runtime: Runtime, study: StudyConfig) -> None:
    async with runtime.sessionmaker() as session:
        existing = await StudyRepository.by_guild(session, guild_id=study.guild_id)
    if existing is None:
        if study.definition is None:
            log.warning("server %s has no study yet and no `definition` to import", study.guild_id)
            return
        definition = load_definition(study.definition)
        await runtime.services.definitions.import_definition(
            guild_id=study.guild_id,
            definition=definition,
            actor=Actor.cli(),
            reminder_channel_id=study.reminder_channel_id,
            ping_role_id=study.ping_role_id,
            admin_role_id=study.admin_role_id,
        )
        log.info("imported %s for server %s", study.definition, study.guild_id)
    await _apply_config_ids(runtime, study)


async def _apply_config_ids(runtime: Runtime, study: StudyConfig) -> None:
    """Config ids win when they changed since they were last applied; otherwise /admin settings wins."""
    wanted = {
        "reminder_channel_id": study.reminder_channel_id,
        "ping_role_id": study.ping_role_id,
        "admin_role_id": study.admin_role_id,
    }
    key = f"config_ids:{study.guild_id}"
    last = await runtime.services.state.get(key)
    encoded = json.dumps(wanted, sort_keys=True)
    if last == encoded:
        return
    async with runtime.sessionmaker() as session, session.begin():
        row = await StudyRepository.by_guild(session, guild_id=study.guild_id)
        if row is None:
            return
        previous = json.loads(last) if last else {}
        for name, value in wanted.items():
            if value is not None and previous.get(name) != value:
                setattr(row, name, value)
    await runtime.services.state.put(key, encoded)


def create_bot(
    runtime: Runtime,
    *,
    force_sync: bool = False,
    backoff_base: float = 1.0,
    guild_ready_timeout: float = 2.0,
    serve: bool = True,
) -> StudyBot:
    bot_class, shard_options = bot_class_options(runtime.settings)
    bot = bot_class(
        **shard_options,
        services=runtime.services,
        directory=runtime.directory,
        clock=runtime.clock,
        force_sync=force_sync,
        guild_ready_timeout=guild_ready_timeout,
        serve=serve,
    )

    bot.reminders = ReminderRunner(
        directory=runtime.directory,
        ledger=DeliveryLedger(sessionmaker=runtime.sessionmaker, clock=runtime.clock),
        clock=runtime.clock,
        poster=DiscordPoster(bot),
        backoff_base=backoff_base,
    )
    bot.events = EventSync(
        bot=bot,
        directory=runtime.directory,
        sessionmaker=runtime.sessionmaker,
        clock=runtime.clock,
        reminders=bot.reminders,
    )
    bot.reload_seconds = runtime.settings.reload_seconds
    runtime.directory.subscribe(bot.reminders.on_study_changed)
    runtime.directory.subscribe(bot.events.on_study_changed)
    return bot


class StartupError(Exception):
    """The bot cannot start; the message says what to do."""


async def run_bot(runtime: Runtime, bot: StudyBot) -> None:
    """Connect to Discord (or whatever `api_base_url`/`gateway_url` point at) until closed."""
    settings = runtime.settings
    apply_endpoints(api_base_url=settings.api_base_url, gateway_url=settings.gateway_url)
    try:
        async with bot:
            await bot.start(settings.token)
    except discord.LoginFailure as exc:
        raise StartupError(
            f"Discord refused the token ({exc}): copy a fresh one from the Developer Portal → Bot → Reset Token "
            f"into DISCORD_TOKEN or discord.token in {settings.source}"
        ) from exc
    except discord.PrivilegedIntentsRequired as exc:
        raise StartupError(f"Discord refused the requested intents: {exc}") from exc
    finally:
        await bot.reminders.stop()
