"""The Discord stand-in server: one object that runs REST + Gateway on 127.0.0.1 and is driven by tests/consoles."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from types import TracebackType
from typing import Self

from aiohttp import web

from . import routes_app, routes_core, routes_events
from .faults import Faults, RouteStats
from .gateway import DispatchRecord, Gateway
from .interactions import InteractionHandle, Notifier
from .invoke import InteractionDriver
from .messages import AttachmentStore, find_nonce_duplicate, new_message
from .payloads import channel_payload, command_payload, guild_payload, member_payload, message_payload
from .rest import RestApi, Router
from .state import (
    Application,
    DefaultWorld,
    Guild,
    Json,
    Member,
    MessageRecord,
    Overwrite,
    Perm,
    RequestRecord,
    World,
)

DEFAULT_TOKEN = "standin-bot-token"


class StandIn(InteractionDriver):
    """A local Discord (REST v10 + Gateway v10) good enough for the real discord.py to log in, sync and answer."""

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        app_name: str = "studybot",
        heartbeat_interval_ms: int = 41_250,
        interaction_deadline: float = 3.0,
        token_lifetime: float = 15 * 60.0,
        nonce_window: float = 5 * 60.0,
        global_rate_limit: int | None = None,
        max_scheduled_events: int = 100,
        recommended_shards: int = 1,
        clock: Callable[[], datetime] | None = None,
        seed: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.world = World(clock=clock)
        self.notifier = Notifier()
        self.faults = Faults()
        if global_rate_limit:
            self.faults.set_global_limit(global_rate_limit)
        self.attachments = AttachmentStore()
        self.interaction_deadline = interaction_deadline
        self.token_lifetime = token_lifetime
        # Discord answers a repeated `enforce_nonce` send with the first message for a few minutes only:
        # seconds on the stand-in's clock, changeable at any time (`advance_clock` moves past it).
        self.nonce_window = nonce_window
        self.max_scheduled_events = max_scheduled_events
        # What GET /gateway/bot recommends; a client that asks (AutoShardedClient without a count) opens this
        # many shards, and each gets the events of the servers `(guild_id >> 22) % count` puts on it.
        self.recommended_shards = recommended_shards
        self.nonce_hits = 0
        self.sync_history: list[tuple[int | None, list[str]]] = []
        self.interactions: dict[int, InteractionHandle] = {}
        self.interactions_by_token: dict[str, InteractionHandle] = {}
        self.host = host
        self.port = port
        self.gateway = Gateway(
            self.world,
            url=lambda: self.gateway_url,
            heartbeat_interval_ms=heartbeat_interval_ms,
            on_change=self.notifier.notify,
        )
        router = Router()
        routes_core.register(router, self)
        routes_app.register(router, self)
        routes_events.register(router, self)
        self.rest = RestApi(self.world, self.faults, router, self.notifier.notify)
        owner = self.world.add_user(username="owner")
        self.app: Application = self.world.add_application(name=app_name, owner=owner, token=token)
        self.defaults: DefaultWorld | None = self._seed(owner.id) if seed else None
        self._runner: web.AppRunner | None = None

    # -- lifecycle -----------------------------------------------------------------------------------

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_base_url(self) -> str:
        """E.g. http://127.0.0.1:PORT/api/v10 — what discord.http.Route.BASE must be."""
        return f"{self.origin}/api/v10"

    @property
    def gateway_url(self) -> str:
        """E.g. ws://127.0.0.1:PORT/ — what DiscordWebSocket.DEFAULT_GATEWAY must be (also resume_gateway_url)."""
        return f"ws://{self.host}:{self.port}/"

    async def start(self) -> None:
        """Bind host:port (port 0: a free one) and serve REST under /api/v{n}/ and the gateway at /."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", r"/api/v{version:\d+}/{tail:.*}", self.rest.handle)
        app.router.add_route("*", "/api/{tail:.*}", self.rest.handle)
        app.router.add_get("/attachments/{channel}/{attachment}/{filename}", self._serve_attachment)
        app.router.add_get("/", self.gateway.handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        self.attachments.origin = self.origin
        await web.SockSite(self._runner, sock).start()

    async def stop(self) -> None:
        """Close gateway connections (1001) and the HTTP server."""
        if self._runner is None:
            return
        await self.gateway.close_all(code=1001)
        await self._runner.cleanup()
        self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def _serve_attachment(self, request: web.Request) -> web.StreamResponse:
        upload = self.attachments.files.get(int(request.match_info["attachment"]))
        if upload is None:
            raise web.HTTPNotFound()
        return web.Response(body=upload.content, content_type="application/octet-stream")

    # -- time ----------------------------------------------------------------------------------------

    def now(self) -> datetime:
        """The stand-in's clock: message times, snowflakes and the nonce window follow it."""
        return self.world.clock()

    def advance_clock(self, delta: timedelta) -> None:
        """Move the stand-in's clock forward (e.g. past the nonce window); the bot's clock is its own."""
        self.world.advance(delta)
        self.notifier.notify()

    def nonce_remembered(self, channel_id: int, nonce: str, *, application: Application | None = None) -> bool:
        """Would a send with this nonce now get the earlier message back instead of posting a new one?"""
        author = (application or self.app).bot.id
        return find_nonce_duplicate(self.world, channel_id, author, nonce, window_s=self.nonce_window) is not None

    # -- building the world --------------------------------------------------------------------------

    def _seed(self, owner_id: int) -> DefaultWorld:
        guild_id = self.add_guild(name="Study Group", owner_id=owner_id)
        guild = self.world.guilds[guild_id]
        channel_id = self.add_channel(guild_id, "general")
        voice_id = self.add_channel(guild_id, "study-room", type=2)
        admin_role = self.add_role(guild_id, "Admin", permissions=Perm.ADMINISTRATOR)
        study_role = self.add_role(guild_id, "Study", mentionable=False)
        admin = self.add_member(guild_id, name="admin", roles=[admin_role, study_role])
        member = self.add_member(guild_id, name="member", roles=[study_role])
        bot_role = next(r.id for r in guild.roles.values() if r.bot_id == self.app.bot.id)
        return DefaultWorld(
            application_id=self.app.id,
            bot_user_id=self.app.bot.id,
            token=self.app.token,
            guild_id=guild_id,
            channel_id=channel_id,
            voice_channel_id=voice_id,
            everyone_role_id=guild_id,
            admin_role_id=admin_role,
            study_role_id=study_role,
            bot_role_id=bot_role,
            owner_user_id=owner_id,
            admin_user_id=admin,
            member_user_id=member,
        )

    def add_user(self, name: str, *, user_id: int | None = None) -> int:
        return self.world.add_user(user_id=user_id, username=name).id

    def add_application(self, name: str, *, token: str | None = None) -> Application:
        """Another bot (own token, commands and sessions), e.g. a bare bot next to the real one."""
        return self.world.add_application(name=name, owner=self.app.owner, token=token)

    def add_guild(
        self, guild_id: int | None = None, *, name: str = "Guild", owner_id: int | None = None, locale: str = "en-US"
    ) -> int:
        """A guild with @everyone (id = guild id) and every application's bot as a member (+ its managed role)."""
        owner = self.world.users[owner_id] if owner_id is not None else self.app.owner
        guild = self.world.add_guild(guild_id=guild_id, name=name, owner=owner, locale=locale)
        self._dispatch_guild_create(guild)
        return guild.id

    def add_channel(
        self,
        guild_id: int,
        name: str,
        *,
        type: int = 0,
        topic: str | None = None,
        parent_id: int | None = None,
        overwrites: Iterable[Overwrite] = (),
    ) -> int:
        guild = self.world.guilds[guild_id]
        channel = self.world.add_channel(
            guild, name=name, type=type, topic=topic, parent_id=parent_id, overwrites=overwrites
        )
        self.gateway.dispatch("CHANNEL_CREATE", channel_payload(self.world, channel), guild_id=guild_id)
        return channel.id

    def add_role(self, guild_id: int, name: str, *, permissions: int = 0, mentionable: bool = False) -> int:
        guild = self.world.guilds[guild_id]
        role = self.world.add_role(guild, name=name, permissions=permissions, mentionable=mentionable)
        data = {"guild_id": str(guild_id), "role": role.payload()}
        self.gateway.dispatch("GUILD_ROLE_CREATE", data, guild_id=guild_id)
        return role.id

    def add_member(
        self,
        guild_id: int,
        user_id: int | None = None,
        *,
        name: str = "member",
        roles: Iterable[int] = (),
        admin: bool = False,
        permissions: int | None = None,
        nick: str | None = None,
    ) -> int:
        """Add a member (creating the user if needed); `admin` gives an Administrator role, `permissions` a role
        with exactly those permissions — permissions always come from roles, as on Discord."""
        guild = self.world.guilds[guild_id]
        user = self.world.users.get(user_id) if user_id is not None else None
        if user is None:
            user = self.world.add_user(user_id=user_id, username=name)
        role_ids = list(roles)
        if admin:
            admin_role = next((r.id for r in guild.roles.values() if r.permissions & Perm.ADMINISTRATOR), None)
            role_ids.append(admin_role or self.add_role(guild_id, "Admin", permissions=Perm.ADMINISTRATOR))
        if permissions is not None:
            role_ids.append(self.add_role(guild_id, f"{name} permissions", permissions=permissions))
        member = Member(user=user, guild_id=guild_id, roles=role_ids, nick=nick, joined_at=self.world.clock())
        guild.members[user.id] = member
        data = {**member_payload(self.world, member), "guild_id": str(guild_id)}
        self.gateway.dispatch("GUILD_MEMBER_ADD", data, guild_id=guild_id)
        return user.id

    def set_member_roles(self, guild_id: int, user_id: int, roles: Iterable[int]) -> None:
        """Replace a member's roles (as a server admin would); dispatches GUILD_MEMBER_UPDATE to sessions whose
        intents ask for it. Interactions carry the member's roles as they are at that moment."""
        guild = self.world.guilds[guild_id]
        member = guild.members[user_id]
        member.roles = list(roles)
        data = {**member_payload(self.world, member), "guild_id": str(guild_id)}
        self.gateway.dispatch("GUILD_MEMBER_UPDATE", data, guild_id=guild_id)

    def set_bot_permissions(self, guild_id: int, permissions: int, *, application: Application | None = None) -> None:
        """Replace the permissions of the bot's managed role (dispatches GUILD_ROLE_UPDATE)."""
        app = application or self.app
        guild = self.world.guilds[guild_id]
        role = next(r for r in guild.roles.values() if r.bot_id == app.bot.id)
        role.permissions = permissions
        self.gateway.dispatch(
            "GUILD_ROLE_UPDATE", {"guild_id": str(guild_id), "role": role.payload()}, guild_id=guild_id
        )

    def set_manage_events(self, guild_id: int, allowed: bool, *, application: Application | None = None) -> None:
        """Give or take Manage/Create Events from the bot: without it, scheduled-event writes answer 403 (50013)."""
        app = application or self.app
        guild = self.world.guilds[guild_id]
        role = next(r for r in guild.roles.values() if r.bot_id == app.bot.id)
        bits = Perm.MANAGE_EVENTS | Perm.CREATE_EVENTS
        self.set_bot_permissions(
            guild_id, role.permissions | bits if allowed else role.permissions & ~bits, application=app
        )

    def _dispatch_guild_create(self, guild: Guild) -> None:
        if self.gateway.sessions:
            data = guild_payload(self.world, guild, full=True)
            self.gateway.dispatch("GUILD_CREATE", data, guild_id=guild.id)

    # -- commands ------------------------------------------------------------------------------------

    def commands(self, guild_id: int | None = None, *, application: Application | None = None) -> list[Json]:
        """Registered commands (global when guild_id is None) as Discord would return them."""
        app = application or self.app
        return [command_payload(c) for c in self.world.commands_for(app.id, guild_id)]

    def sync_count(self, guild_id: int | None = None, *, application: Application | None = None) -> int:
        """How many bulk overwrites (tree.sync) happened for this scope."""
        return self.world.sync_counts[((application or self.app).id, guild_id)]

    # -- messages ------------------------------------------------------------------------------------

    def messages(self, channel_id: int | None = None) -> list[MessageRecord]:
        """Visible (non-ephemeral, not deleted) messages of a channel, oldest first (default channel if None)."""
        if channel_id is None:
            assert self.defaults is not None, "no default channel: pass channel_id"
            channel_id = self.defaults.channel_id
        return self.world.visible_messages(channel_id)

    async def wait_for_messages(
        self,
        channel_id: int | None = None,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[MessageRecord]:
        await self.wait_until(lambda: len(self.messages(channel_id)) >= count, timeout, f"{count} message(s)")
        return self.messages(channel_id)

    def post_user_message(self, channel_id: int, user_id: int, content: str) -> MessageRecord:
        """A message from a (human) user: stored and dispatched as MESSAGE_CREATE."""
        channel = self.world.channels[channel_id]
        user = self.world.users[user_id]
        body = {"content": content}
        message = new_message(
            self.world, self.attachments, channel=channel, author=user, body=body, files=[], source="user"
        )
        self.gateway.dispatch("MESSAGE_CREATE", message_payload(self.world, message), guild_id=channel.guild_id)
        return message

    def scheduled_events(self, guild_id: int | None = None) -> list[Json]:
        gid = guild_id if guild_id is not None else (self.defaults.guild_id if self.defaults else 0)
        return list(self.world.guilds[gid].scheduled_events.values())

    # -- gateway -------------------------------------------------------------------------------------

    def dispatch(self, event: str, data: Json, *, guild_id: int | None = None) -> int:
        """Dispatch any gateway event to the sessions that should receive it; returns how many got it."""
        return self.gateway.dispatch(event, data, guild_id=guild_id)

    async def drop_gateway(self, *, mode: str = "close", code: int = 4000) -> int:
        """Drop live gateway connections ('close' with a resumable code, or 'abort' the TCP stream)."""
        return await self.gateway.drop(mode=mode, code=code)

    async def wait_for_session(
        self,
        *,
        identifies: int = 1,
        resumes: int = 0,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> None:
        """Wait until at least this many IDENTIFYs/RESUMEs happened and a session is connected."""
        stats = self.gateway.stats

        def ok() -> bool:
            live = bool(self.gateway.live_sessions())
            return live and stats.identifies >= identifies and stats.resumes >= resumes

        await self.wait_until(ok, timeout, f"{identifies} identify/{resumes} resume")

    async def wait_until(
        self,
        predicate: Callable[[], bool],
        timeout: float = 5.0,  # noqa: ASYNC109
        what: str = "condition",
    ) -> None:
        """Wait (event-driven) until `predicate()` is true; raises TimeoutError."""
        await self.notifier.wait_for(predicate, timeout, what)

    @property
    def events(self) -> list[DispatchRecord]:
        return self.gateway.events

    # -- observability -------------------------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        return self.rest.requests

    @property
    def unexpected_requests(self) -> list[RequestRecord]:
        """Requests to routes the stand-in does not know (404/405): the bot called something unexpected."""
        return self.rest.unexpected

    def requests_to(self, method: str, path: str) -> list[RequestRecord]:
        """Requests whose method matches and whose path matches the regex `path` (searched)."""
        pattern = re.compile(path)
        return [r for r in self.rest.requests if r.method == method.upper() and pattern.search(r.path)]

    @property
    def route_stats(self) -> dict[str, RouteStats]:
        """Per route template ("POST /channels/{channel_id}/messages"): requests, 429s, 5xx, statuses."""
        return self.faults.stats
