"""/progress [member]: the progress picture(s) as PNG attachments.

The interaction is deferred first (drawing can take longer than Discord's 3 s on a busy machine), the data
is read by the service, and the drawing runs in the bot's render pool (`bot.render.pool`): worker *processes*
at the lowest CPU priority — never on the event loop, and not in threads either: matplotlib holds the GIL
while it draws, and in a thread it slowed `/week` ninefold while 20 pictures were being drawn
(bench/progress.py). Pages of a big study are drawn side by side.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.exts import _glue
from bot.exts.admin._cog import member_names
from bot.foreground import turn
from bot.i18n import t
from bot.render.progress import render_progress

if TYPE_CHECKING:
    from bot.app import StudyBot


class ProgressCog(commands.Cog):
    def __init__(self, bot: StudyBot) -> None:
        self.bot = bot

    @app_commands.command(name="progress", description=t("en", "cmd.progress.description"))
    @app_commands.guild_only()
    @app_commands.describe(member=t("en", "cmd.progress.opt.member.description"))
    @app_commands.autocomplete(member=member_names)
    async def progress(self, interaction: discord.Interaction[StudyBot], member: str | None = None) -> None:
        snap = _glue.study_for(interaction)
        lang = _glue.lang(interaction, snap)
        self.bot.services.progress.member_id(interaction.guild_id, member)  # refuse unknown names ephemerally
        await interaction.response.defer(thinking=True)
        await turn()  # commands being answered go first (bot.foreground): this one has its 15 minutes now
        pages = await self.bot.services.progress.pages(guild_id=interaction.guild_id, lang=lang, member=member)
        pool = self.bot.render_pool
        pictures = await pool.draw(render_progress, pages)
        files = [
            discord.File(io.BytesIO(png), filename=f"progress-{index}.png" if len(pictures) > 1 else "progress.png")
            for index, png in enumerate(pictures, start=1)
        ]
        key = "progress.reply_member" if member else "progress.reply"
        await turn()
        await interaction.followup.send(
            content=t(lang, key, study=snap.name, name=member or "", count=len(files)),
            files=files,
            allowed_mentions=_glue.NO_PINGS,
        )


async def setup(bot: StudyBot) -> None:
    await bot.add_cog(ProgressCog(bot))
