"""Builds INTERACTION_CREATE payloads like Discord and records what the bot answered to each interaction."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .payloads import channel_payload, member_payload
from .state import Application, Channel, CommandRecord, FileRecord, Guild, Json, MessageRecord, User, World


class Notifier:
    """Wakes every waiter when anything in the stand-in changed; waiters re-check their own condition."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait_for(
        self,
        predicate: Callable[[], bool],
        timeout: float,  # noqa: ASYNC109 - harness waits are bounded by default
        what: str = "condition",
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"stand-in: timed out after {timeout:.2f}s waiting for {what}")
            event = self._event
            try:
                await asyncio.wait_for(event.wait(), min(remaining, 0.05))  # re-poll: predicates may watch the bot
            except TimeoutError:
                pass


@dataclass
class CallbackRecord:
    """One `POST /interactions/{id}/{token}/callback` the bot made."""

    type: int
    data: Json | None
    files: list[FileRecord]
    at: float  # time.perf_counter()
    latency: float  # seconds since the interaction was dispatched
    status: int  # what the stand-in answered
    accepted: bool
    late: bool = False

    @property
    def ephemeral(self) -> bool:
        return bool((self.data or {}).get("flags", 0) & 64)

    @property
    def content(self) -> str | None:
        value = (self.data or {}).get("content")
        return None if value is None else str(value)


@dataclass
class InteractionHandle:
    """An interaction the stand-in dispatched; await its results (`wait_response`, `wait_reply`, ...)."""

    id: int
    token: str
    app: Application
    name: str
    type: int
    payload: Json
    guild_id: int | None
    channel_id: int
    user: User
    deadline: float
    notifier: Notifier
    dispatched_at: float = field(default_factory=time.perf_counter)
    callbacks: list[CallbackRecord] = field(default_factory=list)
    original: MessageRecord | None = None
    followups: list[MessageRecord] = field(default_factory=list)
    edits: list[Json] = field(default_factory=list)
    source_message: MessageRecord | None = None  # for component interactions

    @property
    def response(self) -> CallbackRecord | None:
        """The accepted initial response (None if there is none yet, or it came too late)."""
        return next((c for c in self.callbacks if c.accepted), None)

    @property
    def acknowledged(self) -> bool:
        return self.response is not None

    @property
    def late(self) -> bool:
        """True when a callback arrived after the deadline (Discord answered it with 404 Unknown interaction)."""
        return any(c.late for c in self.callbacks)

    @property
    def latency(self) -> float | None:
        """Seconds from dispatch to the first callback attempt."""
        return self.callbacks[0].latency if self.callbacks else None

    def expired(self) -> bool:
        return time.perf_counter() - self.dispatched_at > self.deadline

    async def wait_response(self, timeout: float = 5.0) -> CallbackRecord:  # noqa: ASYNC109
        """The first callback attempt (accepted or not: check `.accepted` / `.late`)."""
        await self.notifier.wait_for(lambda: bool(self.callbacks), timeout, f"a response to /{self.name}")
        return self.callbacks[0]

    async def wait_followups(self, count: int = 1, timeout: float = 5.0) -> list[MessageRecord]:  # noqa: ASYNC109
        await self.notifier.wait_for(lambda: len(self.followups) >= count, timeout, f"{count} followup(s)")
        return list(self.followups)

    async def wait_reply(self, timeout: float = 5.0) -> MessageRecord:  # noqa: ASYNC109
        """The first message the user sees: the original (once it is not 'thinking…') or else the first followup."""

        def ready() -> bool:
            return self._reply() is not None

        await self.notifier.wait_for(ready, timeout, f"a reply to /{self.name}")
        reply = self._reply()
        assert reply is not None
        return reply

    def _reply(self) -> MessageRecord | None:
        if self.original is not None and not self.original.loading:
            return self.original
        if self.followups:
            return self.followups[0]
        return None


# -- building the payload -------------------------------------------------------------------------------

OPTION_TYPES = {
    1: "SUB_COMMAND",
    2: "SUB_COMMAND_GROUP",
    3: "STRING",
    4: "INTEGER",
    5: "BOOLEAN",
    6: "USER",
    7: "CHANNEL",
    8: "ROLE",
    9: "MENTIONABLE",
    10: "NUMBER",
    11: "ATTACHMENT",
}


class Resolver:
    """Collects the `resolved` block for user/channel/role options as Discord does."""

    def __init__(self, world: World, guild: Guild | None, channel: Channel | None) -> None:
        self.world = world
        self.guild = guild
        self.channel = channel
        self.data: dict[str, dict[str, Json]] = {}

    def user(self, user_id: int) -> None:
        user = self.world.users.get(user_id)
        if user is None:
            raise ValueError(f"unknown user {user_id}")
        self.data.setdefault("users", {})[str(user_id)] = user.payload()
        member = self.guild.members.get(user_id) if self.guild else None
        if member is not None and self.guild is not None:
            perms = self.world.permissions(self.guild, user_id, self.channel)
            data = member_payload(self.world, member, with_user=False, permissions=perms)
            self.data.setdefault("members", {})[str(user_id)] = data

    def role(self, role_id: int) -> None:
        role = self.guild.roles.get(role_id) if self.guild else None
        if role is None:
            raise ValueError(f"unknown role {role_id}")
        self.data.setdefault("roles", {})[str(role_id)] = role.payload()

    def channel_option(self, channel_id: int, invoker: int) -> None:
        channel = self.world.channels.get(channel_id)
        if channel is None:
            raise ValueError(f"unknown channel {channel_id}")
        perms = self.world.permissions(self.guild, invoker, channel) if self.guild else 0
        data = channel_payload(self.world, channel, permissions=perms)
        self.data.setdefault("channels", {})[str(channel_id)] = data


def build_options(
    schema: list[Json],
    values: Mapping[str, Any],
    resolver: Resolver,
    *,
    invoker: int,
    focused: str | None,
) -> list[Json]:
    """Typed option list for the leaf command, from its registered schema and plain Python values."""
    by_name = {str(o["name"]): o for o in schema if o.get("type") not in (1, 2)}
    for name, spec in by_name.items():
        if spec.get("required") and name not in values and name != focused:
            raise ValueError(f"missing required option {name!r}")
    out: list[Json] = []
    for name, value in values.items():
        opt = by_name.get(name)
        if opt is None:
            raise ValueError(f"unknown option {name!r}; registered: {sorted(by_name)}")
        kind = int(opt["type"])
        item: Json = {"name": name, "type": kind, "value": _convert(kind, value, resolver, invoker)}
        if name == focused:
            item["focused"] = True
            item["value"] = str(value)
        out.append(item)
    return out


def _convert(kind: int, value: Any, resolver: Resolver, invoker: int) -> Any:
    if kind == 3:
        return str(value)
    if kind == 4:
        return int(value)
    if kind == 5:
        return bool(value)
    if kind == 10:
        return float(value)
    if kind in (6, 7, 8, 9):
        snowflake = int(getattr(value, "id", value))
        if kind == 6:
            resolver.user(snowflake)
        elif kind == 7:
            resolver.channel_option(snowflake, invoker)
        elif kind == 8 or (resolver.guild is not None and snowflake in resolver.guild.roles):
            resolver.role(snowflake)
        else:
            resolver.user(snowflake)
        return str(snowflake)
    raise ValueError(f"option type {OPTION_TYPES.get(kind, kind)} is not supported by the stand-in")


def nest_options(command: CommandRecord, path: list[str], leaf: list[Json]) -> tuple[list[Json], list[Json]]:
    """Find the leaf schema under `path` (group/subcommand names) and wrap `leaf` into the nested options."""
    schema: list[Json] = list(command.data.get("options") or [])
    chain: list[Json] = []
    for part in path:
        node = next((o for o in schema if o.get("name") == part and o.get("type") in (1, 2)), None)
        if node is None:
            raise ValueError(f"/{command.name}: no subcommand or group {part!r}")
        chain.append(node)
        schema = list(node.get("options") or [])
    if any(o.get("type") in (1, 2) for o in schema):
        raise ValueError(f"/{command.name} {' '.join(path)}: a subcommand must be chosen")
    return schema, _wrap(chain, leaf)


def _wrap(chain: list[Json], leaf: list[Json]) -> list[Json]:
    options = leaf
    for node in reversed(chain):
        options = [{"name": node["name"], "type": node["type"], "options": options}]
    return options


def interaction_base(
    world: World,
    app: Application,
    *,
    interaction_id: int,
    kind: int,
    data: Json,
    guild: Guild | None,
    channel: Channel,
    user: User,
    locale: str,
    guild_locale: str | None,
    app_permissions: int | None,
) -> tuple[Json, str]:
    token = f"aW50ZXJhY3Rpb246{interaction_id}{secrets.token_urlsafe(48)}"
    payload: Json = {
        "id": str(interaction_id),
        "application_id": str(app.id),
        "type": kind,
        "data": data,
        "channel_id": str(channel.id),
        "token": token,
        "version": 1,
        "locale": locale,
        "entitlements": [],
        "entitlement_sku_ids": [],
        "attachment_size_limit": 10 * 1024 * 1024,
    }
    if guild is not None:
        perms = world.permissions(guild, user.id, channel)
        bot_perms = world.permissions(guild, app.bot.id, channel) if app_permissions is None else app_permissions
        member = guild.members.get(user.id)
        if member is None:
            raise ValueError(f"user {user.id} is not a member of guild {guild.id}")
        payload.update(
            guild_id=str(guild.id),
            guild={"id": str(guild.id), "locale": guild.preferred_locale, "features": list(guild.features)},
            guild_locale=guild_locale or guild.preferred_locale,
            member=member_payload(world, member, permissions=perms),
            app_permissions=str(bot_perms),
            channel=channel_payload(world, channel, permissions=perms),
            authorizing_integration_owners={"0": str(guild.id)},
            context=0,
        )
    else:
        payload.update(
            user=user.payload(),
            app_permissions=str(app_permissions or 0),
            channel=channel_payload(world, channel),
            authorizing_integration_owners={"0": "0"},
            context=1,
        )
    return payload, token


def component_data(custom_id: str, values: list[str] | None) -> Json:
    """`data` of a button press (no values) or a string-select choice (values)."""
    data: Json = {"custom_id": custom_id, "component_type": 2 if values is None else 3}
    if values is not None:
        data["values"] = values
    return data
