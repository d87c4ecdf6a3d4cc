"""What every feature cog shares: language choice, permission check, and sending a rendered Reply.

This is the only place that turns renderer output into discord.py objects, and it always sends with an
`allowed_mentions` that can ping nobody but the roles a reply names on purpose.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import discord

from bot.core.model import StudySnapshot
from bot.core.permissions import is_study_admin
from bot.errors import UserError
from bot.i18n import language_for
from bot.render.embeds import EmbedSpec, Reply
from bot.services.base import Actor

if TYPE_CHECKING:
    from bot.app import StudyBot

NO_PINGS = discord.AllowedMentions(everyone=False, users=False, roles=False, replied_user=False)


def allowed_mentions_for(reply: Reply) -> discord.AllowedMentions:
    """Exactly the roles and users the reply means to ping; never @everyone/@here, nobody else."""
    if not reply.ping_role_ids and not reply.ping_user_ids:
        return NO_PINGS
    return discord.AllowedMentions(
        everyone=False,
        users=[discord.Object(id=user_id) for user_id in reply.ping_user_ids] or False,
        roles=[discord.Object(id=role_id) for role_id in reply.ping_role_ids] or False,
        replied_user=False,
    )


class ComponentsOnly(discord.ui.View):
    """Buttons and menus whose presses are handled by dynamic items registered at start-up (their
    custom_id says what they mean), so nothing is kept in memory per message and a restart loses nothing."""

    def __init__(self) -> None:
        super().__init__(timeout=None)

    def is_dispatchable(self) -> bool:
        return False  # never stored in discord.py's view store: the dynamic items answer


_STYLES = {
    "primary": discord.ButtonStyle.primary,
    "secondary": discord.ButtonStyle.secondary,
    "success": discord.ButtonStyle.success,
    "danger": discord.ButtonStyle.danger,
}


def view_for(reply: Reply) -> discord.ui.View | None:
    if not reply.buttons and reply.select is None:
        return None
    view = ComponentsOnly()
    for spec in reply.buttons:
        view.add_item(
            discord.ui.Button(
                style=_STYLES.get(spec.style, discord.ButtonStyle.secondary),
                label=spec.label,
                custom_id=spec.custom_id,
                emoji=spec.emoji or None,
            )
        )
    if reply.select is not None:
        view.add_item(
            discord.ui.Select(
                custom_id=reply.select.custom_id,
                placeholder=reply.select.placeholder,
                options=[discord.SelectOption(label=label, value=value) for label, value in reply.select.options],
            )
        )
    return view


def to_embed(spec: EmbedSpec) -> discord.Embed:
    embed = discord.Embed(
        title=spec.title or None, description=spec.description or None, url=spec.url, color=spec.color
    )
    for field in spec.fields:
        embed.add_field(name=field.name, value=field.value, inline=field.inline)
    if spec.footer:
        embed.set_footer(text=spec.footer)
    return embed


def files_for(reply: Reply) -> list[discord.File]:
    if reply.file_name and reply.file_bytes is not None:
        return [discord.File(io.BytesIO(reply.file_bytes), filename=reply.file_name)]
    return []


async def send(interaction: discord.Interaction[StudyBot], reply: Reply) -> None:
    """Answer the interaction (or follow up if it was deferred) with `reply`."""
    embeds = [to_embed(e) for e in reply.embeds]
    mentions = allowed_mentions_for(reply)
    files = files_for(reply)
    view = view_for(reply)
    if interaction.response.is_done():
        await interaction.followup.send(
            content=reply.content or discord.utils.MISSING,
            embeds=embeds,
            ephemeral=reply.ephemeral,
            allowed_mentions=mentions,
            files=files,
            view=view or discord.utils.MISSING,
        )
    else:
        await interaction.response.send_message(
            content=reply.content or None,
            embeds=embeds,
            ephemeral=reply.ephemeral,
            allowed_mentions=mentions,
            files=files,
            view=view or discord.utils.MISSING,
        )


def study_for(interaction: discord.Interaction[StudyBot]) -> StudySnapshot:
    snap = interaction.client.directory.by_guild(interaction.guild_id)
    if snap is None:
        raise UserError("error.no_study")
    return snap


def lang(interaction: discord.Interaction[StudyBot], snap: StudySnapshot | None = None) -> str:
    """The reader's language: their Discord locale when we speak it, else the study's language."""
    if snap is None:
        snap = interaction.client.directory.by_guild(interaction.guild_id)
    fallback = snap.locale if snap else "ko"
    return language_for(str(interaction.locale) if interaction.locale else None, fallback)


def actor(interaction: discord.Interaction[StudyBot]) -> Actor:
    return Actor(interaction.user.id, str(interaction.user))


def require_admin(interaction: discord.Interaction[StudyBot]) -> StudySnapshot:
    """Check again inside the command: server owners can override `/admin`'s default permissions."""
    snap = study_for(interaction)
    member = interaction.user
    role_ids = [role.id for role in member.roles] if isinstance(member, discord.Member) else []
    if not is_study_admin(
        manage_guild=interaction.permissions.manage_guild, role_ids=role_ids, admin_role_id=snap.admin_role_id
    ):
        raise UserError("error.not_admin")
    return snap
