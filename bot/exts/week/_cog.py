"""/week, /next and /schedule: answered from the in-memory snapshot, no database round-trip."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.schedule import build_schedule
from bot.errors import UserError
from bot.exts import _glue
from bot.i18n import t
from bot.render.study import render_next, render_schedule, render_week

if TYPE_CHECKING:
    from bot.app import StudyBot


class WeekCog(commands.Cog):
    def __init__(self, bot: StudyBot) -> None:
        self.bot = bot

    @app_commands.command(name="week", description=t("en", "cmd.week.description"))
    @app_commands.guild_only()
    @app_commands.describe(number=t("en", "cmd.week.opt.number.description"))
    async def week(self, interaction: discord.Interaction[StudyBot], number: int | None = None) -> None:
        snap = _glue.study_for(interaction)
        lang = _glue.lang(interaction, snap)
        if number is not None and not 1 <= number <= snap.week_count:
            raise UserError("error.week_range", week=number, max=snap.week_count)
        schedule = build_schedule(snap.recurrence, snap.changes, snap.week_count)
        await _glue.send(interaction, render_week(snap, schedule, self.bot.clock.now(), lang, number))

    @app_commands.command(name="next", description=t("en", "cmd.next.description"))
    @app_commands.guild_only()
    async def next_(self, interaction: discord.Interaction[StudyBot]) -> None:
        snap = _glue.study_for(interaction)
        schedule = build_schedule(snap.recurrence, snap.changes, snap.week_count)
        await _glue.send(interaction, render_next(snap, schedule, self.bot.clock.now(), _glue.lang(interaction, snap)))

    @app_commands.command(name="schedule", description=t("en", "cmd.schedule.description"))
    @app_commands.guild_only()
    async def schedule(self, interaction: discord.Interaction[StudyBot]) -> None:
        snap = _glue.study_for(interaction)
        schedule = build_schedule(snap.recurrence, snap.changes, snap.week_count)
        reply = render_schedule(snap, schedule, self.bot.clock.now(), _glue.lang(interaction, snap))
        await _glue.send(interaction, reply)


async def setup(bot: StudyBot) -> None:
    await bot.add_cog(WeekCog(bot))
