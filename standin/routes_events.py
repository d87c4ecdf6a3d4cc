"""REST routes for guild scheduled events, with Discord's validation, the 100-active cap and Manage Events checks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .rest import Ctx, Reply, Router
from .state import Guild, Json, Perm
from .validate import ApiError, check_scheduled_event

if TYPE_CHECKING:
    from .server import StandIn

ACTIVE = (1, 2)  # SCHEDULED, ACTIVE
TRANSITIONS = {1: {1, 2, 4}, 2: {2, 3}, 3: {3}, 4: {4}}  # SCHEDULED→ACTIVE/CANCELED, ACTIVE→COMPLETED
FIELDS = (
    "name",
    "description",
    "channel_id",
    "entity_metadata",
    "scheduled_start_time",
    "scheduled_end_time",
    "privacy_level",
    "entity_type",
    "image",
    "recurrence_rule",
)


def register(router: Router, s: StandIn) -> None:
    world = s.world

    def guild_or_404(ctx: Ctx) -> Guild:
        guild = world.guilds.get(ctx.int_param("guild_id"))
        if guild is None or ctx.authed.bot.id not in guild.members:
            raise ApiError(404, 10004, "Unknown Guild")
        return guild

    def require_manage_events(ctx: Ctx, guild: Guild) -> None:
        perms = world.base_permissions(guild, ctx.authed.bot.id)
        if not perms & (Perm.MANAGE_EVENTS | Perm.CREATE_EVENTS):
            raise ApiError(403, 50013, "Missing Permissions")

    def event_or_404(ctx: Ctx, guild: Guild) -> Json:
        event = guild.scheduled_events.get(ctx.int_param("event_id"))
        if event is None:
            raise ApiError(404, 10070, "Unknown Guild Scheduled Event")
        return event

    def voice_channels(guild: Guild) -> list[int]:
        return [c.id for c in guild.channels.values() if c.type in (2, 13)]

    def shown(event: Json, ctx: Ctx) -> Json:
        data = dict(event)
        if ctx.query.get("with_user_count") not in ("true", "1", "True"):
            data.pop("user_count", None)
        return data

    async def list_events(ctx: Ctx) -> Reply:
        guild = guild_or_404(ctx)
        return Reply(body=[shown(e, ctx) for e in guild.scheduled_events.values()])

    async def create_event(ctx: Ctx) -> Reply:
        guild = guild_or_404(ctx)
        require_manage_events(ctx, guild)
        body = ctx.body
        active = sum(1 for e in guild.scheduled_events.values() if e["status"] in ACTIVE)
        if active >= s.max_scheduled_events:
            raise ApiError(400, 30038, "Maximum number of uncompleted guild scheduled events reached (100)")
        check_scheduled_event(body, existing=None, now=world.clock(), channel_ids=voice_channels(guild))
        event_id = world.snowflakes.next()
        bot = ctx.authed.bot
        event: Json = {
            "id": str(event_id),
            "guild_id": str(guild.id),
            "channel_id": None,
            "creator_id": str(bot.id),
            "creator": bot.payload(),
            "name": body["name"],
            "description": body.get("description"),
            "scheduled_start_time": body["scheduled_start_time"],
            "scheduled_end_time": body.get("scheduled_end_time"),
            "privacy_level": body.get("privacy_level", 2),
            "status": 1,
            "entity_type": body["entity_type"],
            "entity_id": None,
            "entity_metadata": body.get("entity_metadata"),
            "user_count": 0,
            "image": None,
            "recurrence_rule": body.get("recurrence_rule"),
        }
        if body.get("channel_id") is not None:
            event["channel_id"] = str(body["channel_id"])
        guild.scheduled_events[event_id] = event
        s.gateway.dispatch("GUILD_SCHEDULED_EVENT_CREATE", dict(event), guild_id=guild.id)
        return Reply(body=shown(event, ctx))

    async def get_event(ctx: Ctx) -> Reply:
        guild = guild_or_404(ctx)
        return Reply(body=shown(event_or_404(ctx, guild), ctx))

    async def edit_event(ctx: Ctx) -> Reply:
        guild = guild_or_404(ctx)
        require_manage_events(ctx, guild)
        event = event_or_404(ctx, guild)
        body = ctx.body
        if "status" in body and int(body["status"]) not in TRANSITIONS[int(event["status"])]:
            raise ApiError(400, 180000, "Cannot update event status from its current state")
        if event["status"] not in ACTIVE and set(body) - {"status"}:
            raise ApiError(400, 180000, "Cannot modify a finished event")
        check_scheduled_event(body, existing=event, now=world.clock(), channel_ids=voice_channels(guild))
        for key in FIELDS:
            if key in body:
                value = body[key]
                event[key] = str(value) if key == "channel_id" and value is not None else value
        if "status" in body:
            event["status"] = int(body["status"])
        s.gateway.dispatch("GUILD_SCHEDULED_EVENT_UPDATE", dict(event), guild_id=guild.id)
        return Reply(body=shown(event, ctx))

    async def delete_event(ctx: Ctx) -> Reply:
        guild = guild_or_404(ctx)
        require_manage_events(ctx, guild)
        event = event_or_404(ctx, guild)
        del guild.scheduled_events[int(event["id"])]
        s.gateway.dispatch("GUILD_SCHEDULED_EVENT_DELETE", dict(event), guild_id=guild.id)
        return Reply(status=204)

    base = "/guilds/{guild_id}/scheduled-events"
    router.add("GET", base, list_events)
    router.add("POST", base, create_event)
    router.add("GET", f"{base}/{{event_id}}", get_event)
    router.add("PATCH", f"{base}/{{event_id}}", edit_event)
    router.add("DELETE", f"{base}/{{event_id}}", delete_event)
