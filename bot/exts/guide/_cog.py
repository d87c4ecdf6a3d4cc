"""/guide: the study guide from the `[guide]` section of the study definition, from the snapshot."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.exts import _glue
from bot.i18n import t
from bot.render.guide import render_guide

if TYPE_CHECKING:
    from bot.app import StudyBot


class GuideCog(commands.Cog):
    def __init__(self, bot: StudyBot) -> None:
        self.bot = bot

    @app_commands.command(name="guide", description=t("en", "cmd.guide.description"))
    @app_commands.guild_only()
    async def guide(self, interaction: discord.Interaction[StudyBot]) -> None:
        snap = _glue.study_for(interaction)
        await _glue.send(interaction, render_guide(snap, _glue.lang(interaction, snap)))


async def setup(bot: StudyBot) -> None:
    await bot.add_cog(GuideCog(bot))
