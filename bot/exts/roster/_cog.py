"""/roster: the members of the study."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.exts import _glue
from bot.i18n import t
from bot.render.study import render_roster

if TYPE_CHECKING:
    from bot.app import StudyBot


class RosterCog(commands.Cog):
    def __init__(self, bot: StudyBot) -> None:
        self.bot = bot

    @app_commands.command(name="roster", description=t("en", "cmd.roster.description"))
    @app_commands.guild_only()
    async def roster(self, interaction: discord.Interaction[StudyBot]) -> None:
        snap = _glue.study_for(interaction)
        await _glue.send(interaction, render_roster(snap, _glue.lang(interaction, snap)))


async def setup(bot: StudyBot) -> None:
    await bot.add_cog(RosterCog(bot))
