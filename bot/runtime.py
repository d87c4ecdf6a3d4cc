"""Builds every resource once (engine, sessions, clock, directory, services, bot) and runs the bot.

`studybot run` and the offline console both go through `open_runtime` → `prepare` → `create_bot` →
`run_bot`, so the tests exercise the same start-up path as production.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import signal
import time
from dataclasses import dataclass, replace
from pathlib import Path

import aiohttp
import discord
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.app import StudyBot
from bot.clock import Clock, SystemClock
from bot.config import ConfigError, Settings, StudyConfig, mask_url, redact
from bot.core.definition import load_definition
from bot.core.sharding import budget_share, owns, slot_grid
from bot.db.engine import create_engine, create_sessionmaker
from bot.db.migrate import upgrade_to_head
from bot.db.repositories import BotStateRepository, StudyRepository
from bot.delivery.discord_poster import DiscordPoster
from bot.delivery.ledger import DeliveryLedger
from bot.delivery.practice_posts import PracticeFacts
from bot.delivery.runner import RATE_PER_SECOND, ReminderRunner
from bot.delivery.server_events import EventSync
from bot.endpoints import apply_endpoints
from bot.services.attendance import AttendanceService
from bot.services.audit import AuditService
from bot.services.base import Actor
from bot.services.curriculum import CurriculumService
from bot.services.definitions import DefinitionService
from bot.services.directory import StudyDirectory
from bot.services.logs import LogService
from bot.services.notify import EditListener, asyncpg_dsn
from bot.services.progress import ProgressService
from bot.services.roster import RosterService
from bot.services.sessions import SessionService
from bot.services.settings import SettingsService
from bot.sharding import bot_class_options
from bot.web.feature import build_web

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
    logs: LogService
    progress: ProgressService
    attendance: AttendanceService


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
    began = time.perf_counter()
    shown = mask_url(settings.database_url)
    folder = _sqlite_folder(settings.database_url)
    if folder is not None and not folder.is_dir():
        # Said before any connection is tried: a failed aiosqlite connect leaves a thread that reports to
        # the event loop after it has closed.
        raise ConfigError(
            settings.source,
            "database.url",
            f"({shown}) cannot be opened: the folder {folder} does not exist. Create it, fix the path, or set "
            "STUDYBOT_DATABASE_URL",
        )
    try:
        engine = create_engine(settings.database_url)
    except ModuleNotFoundError as exc:
        driver = exc.name or "the database driver"
        extra = ' (pip install -e ".[postgres]")' if driver == "asyncpg" else ""
        raise ConfigError(
            settings.source,
            "database.url",
            f"({shown}) needs the Python package {driver}, which is not installed: install it{extra}",
        ) from None
    if migrate:
        try:
            await upgrade_to_head(engine)
        except (OSError, SQLAlchemyError) as exc:
            await engine.dispose()
            reason = getattr(exc, "orig", None) or exc
            raise ConfigError(
                settings.source,
                "database.url",
                f"({shown}) cannot be opened: {redact(str(reason))}. Check the path/server, or set "
                "STUDYBOT_DATABASE_URL",
            ) from None
        log.info("start-up: database at the newest migration in %.2f s", time.perf_counter() - began)
    sessionmaker = create_sessionmaker(engine)
    clock = clock or SystemClock()
    plan = settings.shards
    directory = StudyDirectory(sessionmaker, shards=plan)
    common = {"sessionmaker": sessionmaker, "clock": clock, "directory": directory}
    services = ServiceSet(
        roster=RosterService(**common),  # type: ignore[arg-type]
        curriculum=CurriculumService(**common),  # type: ignore[arg-type]
        sessions=SessionService(**common),  # type: ignore[arg-type]
        settings=SettingsService(**common),  # type: ignore[arg-type]
        audit=AuditService(**common),  # type: ignore[arg-type]
        definitions=DefinitionService(**common),  # type: ignore[arg-type]
        state=BotStateStore(sessionmaker),
        logs=LogService(**common),  # type: ignore[arg-type]
        progress=ProgressService(**common),  # type: ignore[arg-type]
        attendance=AttendanceService(**common),  # type: ignore[arg-type]
    )
    return Runtime(settings, engine, sessionmaker, clock, directory, services)


def _sqlite_folder(url: str) -> Path | None:
    prefix = "sqlite+aiosqlite:///"
    path = url[len(prefix) :].split("?", 1)[0] if url.startswith(prefix) else ""
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    return Path(path).parent


async def prepare(runtime: Runtime) -> None:
    """Import each configured study that is not in the database yet, apply config ids, load snapshots."""
    began = time.perf_counter()
    for study in runtime.settings.studies:
        if owns(runtime.settings.shards, study.guild_id):  # each server's process imports its own study
            await _ensure_study(runtime, study)
    await runtime.directory.load_all()
    # The snapshots live as long as the process: move them (and everything imported so far) out of the
    # collector's way, and collect less often — measured in bench/: mid-size collections were the /week p99.
    # Only the young generations are collected first: a full collection walks every object the imports
    # made (0.1 s of CPU alone, seconds on a busy machine — bench/startup.py) and finds next to nothing.
    # `studybot run` keeps the collector off from before its heavy imports until here; it is on from now on.
    gc.collect(1)
    gc.freeze()
    gc.set_threshold(3_000, 50, 100)
    gc.enable()
    log.info("start-up: %d studies loaded in %.2f s", len(runtime.directory.all()), time.perf_counter() - began)


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
        practice=PracticeFacts(runtime.services.attendance, pool=bot.render_pool),
        rate_per_second=budget_share(runtime.settings.shards, RATE_PER_SECOND),
        slot_grid=slot_grid(runtime.settings.shards),
        shared=runtime.settings.shards is not None and runtime.settings.shards.several_processes,
    )
    bot.events = EventSync(
        bot=bot,
        directory=runtime.directory,
        sessionmaker=runtime.sessionmaker,
        clock=runtime.clock,
        reminders=bot.reminders,
    )
    bot.reload_seconds = runtime.settings.reload_seconds
    dsn = asyncpg_dsn(runtime.settings.database_url)
    if dsn is not None and serve:
        bot.edits = EditListener(dsn, runtime.directory)
    runtime.directory.subscribe(bot.reminders.on_study_changed)
    runtime.directory.subscribe(bot.events.on_study_changed)
    # The study web page: its registry always (the /web commands change it), its server only with [web].
    bot.web = build_web(
        settings=runtime.settings if serve else replace(runtime.settings, web=None),
        sessionmaker=runtime.sessionmaker,
        clock=runtime.clock,
        directory=runtime.directory,
        attendance=runtime.services.attendance,
        process=True,
    )
    return bot


class StartupError(Exception):
    """The bot cannot start; the message says what to do."""


SHUTDOWN_GRACE = 5.0  # seconds a reminder send in flight may take to finish after SIGTERM/SIGINT
SHUTDOWN_LIMIT = 8.0  # the whole stop; past it the process exits anyway (docker stop waits 10 s)


def unreachable(settings: Settings, exc: BaseException) -> StartupError:
    """One sentence for a REST endpoint that cannot be reached or does not answer like Discord."""
    if isinstance(exc, discord.HTTPException):
        what = f"answered HTTP {exc.status} ({redact(str(exc.text or exc))[:200]}), not like Discord's API"
    elif isinstance(exc, asyncio.TimeoutError | TimeoutError):
        what = "did not answer in time"
    else:
        what = f"cannot be reached: {redact(str(exc) or type(exc).__name__)}"
    return StartupError(
        f"Discord's REST API at {settings.api_base_url} (discord.api_base_url in {settings.source}) {what}. "
        "Check the URL, the network and any proxy; leave discord.api_base_url unset for Discord itself"
    )


async def login(runtime: Runtime, bot: StudyBot) -> None:
    """Log in over REST only (`studybot sync`); the same sentences as `run_bot` for a refused token or an
    unreachable endpoint."""
    settings = runtime.settings
    apply_endpoints(api_base_url=settings.api_base_url, gateway_url=settings.gateway_url)
    try:
        await bot.login(settings.token)
    except discord.LoginFailure as exc:
        raise _refused(settings, exc) from None
    except (aiohttp.ClientError, OSError, TimeoutError, discord.HTTPException) as exc:
        raise unreachable(settings, exc) from None


def _refused(settings: Settings, exc: discord.LoginFailure) -> StartupError:
    return StartupError(
        f"Discord refused the token ({exc}): copy a fresh one from the Developer Portal → Bot → Reset Token "
        f"into DISCORD_TOKEN or discord.token in {settings.source}"
    )


async def run_bot(runtime: Runtime, bot: StudyBot) -> None:
    """Connect to Discord (or whatever `api_base_url`/`gateway_url` point at) until closed."""
    settings = runtime.settings
    apply_endpoints(api_base_url=settings.api_base_url, gateway_url=settings.gateway_url)
    try:
        async with bot:
            if bot.web is not None:
                await bot.web.start()  # before connecting: a port that cannot be opened stops the start-up
            try:
                await bot.login(settings.token)
            except discord.LoginFailure:
                raise
            except (aiohttp.ClientError, OSError, TimeoutError, discord.HTTPException) as exc:
                if bot.is_closed():  # stopped (SIGTERM) while logging in: not an unreachable API
                    return
                raise unreachable(settings, exc) from None
            await bot.connect(reconnect=True)
    except discord.LoginFailure as exc:
        raise _refused(settings, exc) from None
    except discord.PrivilegedIntentsRequired as exc:
        raise StartupError(f"Discord refused the requested intents: {exc}") from exc
    finally:
        await bot.reminders.stop()
        if bot.web is not None:
            await bot.web.stop()


async def serve(runtime: Runtime, bot: StudyBot) -> int:
    """`studybot run`: serve until SIGTERM or SIGINT, then stop gracefully and return 0.

    On the first signal nothing new starts (no scheduler wake-ups, no new sends); a reminder send in flight
    gets SHUTDOWN_GRACE seconds to finish and be marked — or stays `claimed` and the next start resumes it —
    then the gateway, the HTTP session and (by the caller) the database are closed. If all of that takes
    longer than SHUTDOWN_LIMIT seconds the process exits with 1; a second signal exits at once.
    """
    loop = asyncio.get_running_loop()
    received: list[int] = []
    closing: list[asyncio.Task[None]] = []

    def give_up() -> None:
        log.error("stopping took longer than %.0f s; exiting now", SHUTDOWN_LIMIT)
        logging.shutdown()
        os._exit(1)

    def on_signal(signum: int) -> None:
        name = signal.Signals(signum).name
        if received:
            log.warning("%s again: exiting now", name)
            logging.shutdown()
            os._exit(128 + signum)
        received.append(signum)
        log.info("%s: stopping (sends in flight get %.0f s; a second signal exits at once)", name, SHUTDOWN_GRACE)
        loop.call_later(SHUTDOWN_LIMIT, give_up)
        bot.stop_grace = SHUTDOWN_GRACE
        closing.append(asyncio.create_task(bot.close(), name="studybot:stop"))

    handled = (signal.SIGTERM, signal.SIGINT)
    for signum in handled:
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        await run_bot(runtime, bot)
        if closing:
            await closing[0]
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)
    if received:
        log.info("stopped")
    return 0
