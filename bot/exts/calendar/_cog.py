"""/calendar: the study's sessions as an .ics file any calendar app can import (stable UIDs)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.exts import _glue
from bot.i18n import t
from bot.render.calendar import calendar_file_name, study_calendar
from bot.render.embeds import Reply

if TYPE_CHECKING:
    from bot.app import StudyBot


class CalendarCog(commands.Cog):
    def __init__(self, bot: StudyBot) -> None:
        self.bot = bot

    @app_commands.command(name="calendar", description=t("en", "cmd.calendar.description"))
    @app_commands.guild_only()
    async def calendar(self, interaction: discord.Interaction[StudyBot]) -> None:
        snap = _glue.study_for(interaction)
        lang = _glue.lang(interaction, snap)
        data = study_calendar(snap, now=self.bot.clock.now(), lang=lang)
        content = t(lang, "calendar.reply", study=snap.name)
        links = self.bot.web.live_links(snap.id) if self.bot.web is not None else None
        if links is not None:  # the page is on: offer the live subscription next to the file
            content += "\n" + t(lang, "web.calendar_subscribe", webcal=links.webcal, url=links.feed)
        reply = Reply(
            content=content,
            ephemeral=True,
            file_name=calendar_file_name(snap),
            file_bytes=data,
        )
        await _glue.send(interaction, reply)


async def setup(bot: StudyBot) -> None:
    await bot.add_cog(CalendarCog(bot))
