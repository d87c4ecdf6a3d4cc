"""The stand-in's interaction driver: dispatches slash commands, autocomplete and clicks as Discord would."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from .gateway import Gateway
from .interactions import (
    InteractionHandle,
    Notifier,
    Resolver,
    build_options,
    component_data,
    interaction_base,
    nest_options,
)
from .payloads import message_payload
from .state import Application, Channel, CommandRecord, DefaultWorld, Guild, Json, MessageRecord, User, World


class InteractionDriver:
    """Mixed into StandIn: `invoke` (slash command / autocomplete) and `click` (button or select)."""

    world: World
    app: Application
    defaults: DefaultWorld | None
    gateway: Gateway
    notifier: Notifier
    interaction_deadline: float
    interactions: dict[int, InteractionHandle]
    interactions_by_token: dict[str, InteractionHandle]

    async def invoke(
        self,
        command: str,
        options: Mapping[str, Any] | None = None,
        *,
        user_id: int | None = None,
        guild_id: int | None = None,
        channel_id: int | None = None,
        locale: str = "en-US",
        guild_locale: str | None = None,
        app_permissions: int | None = None,
        application: Application | None = None,
        dm: bool = False,
        focused: str | None = None,
        deadline: float | None = None,
    ) -> InteractionHandle:
        """Dispatch a slash command as INTERACTION_CREATE, built the way Discord builds it.

        `command` is the full path ("ping", "study set reminder"); `options` maps the leaf's option names to plain
        values (ints for user/channel/role ids) and gets its types and `resolved` data from the *registered*
        command, so the bot must have synced it. Defaults: the default guild, its first text channel and the
        plain member. `focused` makes it an autocomplete interaction (type 4). Returns at once; await the
        handle's `wait_response()` / `wait_reply()` / `wait_followups()`.
        """
        app = application or self.app
        name, *path = command.strip().lstrip("/").split()
        user = self._user(user_id)
        guild: Guild | None = None
        if dm:
            channel = self.world.dm_channel(user)
        else:
            guild = self.world.guilds[guild_id or self._default_guild_id()]
            channel = self.world.channels[channel_id or next(c.id for c in guild.channels.values() if c.type == 0)]
        record = self._find_command(app, name, guild.id if guild else None)
        schema, _ = nest_options(record, path, [])
        resolver = Resolver(self.world, guild, channel)
        leaf = build_options(schema, dict(options or {}), resolver, invoker=user.id, focused=focused)
        _, nested = nest_options(record, path, leaf)
        data: Json = {"id": str(record.id), "name": record.name, "type": 1, "options": nested}
        if record.guild_id is not None:
            data["guild_id"] = str(record.guild_id)
        if resolver.data:
            data["resolved"] = resolver.data
        payload, token = interaction_base(
            self.world,
            app,
            interaction_id=self.world.snowflakes.next(),
            kind=4 if focused else 2,
            data=data,
            guild=guild,
            channel=channel,
            user=user,
            locale=locale,
            guild_locale=guild_locale,
            app_permissions=app_permissions,
        )
        return self._dispatch(app, payload, token, " ".join([name, *path]), user, deadline, None)

    async def click(
        self,
        message: MessageRecord | int,
        custom_id: str,
        *,
        values: list[str] | None = None,
        user_id: int | None = None,
        locale: str = "en-US",
        deadline: float | None = None,
    ) -> InteractionHandle:
        """Press a button (or pick select `values`) on a message the bot sent: a type-3 interaction.

        The bot answers with 4/5 (new message), 6 (deferred update) or 7 (edit the clicked message).
        """
        record = message if isinstance(message, MessageRecord) else self.world.messages[message]
        present = {str(c.get("custom_id")) for row in record.components for c in row.get("components") or []}
        if custom_id not in present:  # Discord only delivers presses of components the message shows
            raise ValueError(f"message {record.id} has no component {custom_id!r}; it has {sorted(present)}")
        app = next((a for a in self.world.apps.values() if a.bot.id == record.author.id), self.app)
        channel = self.world.channels[record.channel_id]
        user = self._user(user_id)
        payload, token = interaction_base(
            self.world,
            app,
            interaction_id=self.world.snowflakes.next(),
            kind=3,
            data=component_data(custom_id, values),
            guild=self.world.guild_of(channel),
            channel=channel,
            user=user,
            locale=locale,
            guild_locale=None,
            app_permissions=None,
        )
        payload["message"] = message_payload(self.world, record)
        return self._dispatch(app, payload, token, custom_id, user, deadline, record)

    def interaction(self, interaction_id: int) -> InteractionHandle:
        return self.interactions[interaction_id]

    def _user(self, user_id: int | None) -> User:
        default = self.defaults.member_user_id if self.defaults else self.app.owner.id
        return self.world.users[user_id or default]

    def _default_guild_id(self) -> int:
        return self.defaults.guild_id if self.defaults else next(iter(self.world.guilds))

    def _find_command(self, app: Application, name: str, guild_id: int | None) -> CommandRecord:
        for scope in ([guild_id] if guild_id is not None else []) + [None]:
            for record in self.world.commands_for(app.id, scope):
                if record.name == name and record.type == 1:
                    return record
        registered = [c.name for key, cs in self.world.commands.items() if key[0] == app.id for c in cs]
        raise LookupError(f"/{name} is not registered (registered: {sorted(registered)}); did the bot sync?")

    def _dispatch(
        self,
        app: Application,
        payload: Json,
        token: str,
        name: str,
        user: User,
        deadline: float | None,
        message: MessageRecord | None,
    ) -> InteractionHandle:
        channel: Channel = self.world.channels[int(payload["channel_id"])]
        handle = InteractionHandle(
            id=int(payload["id"]),
            token=token,
            app=app,
            name=name,
            type=int(payload["type"]),
            payload=payload,
            guild_id=channel.guild_id,
            channel_id=channel.id,
            user=user,
            deadline=self.interaction_deadline if deadline is None else deadline,
            notifier=self.notifier,
            source_message=message,
        )
        self.interactions[handle.id] = handle
        self.interactions_by_token[token] = handle
        handle.dispatched_at = time.perf_counter()
        self.gateway.dispatch("INTERACTION_CREATE", payload, app_id=app.id)
        return handle
