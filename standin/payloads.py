"""Turns the stand-in's world objects into the JSON shapes Discord sends (and discord.py parses)."""

from __future__ import annotations

from .state import (
    Application,
    Channel,
    CommandRecord,
    Guild,
    Json,
    Member,
    MessageRecord,
    World,
    iso,
)


def member_payload(
    world: World,
    member: Member,
    *,
    with_user: bool = True,
    permissions: int | None = None,
) -> Json:
    data: Json = {
        "roles": [str(r) for r in member.roles],
        "nick": member.nick,
        "avatar": None,
        "banner": None,
        "joined_at": iso(member.joined_at),
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "flags": 0,
        "pending": False,
        "communication_disabled_until": None,
    }
    if with_user:
        data["user"] = member.user.payload()
    if permissions is not None:
        data["permissions"] = str(permissions)
    return data


def channel_payload(world: World, channel: Channel, *, permissions: int | None = None) -> Json:
    if channel.type == 1:
        recipient = world.users.get(channel.recipient_id or 0)
        return {
            "id": str(channel.id),
            "type": 1,
            "last_message_id": _opt(channel.last_message_id),
            "recipients": [recipient.payload()] if recipient else [],
            "flags": 0,
        }
    data: Json = {
        "id": str(channel.id),
        "type": channel.type,
        "guild_id": _opt(channel.guild_id),
        "name": channel.name,
        "position": channel.position,
        "parent_id": _opt(channel.parent_id),
        "permission_overwrites": [ow.payload() for ow in channel.overwrites],
        "nsfw": False,
        "flags": 0,
    }
    if channel.type in (0, 5):
        data.update(
            topic=channel.topic,
            last_message_id=_opt(channel.last_message_id),
            rate_limit_per_user=0,
            default_auto_archive_duration=1440,
        )
    elif channel.type in (2, 13):
        data.update(bitrate=64000, user_limit=0, rtc_region=None)
    if permissions is not None:
        data["permissions"] = str(permissions)
    return data


def guild_payload(world: World, guild: Guild, *, full: bool, include_members: bool = True) -> Json:
    """The guild object; `full` adds what GUILD_CREATE carries (channels, members, events, counts)."""
    data: Json = {
        "id": str(guild.id),
        "name": guild.name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "banner": None,
        "description": None,
        "owner_id": str(guild.owner_id),
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 1,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw_level": 0,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "premium_progress_bar_enabled": False,
        "preferred_locale": guild.preferred_locale,
        "features": list(guild.features),
        "roles": [r.payload() for r in sorted(guild.roles.values(), key=lambda r: r.position)],
        "emojis": [],
        "stickers": [],
        "system_channel_id": _opt(guild.system_channel_id),
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "public_updates_channel_id": None,
        "safety_alerts_channel_id": None,
        "vanity_url_code": None,
        "max_members": 500000,
        "max_video_channel_users": 25,
        "widget_enabled": False,
        "application_id": None,
        "incidents_data": None,
    }
    if full:
        members = list(guild.members.values()) if include_members else []
        data.update(
            joined_at=iso(world.clock()),
            large=len(guild.members) >= 250,
            unavailable=False,
            member_count=len(guild.members),
            voice_states=[],
            members=[member_payload(world, m) for m in members],
            channels=[channel_payload(world, c) for c in guild.channels.values()],
            threads=[],
            presences=[],
            stage_instances=[],
            guild_scheduled_events=list(guild.scheduled_events.values()),
            soundboard_sounds=[],
        )
    return data


def application_payload(app: Application) -> Json:
    return {
        "id": str(app.id),
        "name": app.name,
        "icon": None,
        "description": "Discord stand-in application",
        "summary": "",
        "type": None,
        "hook": True,
        "bot_public": False,
        "bot_require_code_grant": False,
        "verify_key": "0" * 64,
        "owner": app.owner.payload(),
        "team": None,
        "flags": app.flags,
        "bot": app.bot.payload(),
        "redirect_uris": [],
        "interactions_endpoint_url": None,
        "role_connections_verification_url": None,
        "tags": [],
        "approximate_guild_count": 0,
    }


def command_payload(record: CommandRecord) -> Json:
    data = dict(record.data)
    data.setdefault("type", 1)
    data.setdefault("description", "")
    data.setdefault("options", [])
    data.setdefault("default_member_permissions", None)
    data.setdefault("nsfw", False)
    data.setdefault("name_localizations", None)
    data.setdefault("description_localizations", None)
    if record.guild_id is None:
        data.setdefault("contexts", None)
        data.setdefault("integration_types", [0])
    data.update(
        id=str(record.id),
        application_id=str(record.application_id),
        version=str(record.version),
    )
    if record.guild_id is not None:
        data["guild_id"] = str(record.guild_id)
    return data


def message_payload(world: World, message: MessageRecord) -> Json:
    data: Json = {
        "id": str(message.id),
        "type": message.message_type,
        "channel_id": str(message.channel_id),
        "author": message.author.payload(),
        "content": message.content,
        "timestamp": iso(message.created_at),
        "edited_timestamp": iso(message.edited_at) if message.edited_at else None,
        "tts": message.tts,
        "mention_everyone": message.pings.everyone,
        "mentions": [world.users[u].payload() for u in sorted(message.pings.users) if u in world.users],
        "mention_roles": [str(r) for r in sorted(message.pings.roles)],
        "attachments": list(message.attachments),
        "embeds": list(message.embeds),
        "pinned": False,
        "flags": message.flags,
        "components": list(message.components),
    }
    if message.guild_id is not None:
        data["guild_id"] = str(message.guild_id)
    if message.nonce is not None:
        data["nonce"] = message.nonce
    if message.message_reference is not None:
        data["message_reference"] = message.message_reference
    if message.application_id is not None:
        data["application_id"] = str(message.application_id)
        data["webhook_id"] = str(message.application_id)
    data.update(message.extra)
    return data


def _opt(value: int | None) -> str | None:
    return None if value is None else str(value)
