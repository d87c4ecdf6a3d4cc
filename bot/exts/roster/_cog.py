"""/roster: the members of the study."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.exts import _glue
from bot.exts.attendance._cog import claim as claim_name
from bot.i18n import t
from bot.render.study import render_roster

if TYPE_CHECKING:
    from bot.app import StudyBot


async def unlinked_names(interaction: discord.Interaction[StudyBot], current: str) -> list[app_commands.Choice[str]]:
    snap = interaction.client.directory.by_guild(interaction.guild_id)
    if snap is None:
        return []
    needle = current.strip().lower()
    names = [m.name for m in snap.members if m.discord_user_id is None and needle in m.name.lower()]
    return [app_commands.Choice(name=n, value=n) for n in names[:25]]


class RosterCog(commands.Cog):
    def __init__(self, bot: StudyBot) -> None:
        self.bot = bot

    @app_commands.command(name="roster", description=t("en", "cmd.roster.description"))
    @app_commands.guild_only()
    @app_commands.describe(claim=t("en", "cmd.roster.opt.claim.description"))
    @app_commands.autocomplete(claim=unlinked_names)
    async def roster(self, interaction: discord.Interaction[StudyBot], claim: str | None = None) -> None:
        """The roster; with `claim`, the caller asks to be that roster entry (an admin confirms)."""
        if claim is not None:
            await interaction.response.defer(ephemeral=True, thinking=True)
            await claim_name(interaction, claim)
            return
        snap = _glue.study_for(interaction)
        await _glue.send(interaction, render_roster(snap, _glue.lang(interaction, snap)))


async def setup(bot: StudyBot) -> None:
    await bot.add_cog(RosterCog(bot))
