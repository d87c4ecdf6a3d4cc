"""The stand-in's in-memory world: applications, users, guilds, channels, roles, members and the records it keeps."""

from __future__ import annotations

import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

Json = dict[str, Any]

DISCORD_EPOCH_MS = 1_420_070_400_000


class Perm:
    """Permission bits (the ones the stand-in reasons about)."""

    CREATE_INSTANT_INVITE = 1 << 0
    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    CHANGE_NICKNAME = 1 << 26
    MANAGE_ROLES = 1 << 28
    USE_APPLICATION_COMMANDS = 1 << 31
    MANAGE_EVENTS = 1 << 33
    SEND_MESSAGES_IN_THREADS = 1 << 38
    CREATE_EVENTS = 1 << 44
    ALL = (1 << 51) - 1

    EVERYONE_DEFAULT = (
        CREATE_INSTANT_INVITE
        | ADD_REACTIONS
        | VIEW_CHANNEL
        | SEND_MESSAGES
        | EMBED_LINKS
        | ATTACH_FILES
        | READ_MESSAGE_HISTORY
        | CHANGE_NICKNAME
        | USE_APPLICATION_COMMANDS
        | SEND_MESSAGES_IN_THREADS
    )
    BOT_DEFAULT = (
        VIEW_CHANNEL
        | SEND_MESSAGES
        | EMBED_LINKS
        | ATTACH_FILES
        | READ_MESSAGE_HISTORY
        | MENTION_EVERYONE
        | USE_APPLICATION_COMMANDS
        | MANAGE_EVENTS
        | CREATE_EVENTS
    )


class SnowflakeFactory:
    """Generates realistic, strictly increasing Discord snowflakes (timestamp | worker | process | increment).

    The timestamp comes from the stand-in's clock, so ids agree with `created_at` and a client's
    `history(after=<time>)` sees the messages that time covers, even when the stand-in's clock is moved."""

    def __init__(self, *, worker: int = 1, process: int = 0, clock: Callable[[], datetime] | None = None) -> None:
        self._clock = clock
        self._worker = worker & 0x1F
        self._process = process & 0x1F
        self._last_ms = 0
        self._increment = 0

    def next(self) -> int:
        now_ms = int(self._clock().timestamp() * 1000) if self._clock is not None else int(time.time() * 1000)
        ms = max(now_ms, self._last_ms)
        if ms == self._last_ms:
            self._increment += 1
            if self._increment >= 4096:
                ms += 1
                self._increment = 0
        else:
            self._increment = 0
        self._last_ms = ms
        return ((ms - DISCORD_EPOCH_MS) << 22) | (self._worker << 17) | (self._process << 12) | self._increment


def iso(dt: datetime) -> str:
    """Discord's timestamp format (ISO 8601 with microseconds and +00:00)."""
    return dt.astimezone(UTC).isoformat(timespec="microseconds")


@dataclass
class User:
    id: int
    username: str
    global_name: str | None = None
    bot: bool = False

    def payload(self) -> Json:
        return {
            "id": str(self.id),
            "username": self.username,
            "global_name": self.global_name,
            "discriminator": "0",
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
            "flags": 0,
        }


@dataclass
class Application:
    id: int
    name: str
    token: str
    bot: User
    owner: User
    flags: int = 0


@dataclass
class Role:
    id: int
    guild_id: int
    name: str
    permissions: int = 0
    position: int = 0
    mentionable: bool = False
    managed: bool = False
    color: int = 0
    bot_id: int | None = None

    def payload(self) -> Json:
        data: Json = {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": self.color,
            "colors": {"primary_color": self.color, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "managed": self.managed,
            "mentionable": self.mentionable,
            "flags": 0,
        }
        if self.bot_id is not None:
            data["tags"] = {"bot_id": str(self.bot_id)}
        return data


@dataclass
class Overwrite:
    id: int
    type: int  # 0 role, 1 member
    allow: int = 0
    deny: int = 0

    def payload(self) -> Json:
        return {"id": str(self.id), "type": self.type, "allow": str(self.allow), "deny": str(self.deny)}


@dataclass
class Channel:
    id: int
    guild_id: int | None
    name: str
    type: int = 0  # 0 text, 1 DM, 2 voice, 4 category, 5 announcement, 13 stage
    position: int = 0
    parent_id: int | None = None
    topic: str | None = None
    overwrites: list[Overwrite] = field(default_factory=list)
    recipient_id: int | None = None
    last_message_id: int | None = None


@dataclass
class Member:
    user: User
    guild_id: int
    roles: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class Guild:
    id: int
    name: str
    owner_id: int
    preferred_locale: str = "en-US"
    features: list[str] = field(default_factory=list)
    roles: dict[int, Role] = field(default_factory=dict)
    channels: dict[int, Channel] = field(default_factory=dict)
    members: dict[int, Member] = field(default_factory=dict)
    scheduled_events: dict[int, Json] = field(default_factory=dict)
    system_channel_id: int | None = None

    @property
    def everyone(self) -> Role:
        return self.roles[self.id]


@dataclass(frozen=True)
class FileRecord:
    """One uploaded file of a multipart request."""

    field: str
    filename: str
    content: bytes
    content_type: str | None = None

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class Pings:
    """Who a message actually notifies, after Discord's allowed_mentions and permission rules."""

    users: frozenset[int] = frozenset()
    roles: frozenset[int] = frozenset()
    everyone: bool = False

    @property
    def nobody(self) -> bool:
        return not self.users and not self.roles and not self.everyone


@dataclass
class MessageRecord:
    """A message as the stand-in stored it, with what was sent and who it pinged."""

    id: int
    channel_id: int
    guild_id: int | None
    author: User
    content: str
    embeds: list[Json]
    flags: int
    created_at: datetime
    source: str  # "channel", "interaction", "followup", "user"
    nonce: str | None = None
    allowed_mentions: Json | None = None
    pings: Pings = field(default_factory=Pings)
    files: list[FileRecord] = field(default_factory=list)
    attachments: list[Json] = field(default_factory=list)
    components: list[Json] = field(default_factory=list)
    tts: bool = False
    interaction_id: int | None = None
    application_id: int | None = None
    message_reference: Json | None = None
    edited_at: datetime | None = None
    edits: list[Json] = field(default_factory=list)
    deleted: bool = False
    message_type: int = 0
    extra: Json = field(default_factory=dict)  # further payload keys, e.g. interaction_metadata

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & 64)

    @property
    def loading(self) -> bool:
        return bool(self.flags & 128)


@dataclass
class CommandRecord:
    id: int
    application_id: int
    guild_id: int | None
    version: int
    data: Json  # the command as sent (validated), without ids

    @property
    def name(self) -> str:
        return str(self.data["name"])

    @property
    def type(self) -> int:
        return int(self.data.get("type", 1))


@dataclass(frozen=True)
class RequestRecord:
    """One REST request the stand-in received."""

    method: str
    path: str  # relative to the API base, e.g. /channels/1/messages
    route: str  # template, e.g. POST /channels/{channel_id}/messages
    query: dict[str, str]
    json: Any
    files: tuple[FileRecord, ...]
    status: int
    at: float  # time.perf_counter()
    wall: datetime
    reason: str | None = None


@dataclass(frozen=True)
class DefaultWorld:
    """Ids of the world a fresh stand-in starts with."""

    application_id: int
    bot_user_id: int
    token: str
    guild_id: int
    channel_id: int
    voice_channel_id: int
    everyone_role_id: int
    admin_role_id: int
    study_role_id: int
    bot_role_id: int
    owner_user_id: int
    admin_user_id: int
    member_user_id: int


class World:
    """All the state a Discord stand-in needs; pure data, no I/O (the server dispatches events)."""

    def __init__(self, *, clock: Callable[[], datetime] | None = None) -> None:
        self._base_clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        # How far the stand-in's clock has been moved ahead of its base clock (`advance`).
        self.clock_offset = timedelta(0)
        self.snowflakes = SnowflakeFactory(clock=self.clock)
        self.users: dict[int, User] = {}
        self.apps: dict[int, Application] = {}
        self.tokens: dict[str, Application] = {}
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Channel] = {}
        self.messages: dict[int, MessageRecord] = {}
        self.channel_messages: dict[int, list[MessageRecord]] = {}
        self.commands: dict[tuple[int, int | None], list[CommandRecord]] = {}
        self.sync_counts: Counter[tuple[int, int | None]] = Counter()

    def clock(self) -> datetime:
        """The stand-in's own time: its base clock (the system's unless given) plus what `advance` added."""
        return self._base_clock() + self.clock_offset

    def advance(self, delta: timedelta) -> None:
        """Move the stand-in's clock forward, e.g. past the nonce window, without touching the bot's."""
        self.clock_offset += delta

    # -- creation ------------------------------------------------------------------------------------

    def add_user(self, *, user_id: int | None = None, username: str, bot: bool = False) -> User:
        user = User(id=user_id or self.snowflakes.next(), username=username, global_name=username, bot=bot)
        self.users[user.id] = user
        return user

    def add_application(self, *, name: str, owner: User, token: str | None = None) -> Application:
        app_id = self.snowflakes.next()
        bot = self.add_user(user_id=app_id, username=name, bot=True)
        token = token or f"standin.{app_id}.{secrets.token_urlsafe(12)}"
        app = Application(id=app_id, name=name, token=token, bot=bot, owner=owner, flags=1 << 23)
        self.apps[app.id] = app
        self.tokens[token] = app
        for guild in self.guilds.values():
            self.add_bot_member(guild, app)
        return app

    def add_guild(self, *, guild_id: int | None, name: str, owner: User, locale: str = "en-US") -> Guild:
        gid = guild_id or self.snowflakes.next()
        guild = Guild(id=gid, name=name, owner_id=owner.id, preferred_locale=locale, features=["COMMUNITY"])
        guild.roles[gid] = Role(id=gid, guild_id=gid, name="@everyone", permissions=Perm.EVERYONE_DEFAULT)
        self.guilds[gid] = guild
        guild.members[owner.id] = Member(user=owner, guild_id=gid)
        for app in self.apps.values():
            self.add_bot_member(guild, app)
        return guild

    def add_bot_member(self, guild: Guild, app: Application) -> Member:
        role = self.add_role(guild, name=app.name, permissions=Perm.BOT_DEFAULT, managed=True, bot_id=app.bot.id)
        member = Member(user=app.bot, guild_id=guild.id, roles=[role.id])
        guild.members[app.bot.id] = member
        return member

    def add_role(
        self,
        guild: Guild,
        *,
        name: str,
        permissions: int = 0,
        mentionable: bool = False,
        managed: bool = False,
        bot_id: int | None = None,
        role_id: int | None = None,
    ) -> Role:
        position = max((r.position for r in guild.roles.values()), default=0) + 1
        role = Role(
            id=role_id or self.snowflakes.next(),
            guild_id=guild.id,
            name=name,
            permissions=permissions,
            position=position,
            mentionable=mentionable,
            managed=managed,
            bot_id=bot_id,
        )
        guild.roles[role.id] = role
        return role

    def add_channel(
        self,
        guild: Guild,
        *,
        name: str,
        type: int = 0,
        parent_id: int | None = None,
        topic: str | None = None,
        overwrites: Iterable[Overwrite] = (),
        channel_id: int | None = None,
    ) -> Channel:
        channel = Channel(
            id=channel_id or self.snowflakes.next(),
            guild_id=guild.id,
            name=name,
            type=type,
            position=len(guild.channels),
            parent_id=parent_id,
            topic=topic,
            overwrites=list(overwrites),
        )
        guild.channels[channel.id] = channel
        self.channels[channel.id] = channel
        if guild.system_channel_id is None and type == 0:
            guild.system_channel_id = channel.id
        return channel

    def dm_channel(self, user: User) -> Channel:
        for channel in self.channels.values():
            if channel.type == 1 and channel.recipient_id == user.id:
                return channel
        channel = Channel(id=self.snowflakes.next(), guild_id=None, name="", type=1, recipient_id=user.id)
        self.channels[channel.id] = channel
        return channel

    # -- lookups -------------------------------------------------------------------------------------

    def guild_of(self, channel: Channel) -> Guild | None:
        return self.guilds.get(channel.guild_id) if channel.guild_id is not None else None

    def base_permissions(self, guild: Guild, user_id: int) -> int:
        if user_id == guild.owner_id:
            return Perm.ALL
        member = guild.members.get(user_id)
        perms = guild.everyone.permissions
        if member is not None:
            for role_id in member.roles:
                role = guild.roles.get(role_id)
                if role is not None:
                    perms |= role.permissions
        if perms & Perm.ADMINISTRATOR:
            return Perm.ALL
        return perms

    def permissions(self, guild: Guild, user_id: int, channel: Channel | None = None) -> int:
        """Discord's permission computation: base permissions, then @everyone, role and member overwrites."""
        perms = self.base_permissions(guild, user_id)
        if perms == Perm.ALL or channel is None:
            return perms
        member = guild.members.get(user_id)
        role_ids = set(member.roles) if member else set()
        by_id = {ow.id: ow for ow in channel.overwrites}
        everyone = by_id.get(guild.id)
        if everyone is not None:
            perms = (perms & ~everyone.deny) | everyone.allow
        allow = deny = 0
        for ow in channel.overwrites:
            if ow.type == 0 and ow.id in role_ids:
                allow |= ow.allow
                deny |= ow.deny
        perms = (perms & ~deny) | allow
        own = by_id.get(user_id)
        if own is not None and own.type == 1:
            perms = (perms & ~own.deny) | own.allow
        return perms

    def commands_for(self, app_id: int, guild_id: int | None) -> list[CommandRecord]:
        return self.commands.setdefault((app_id, guild_id), [])

    def add_message(self, message: MessageRecord) -> None:
        self.messages[message.id] = message
        channel = self.channels.get(message.channel_id)
        if channel is not None and not message.ephemeral:
            channel.last_message_id = message.id
            self.channel_messages.setdefault(channel.id, []).append(message)

    def visible_messages(self, channel_id: int) -> list[MessageRecord]:
        return [m for m in self.channel_messages.get(channel_id, []) if not m.deleted]
