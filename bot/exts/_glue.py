"""What every feature cog shares: language choice, permission check, and sending a rendered Reply.

This is the only place that turns renderer output into discord.py objects, and it always sends with an
`allowed_mentions` that can ping nobody but the roles a reply names on purpose.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any, TypeVar

import discord
from discord import app_commands

from bot.core.model import StudySnapshot
from bot.core.permissions import is_study_admin
from bot.errors import UserError
from bot.i18n import language_for, t
from bot.render.embeds import EmbedSpec, Reply
from bot.services.base import Actor

if TYPE_CHECKING:
    from bot.app import StudyBot

CommandT = TypeVar("CommandT", app_commands.Command[Any, ..., Any], app_commands.Group)

POST_PERMISSIONS = ("view_channel", "send_messages", "embed_links", "read_message_history")
"""What the bot needs in the reminder channel: to see it, post, show its embeds, and read the history that
tells it after a crash whether a reminder was already posted."""

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


def missing_post_permissions(channel: discord.abc.GuildChannel) -> list[str]:
    """The POST_PERMISSIONS the bot lacks in `channel` (roles and channel overwrites included), in order.
    Empty when the bot's own member is not cached: then there is nothing to check against."""
    me = channel.guild.me
    if me is None:
        return []
    have = channel.permissions_for(me)
    return [name for name in POST_PERMISSIONS if not getattr(have, name)]


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


def describe_from_catalogue(command: CommandT) -> CommandT:
    """Set the English text of a command or group — and of every subcommand and option below it — from the
    `en` catalogue, under the keys the translator derives from qualified names (`cmd.<path>.description`,
    `cmd.<path>.opt.<option>.description`), so no key is typed by hand. Call it on the constructed command,
    when the parents (and so the qualified names) are known."""
    found: list[app_commands.Command[Any, ..., Any] | app_commands.Group] = [command]
    if isinstance(command, app_commands.Group):
        found.extend(command.walk_commands())
    for item in found:
        key = "cmd." + item.qualified_name.replace(" ", ".")
        item.description = t("en", key + ".description")
        if isinstance(item, app_commands.Command):
            # discord.py offers no public setter for option descriptions; a locale_str keeps the Korean
            # translation (the translator only translates option descriptions given as locale_str).
            for param in item._params.values():
                param.description = app_commands.locale_str(t("en", f"{key}.opt.{param.name}.description"))
    return command
