"""/materials: study-wide resources grouped by kind, or one week's materials."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import UserError
from bot.exts import _glue
from bot.i18n import t
from bot.render.study import render_materials

if TYPE_CHECKING:
    from bot.app import StudyBot


class MaterialsCog(commands.Cog):
    def __init__(self, bot: StudyBot) -> None:
        self.bot = bot

    @app_commands.command(name="materials", description=t("en", "cmd.materials.description"))
    @app_commands.guild_only()
    @app_commands.describe(week=t("en", "cmd.materials.opt.week.description"))
    async def materials(self, interaction: discord.Interaction[StudyBot], week: int | None = None) -> None:
        snap = _glue.study_for(interaction)
        if week is not None and not 1 <= week <= snap.week_count:
            raise UserError("error.week_range", week=week, max=snap.week_count)
        await _glue.send(interaction, render_materials(snap, _glue.lang(interaction, snap), week))


async def setup(bot: StudyBot) -> None:
    await bot.add_cog(MaterialsCog(bot))
