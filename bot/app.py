"""The Discord client: loads the feature extensions, owns the error handler, syncs commands when changed.

Resources (engine, session factory, services, clock, reminder runner) are built once by `bot.runtime`
and handed in; the bot itself only wires them to Discord.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot import foreground
from bot.delivery.pacing import pacing_trace
from bot.errors import UserError
from bot.exts._glue import NO_PINGS, lang
from bot.i18n import t
from bot.i18n.translator import CatalogueTranslator
from bot.render.pool import RenderPool

if TYPE_CHECKING:
    from bot.clock import Clock
    from bot.delivery.runner import ReminderRunner
    from bot.delivery.server_events import EventSync
    from bot.runtime import ServiceSet
    from bot.services.directory import StudyDirectory
    from bot.services.notify import EditListener
    from bot.web.feature import WebFeature

log = logging.getLogger(__name__)

EXTENSIONS = (
    "bot.exts.week",
    "bot.exts.materials",
    "bot.exts.roster",
    "bot.exts.calendar",
    "bot.exts.admin",
    "bot.exts.logs",
    "bot.exts.progress",
    "bot.exts.guide",
    "bot.exts.web",
    "bot.exts.attendance",  # after admin: adds /admin attendance, /admin practice, /admin roster confirm
)
COMMAND_HASH_KEY = "command_tree_hash"


class StudyBot(commands.Bot):
    def __init__(
        self,
        *,
        services: ServiceSet,
        directory: StudyDirectory,
        clock: Clock,
        force_sync: bool = False,
        guild_ready_timeout: float = 2.0,
        serve: bool = True,
        **options: Any,
    ) -> None:
        intents = discord.Intents.none()
        intents.guilds = True  # channels, roles and scheduled events arrive with GUILD_CREATE
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            # Nobody can be pinged unless a send widens this on purpose (a reminder's role).
            allowed_mentions=NO_PINGS,
            help_command=None,
            # How long discord.py waits for more GUILD_CREATEs before `ready`; the bot does not wait for it
            # (see "start-up timing" below), so it only matters when a server stays unavailable.
            guild_ready_timeout=guild_ready_timeout,
            # Paced requests are stamped as they leave (bot.delivery.pacing: the rate gate's window), and an
            # interaction's answer closes it in the loop's foreground (bot.foreground).
            http_trace=foreground.watch(options.pop("http_trace", None) or pacing_trace()),
            **options,  # shard_ids/shard_count for the sharded client (bot.sharding)
        )
        self.services = services
        self.directory = directory
        self.clock = clock
        # Set by bot.runtime right after construction (they need the bot to post through).
        self.reminders: ReminderRunner
        self.events: EventSync
        self.web: WebFeature | None = None  # the study web page (registry, service, server when configured)
        # Worker processes for pictures (/progress, the recap), started on the first one, stopped on close.
        self.render_pool = RenderPool()
        self._unhold: Callable[[], None] | None = None  # unsubscribes the pool from the loop's foreground
        self.force_sync = force_sync
        self.serve = serve  # False for `studybot sync`: register commands, post nothing
        # Several processes: how often edits made through the others are picked up (None: the sweep only).
        self.reload_seconds: float | None = None
        # On PostgreSQL: LISTENs for edits made through other processes (the revision poll is the fallback).
        self.edits: EditListener | None = None
        self._event_sync: asyncio.Task[None] | None = None
        self.synced: bool | None = None
        # Seconds a reminder send in flight may take to finish when the bot closes (`studybot run` sets it
        # on SIGTERM/SIGINT); 0 stops at once, leaving it claimed for the next start.
        self.stop_grace = 0.0
        self._guilds_in = False  # every server READY listed has arrived in this gateway session
        self._serving = asyncio.Event()
        self.tree.on_error = self.on_app_command_error  # type: ignore[method-assign]

    async def setup_hook(self) -> None:
        log.info("start-up: logged in")
        await self.tree.set_translator(CatalogueTranslator())
        # Every interaction answered the ordinary way holds background work back until it is answered.
        front = foreground.foreground()
        parsers = self._connection.parsers
        parsers["INTERACTION_CREATE"] = front.interaction_parser(parsers["INTERACTION_CREATE"])
        # ... and the render workers stop drawing meanwhile (bot.render.pool: RenderPool.hold).
        self._unhold = front.on_change(self.render_pool.hold)
        for name in EXTENSIONS:
            await self.load_extension(name)
        await self.sync_commands_if_changed(force=self.force_sync)
        # Reminders go out over REST and need no gateway: arm them now rather than after READY.
        if self.serve:
            if self.edits is not None:
                await self.edits.start()
            began = time.perf_counter()
            await self.reminders.start()
            log.info("start-up: reminders caught up and armed in %.2f s", time.perf_counter() - began)
        log.info("start-up: commands and reminders ready")

    # --- start-up timing ------------------------------------------------------------------------------
    # discord.py dispatches `ready` only once no GUILD_CREATE has come for `guild_ready_timeout` seconds (2 s
    # by default), so every start waited 2 s after the last server had arrived. READY lists every server,
    # so the bot knows when the last one is in and starts its gateway-side work then; `on_ready` remains
    # the fallback when a server stays unavailable.
    async def on_connect(self) -> None:
        self._guilds_in = False  # a new session: READY listed the servers, their GUILD_CREATEs follow
        self._serving.clear()
        await self._when_every_guild_is_in()

    async def on_guild_available(self, _guild: discord.Guild) -> None:
        await self._when_every_guild_is_in()

    async def _when_every_guild_is_in(self) -> None:
        if not self._guilds_in and all(not guild.unavailable for guild in self.guilds):
            await self._serve_ready()

    async def on_ready(self) -> None:
        if not self._guilds_in:
            await self._serve_ready()

    def is_ready(self) -> bool:
        """Ready as soon as every server has arrived (see above), not `guild_ready_timeout` later."""
        return self._guilds_in or super().is_ready()

    async def wait_until_serving(self) -> None:
        """Wait until every server has arrived and the gateway-side work has started."""
        await self._serving.wait()

    async def _serve_ready(self) -> None:
        self._guilds_in = True
        self._serving.set()
        log.info("connected as %s to %d servers", self.user, len(self.guilds))
        # Safety nets beside the per-study wake-ups: the event window moves forward as sessions pass, and
        # a periodic sweep re-arms every study (cheap: each run decides from the ledger what is due).
        scheduler = self.reminders.scheduler
        scheduler.add_job(
            self.events.sync_all,
            "interval",
            hours=1,
            id="events:refresh",
            replace_existing=True,
            coalesce=True,
            misfire_grace_time=None,
        )
        scheduler.add_job(
            self.sweep,
            "interval",
            minutes=15,
            id="reminders:sweep",
            replace_existing=True,
            coalesce=True,
            misfire_grace_time=None,
        )
        self._schedule_reload()
        # In the background: a first sync of many servers is paced and takes a while.
        if self._event_sync is None or self._event_sync.done():
            self._event_sync = asyncio.create_task(self.events.sync_all(), name="events:initial")

    async def sweep(self) -> None:
        """Reload studies changed outside this process, then run and re-arm every study's reminders."""
        await self.directory.reload_changed()
        await self.reminders.rearm_all()

    def _schedule_reload(self) -> None:
        """Beside the sweep, a cheap frequent look for studies edited through another process: one query
        compares study revisions; only changed studies are refreshed (and their reminders re-armed)."""
        if self.reload_seconds is None:
            return
        self.reminders.scheduler.add_job(
            self.directory.reload_changed,
            "interval",
            seconds=self.reload_seconds,
            id="studies:reload",
            replace_existing=True,
            coalesce=True,
            misfire_grace_time=None,
        )

    async def close(self) -> None:
        # Stop posting before the HTTP session goes away, so no send dies half-way through shutdown.
        if hasattr(self, "reminders"):
            await self.reminders.stop(grace=self.stop_grace)
        if self._unhold is not None:
            self._unhold()
        await self.render_pool.close()
        if self.edits is not None:
            await self.edits.stop()
        if self._event_sync is not None and not self._event_sync.done():
            self._event_sync.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._event_sync
        # discord.py waits `guild_ready_timeout` after the last server before dispatching `ready`; closed during
        # that wait, its task would later set an event that close() has already removed (a stray traceback).
        ready_task = getattr(self._connection, "_ready_task", None)
        if ready_task is not None and not ready_task.done():
            ready_task.cancel()
        await super().close()

    # --- command sync -----------------------------------------------------------------------------
    async def command_payload(self) -> list[dict[str, Any]]:
        translator = self.tree.translator
        commands_ = self.tree.get_commands()
        if translator is None:
            return [c.to_dict(self.tree) for c in commands_]
        return [await c.get_translated_payload(self.tree, translator) for c in commands_]

    async def command_hash(self) -> str:
        payload = await self.command_payload()
        text = json.dumps(sorted(payload, key=lambda c: str(c.get("name"))), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()

    async def sync_commands_if_changed(self, *, force: bool = False) -> bool:
        """Sync global commands when the tree differs from the last sync (hash kept in the DB)."""
        current = await self.command_hash()
        stored = await self.services.state.get(COMMAND_HASH_KEY)
        if not force and stored == current:
            self.synced = False
            log.info("slash commands unchanged since the last sync; not syncing")
            return False
        await self.tree.sync()
        await self.services.state.put(COMMAND_HASH_KEY, current)
        self.synced = True
        log.info("slash commands synced")
        return True

    # --- errors -----------------------------------------------------------------------------------
    async def on_app_command_error(
        self, interaction: discord.Interaction[StudyBot], error: app_commands.AppCommandError
    ) -> None:
        """User errors → their message; anything else → logged with context, and an apology with an id."""
        original: BaseException = error
        if isinstance(error, app_commands.CommandInvokeError):
            original = error.original
        language = lang(interaction)
        if isinstance(original, UserError):
            text = "⚠️ " + t(language, original.key, **original.params)
        elif isinstance(original, app_commands.NoPrivateMessage):
            text = "⚠️ " + t(language, "error.guild_only")
        elif isinstance(original, app_commands.TransformerError):
            text = "⚠️ " + t(language, "error.bad_option", value=str(original.value)[:80])
        elif isinstance(original, app_commands.CheckFailure):
            text = "⚠️ " + t(language, "error.not_admin")
        else:
            error_id = secrets.token_hex(4)
            command = interaction.command.qualified_name if interaction.command else "?"
            log.error(
                "error %s in /%s (guild %s, user %s, options %s)",
                error_id,
                command,
                interaction.guild_id,
                interaction.user.id,
                interaction.data.get("options") if interaction.data else None,
                exc_info=original,
            )
            text = "😵 " + t(language, "error.unexpected", id=error_id)
        try:
            if interaction.response.is_done():
                await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_PINGS)
            else:
                await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_PINGS)
        except discord.HTTPException:
            log.warning("could not deliver the error message for interaction %s", interaction.id)
