"""REST routes for login, gateway discovery, users, guilds, channels and channel messages."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .messages import edit_message, find_nonce_duplicate, new_message, paginate
from .payloads import application_payload, channel_payload, guild_payload, member_payload, message_payload
from .rest import Ctx, Reply, Router
from .state import Channel, Guild, MessageRecord, Perm
from .validate import ApiError

if TYPE_CHECKING:
    from .server import StandIn


def register(router: Router, s: StandIn) -> None:
    world = s.world

    def guild_or_404(ctx: Ctx) -> Guild:
        guild = world.guilds.get(ctx.int_param("guild_id"))
        if guild is None or ctx.authed.bot.id not in guild.members:
            raise ApiError(404, 10004, "Unknown Guild")
        return guild

    def channel_or_404(ctx: Ctx) -> Channel:
        channel = world.channels.get(ctx.int_param("channel_id"))
        if channel is None:
            raise ApiError(404, 10003, "Unknown Channel")
        guild = world.guild_of(channel)
        if guild is not None:
            perms = world.permissions(guild, ctx.authed.bot.id, channel)
            if ctx.authed.bot.id not in guild.members or not perms & Perm.VIEW_CHANNEL:
                raise ApiError(403, 50001, "Missing Access")
        elif channel.recipient_id is None:
            raise ApiError(404, 10003, "Unknown Channel")
        return channel

    def message_or_404(ctx: Ctx, channel: Channel) -> MessageRecord:
        message = world.messages.get(ctx.int_param("message_id"))
        if message is None or message.channel_id != channel.id or message.deleted or message.ephemeral:
            raise ApiError(404, 10008, "Unknown Message")
        return message

    # -- login and gateway discovery -------------------------------------------------------------------

    async def get_me(ctx: Ctx) -> Reply:
        return Reply(body={**ctx.authed.bot.payload(), "verified": True, "mfa_enabled": False, "email": None})

    async def get_application(ctx: Ctx) -> Reply:
        return Reply(body=application_payload(ctx.authed))

    async def get_gateway(ctx: Ctx) -> Reply:
        return Reply(body={"url": s.gateway_url})

    async def get_gateway_bot(ctx: Ctx) -> Reply:
        limit = {"total": 1000, "remaining": 999, "reset_after": 14_400_000, "max_concurrency": 1}
        return Reply(body={"url": s.gateway_url, "shards": s.recommended_shards, "session_start_limit": limit})

    async def get_user(ctx: Ctx) -> Reply:
        user = world.users.get(ctx.int_param("user_id"))
        if user is None:
            raise ApiError(404, 10013, "Unknown User")
        return Reply(body=user.payload())

    async def create_dm(ctx: Ctx) -> Reply:
        user = world.users.get(int(ctx.body.get("recipient_id") or 0))
        if user is None:
            raise ApiError(
                400,
                50035,
                "Invalid Form Body",
                errors={"recipient_id": {"_errors": [{"code": "NUMBER_TYPE_COERCE", "message": "Unknown user"}]}},
            )
        return Reply(body=channel_payload(world, world.dm_channel(user)))

    router.add("GET", "/users/@me", get_me)
    router.add("GET", "/oauth2/applications/@me", get_application)
    router.add("GET", "/applications/@me", get_application)
    router.add("GET", "/gateway", get_gateway, auth=False)
    router.add("GET", "/gateway/bot", get_gateway_bot)
    router.add("POST", "/users/@me/channels", create_dm)
    router.add("GET", "/users/{user_id}", get_user)

    # -- guilds --------------------------------------------------------------------------------------

    async def get_guild(ctx: Ctx) -> Reply:
        guild = guild_or_404(ctx)
        body = guild_payload(world, guild, full=False)
        if ctx.query.get("with_counts") in ("true", "1", "True"):
            body.update(approximate_member_count=len(guild.members), approximate_presence_count=0)
        return Reply(body=body)

    async def get_guild_channels(ctx: Ctx) -> Reply:
        guild = guild_or_404(ctx)
        return Reply(body=[channel_payload(world, c) for c in guild.channels.values()])

    async def get_guild_roles(ctx: Ctx) -> Reply:
        guild = guild_or_404(ctx)
        return Reply(body=[r.payload() for r in sorted(guild.roles.values(), key=lambda r: r.position)])

    async def get_member(ctx: Ctx) -> Reply:
        guild = guild_or_404(ctx)
        member = guild.members.get(ctx.int_param("user_id"))
        if member is None:
            raise ApiError(404, 10007, "Unknown Member")
        return Reply(body=member_payload(world, member))

    async def list_members(ctx: Ctx) -> Reply:
        guild = guild_or_404(ctx)
        limit = max(1, min(1000, int(ctx.query.get("limit", "1"))))
        after = int(ctx.query.get("after", "0"))
        members = sorted((m for m in guild.members.values() if m.user.id > after), key=lambda m: m.user.id)
        return Reply(body=[member_payload(world, m) for m in members[:limit]])

    router.add("GET", "/guilds/{guild_id}", get_guild)
    router.add("GET", "/guilds/{guild_id}/channels", get_guild_channels)
    router.add("GET", "/guilds/{guild_id}/roles", get_guild_roles)
    router.add("GET", "/guilds/{guild_id}/members", list_members)
    router.add("GET", "/guilds/{guild_id}/members/{user_id}", get_member)

    # -- channels and messages -----------------------------------------------------------------------

    async def get_channel(ctx: Ctx) -> Reply:
        return Reply(body=channel_payload(world, channel_or_404(ctx)))

    async def typing(ctx: Ctx) -> Reply:
        channel_or_404(ctx)
        return Reply(status=204)

    async def create_message(ctx: Ctx) -> Reply:
        channel = channel_or_404(ctx)
        body = ctx.body
        bot = ctx.authed.bot
        guild = world.guild_of(channel)
        if guild is not None:
            perms = world.permissions(guild, bot.id, channel)
            if not perms & Perm.SEND_MESSAGES or (ctx.files and not perms & Perm.ATTACH_FILES):
                raise ApiError(403, 50013, "Missing Permissions")
        if body.get("enforce_nonce"):
            existing = find_nonce_duplicate(world, channel.id, bot.id, body.get("nonce"), window_s=s.nonce_window)
            if existing is not None:
                s.nonce_hits += 1
                return Reply(body=message_payload(world, existing))
        message = new_message(
            world, s.attachments, channel=channel, author=bot, body=body, files=ctx.files, source="channel"
        )
        payload = message_payload(world, message)
        s.gateway.dispatch("MESSAGE_CREATE", payload, guild_id=channel.guild_id)
        return Reply(body=payload)

    async def list_messages(ctx: Ctx) -> Reply:
        channel = channel_or_404(ctx)
        items = paginate(world.visible_messages(channel.id), ctx.query)
        return Reply(body=[message_payload(world, m) for m in items])

    async def get_message(ctx: Ctx) -> Reply:
        channel = channel_or_404(ctx)
        return Reply(body=message_payload(world, message_or_404(ctx, channel)))

    async def patch_message(ctx: Ctx) -> Reply:
        channel = channel_or_404(ctx)
        message = message_or_404(ctx, channel)
        if message.author.id != ctx.authed.bot.id:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        edit_message(world, s.attachments, message, ctx.body, ctx.files)
        payload = message_payload(world, message)
        s.gateway.dispatch("MESSAGE_UPDATE", payload, guild_id=channel.guild_id)
        return Reply(body=payload)

    async def delete_message(ctx: Ctx) -> Reply:
        channel = channel_or_404(ctx)
        message = message_or_404(ctx, channel)
        guild = world.guild_of(channel)
        own = message.author.id == ctx.authed.bot.id
        if (
            not own
            and guild is not None
            and not world.permissions(guild, ctx.authed.bot.id, channel) & (Perm.MANAGE_MESSAGES)
        ):
            raise ApiError(403, 50013, "Missing Permissions")
        message.deleted = True
        data = {"id": str(message.id), "channel_id": str(channel.id)}
        if channel.guild_id is not None:
            data["guild_id"] = str(channel.guild_id)
        s.gateway.dispatch("MESSAGE_DELETE", data, guild_id=channel.guild_id)
        return Reply(status=204)

    router.add("GET", "/channels/{channel_id}", get_channel)
    router.add("POST", "/channels/{channel_id}/typing", typing)
    router.add("POST", "/channels/{channel_id}/messages", create_message)
    router.add("GET", "/channels/{channel_id}/messages", list_messages)
    router.add("GET", "/channels/{channel_id}/messages/{message_id}", get_message)
    router.add("PATCH", "/channels/{channel_id}/messages/{message_id}", patch_message)
    router.add("DELETE", "/channels/{channel_id}/messages/{message_id}", delete_message)
