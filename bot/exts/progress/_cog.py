"""/progress [member]: the progress picture(s) as PNG attachments.

The interaction is deferred first (drawing takes longer than Discord's 3 s allow on a busy machine), the
data is read by the service, and the drawing runs in a small thread pool of its own — never on the event
loop, and at most two pictures at a time, so a burst of `/progress` cannot starve the other commands.
"""

from __future__ import annotations

import asyncio
import io
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.exts import _glue
from bot.exts.admin._cog import member_names
from bot.i18n import t
from bot.render.progress import render_pages

if TYPE_CHECKING:
    from bot.app import StudyBot

RENDER_WORKERS = 2


class ProgressCog(commands.Cog):
    def __init__(self, bot: StudyBot) -> None:
        self.bot = bot
        self.pool = ThreadPoolExecutor(max_workers=RENDER_WORKERS, thread_name_prefix="progress-render")

    async def cog_unload(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)

    @app_commands.command(name="progress", description=t("en", "cmd.progress.description"))
    @app_commands.guild_only()
    @app_commands.describe(member=t("en", "cmd.progress.opt.member.description"))
    @app_commands.autocomplete(member=member_names)
    async def progress(self, interaction: discord.Interaction[StudyBot], member: str | None = None) -> None:
        snap = _glue.study_for(interaction)
        lang = _glue.lang(interaction, snap)
        self.bot.services.progress.member_id(interaction.guild_id, member)  # refuse unknown names ephemerally
        await interaction.response.defer(thinking=True)
        pages = await self.bot.services.progress.pages(guild_id=interaction.guild_id, lang=lang, member=member)
        pictures = await asyncio.get_running_loop().run_in_executor(self.pool, render_pages, pages)
        files = [
            discord.File(io.BytesIO(png), filename=f"progress-{index}.png" if len(pictures) > 1 else "progress.png")
            for index, png in enumerate(pictures, start=1)
        ]
        key = "progress.reply_member" if member else "progress.reply"
        await interaction.followup.send(
            content=t(lang, key, study=snap.name, name=member or "", count=len(files)),
            files=files,
            allowed_mentions=_glue.NO_PINGS,
        )


async def setup(bot: StudyBot) -> None:
    await bot.add_cog(ProgressCog(bot))
