"""/web on|off|rotate|public|status (admins) and /privacy (members): the study's web page.

`/web` is a top-level group of its own rather than a part of `/admin`: a group's subcommands must be declared
with the group, and `/admin` lives in the admin feature. It carries the same default permission (Manage
Server) and every subcommand checks again with the same rule as `/admin` (`_glue.require_admin`).
`/privacy` is separate from `/roster` for the same reason (`/roster` is a command, not a group).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import UserError
from bot.exts import _glue
from bot.i18n import t
from bot.render.embeds import Reply

if TYPE_CHECKING:
    from bot.app import StudyBot
    from bot.core.model import StudySnapshot
    from bot.web.feature import WebFeature


def _web(interaction: discord.Interaction[StudyBot]) -> WebFeature:
    feature = interaction.client.web
    if feature is None:
        raise UserError("web.not_served")
    return feature


class WebCog(commands.Cog):
    web = app_commands.Group(
        name="web",
        description=t("en", "cmd.web.description"),
        guild_only=True,
        allowed_contexts=app_commands.AppCommandContext(guild=True),
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: StudyBot) -> None:
        self.bot = bot

    async def _status(self, interaction: discord.Interaction[StudyBot], snap: StudySnapshot, lang: str) -> str:
        feature = _web(interaction)
        state = feature.registry.for_study(snap.id)
        if state is None or feature.server is None:
            text = t(lang, "web.reply_status", state=t(lang, "web.state_off"), public=t(lang, "common.no"), url="—")
        else:
            links = feature.links(state)
            text = t(
                lang,
                "web.reply_status",
                state=t(lang, "web.state_on" if state.enabled else "web.state_off"),
                public=t(lang, "common.yes" if state.public else "common.no"),
                url=links.page if links else "—",
            )
        if feature.server is None:
            text += "\n" + t(lang, "web.not_served")
        return text

    async def _answer(self, interaction: discord.Interaction[StudyBot], text: str) -> None:
        # Ephemeral: the address of a page that is not public is a secret shared by link.
        await _glue.send(interaction, Reply(content=text, ephemeral=True))

    @web.command(name="status", description=t("en", "cmd.web.status.description"))
    async def status(self, interaction: discord.Interaction[StudyBot]) -> None:
        snap = _glue.require_admin(interaction)
        lang = _glue.lang(interaction, snap)
        await self._answer(interaction, await self._status(interaction, snap, lang))

    @web.command(name="on", description=t("en", "cmd.web.on.description"))
    async def on(self, interaction: discord.Interaction[StudyBot]) -> None:
        snap = _glue.require_admin(interaction)
        lang = _glue.lang(interaction, snap)
        feature = _web(interaction)
        await feature.service.set_enabled(guild_id=interaction.guild_id, actor=_glue.actor(interaction), enabled=True)
        links = feature.live_links(snap.id)
        if links is None:
            await self._answer(interaction, await self._status(interaction, snap, lang))
            return
        await self._answer(interaction, t(lang, "web.reply_on", url=links.page, webcal=links.webcal))

    @web.command(name="off", description=t("en", "cmd.web.off.description"))
    async def off(self, interaction: discord.Interaction[StudyBot]) -> None:
        snap = _glue.require_admin(interaction)
        lang = _glue.lang(interaction, snap)
        feature = _web(interaction)
        await feature.service.set_enabled(guild_id=interaction.guild_id, actor=_glue.actor(interaction), enabled=False)
        await self._answer(interaction, t(lang, "web.reply_off"))

    @web.command(name="rotate", description=t("en", "cmd.web.rotate.description"))
    async def rotate(self, interaction: discord.Interaction[StudyBot]) -> None:
        snap = _glue.require_admin(interaction)
        lang = _glue.lang(interaction, snap)
        feature = _web(interaction)
        await feature.service.rotate(guild_id=interaction.guild_id, actor=_glue.actor(interaction))
        state = feature.registry.for_study(snap.id)
        links = feature.links(state) if state is not None else None
        if links is None or state is None or not state.enabled:
            await self._answer(interaction, await self._status(interaction, snap, lang))
            return
        await self._answer(interaction, t(lang, "web.reply_rotated", url=links.page))

    @web.command(name="public", description=t("en", "cmd.web.public.description"))
    @app_commands.describe(listed=t("en", "cmd.web.public.opt.listed.description"))
    async def public(self, interaction: discord.Interaction[StudyBot], listed: bool) -> None:
        snap = _glue.require_admin(interaction)
        lang = _glue.lang(interaction, snap)
        feature = _web(interaction)
        await feature.service.set_public(guild_id=interaction.guild_id, actor=_glue.actor(interaction), public=listed)
        index = feature.server.base_url + "/" if feature.server is not None else "—"
        await self._answer(
            interaction, t(lang, "web.reply_public_on" if listed else "web.reply_public_off", index=index)
        )

    @app_commands.command(name="privacy", description=t("en", "cmd.privacy.description"))
    @app_commands.describe(hide_links=t("en", "cmd.privacy.opt.hide_links.description"))
    @app_commands.guild_only()
    async def privacy(self, interaction: discord.Interaction[StudyBot], hide_links: bool) -> None:
        snap = _glue.study_for(interaction)
        lang = _glue.lang(interaction, snap)
        feature = _web(interaction)
        name = await feature.service.set_links_hidden(
            guild_id=interaction.guild_id, actor=_glue.actor(interaction), hidden=hide_links
        )
        await self._answer(interaction, t(lang, "web.privacy_hidden" if hide_links else "web.privacy_shown", name=name))


async def setup(bot: StudyBot) -> None:
    await bot.add_cog(WebCog(bot))
