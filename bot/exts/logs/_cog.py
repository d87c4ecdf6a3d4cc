"""/log: members post their study notes for a week (스터디로그) and see who has posted.

Thin glue: parse options, call `LogService`, send what `bot.render.logs` built. Writes are deferred
(ephemeral) after the cheap checks, so refusals are answered at once and the write has all the time it needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import UserError
from bot.exts import _glue
from bot.i18n import t
from bot.render.logs import remove_choice_label, render_added, render_board, render_mine, render_nudge, render_removed
from bot.services.logs import linked_member, week_session

if TYPE_CHECKING:
    from bot.app import StudyBot

Interaction = discord.Interaction["StudyBot"]

NUDGE_CHOICES: list[app_commands.Choice[str]] = [
    app_commands.Choice(name=t("en", f"choice.{value}"), value=value) for value in ("on", "off")
]


def _d(key: str) -> str:
    return t("en", key)


async def own_logs(interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
    """The caller's own logs, newest first; the value is the log's id."""
    snap = interaction.client.directory.by_guild(interaction.guild_id)
    if snap is None or not any(m.discord_user_id == interaction.user.id for m in snap.members):
        return []
    _, entries = await interaction.client.services.logs.mine(guild_id=interaction.guild_id, user_id=interaction.user.id)
    lang = _glue.lang(interaction, snap)
    needle = current.strip().lower()
    choices = []
    for entry in reversed(entries):
        label = remove_choice_label(entry, lang)
        if needle in label.lower():
            choices.append(app_commands.Choice(name=label, value=f"id:{entry.id}"))
    return choices[:25]


@app_commands.guild_only()
class LogGroup(app_commands.Group, name="log", description=_d("cmd.log.description")):
    @app_commands.command(name="add", description=_d("cmd.log.add.description"))
    @app_commands.describe(
        link=_d("cmd.log.add.opt.link.description"),
        week=_d("cmd.log.add.opt.week.description"),
        note=_d("cmd.log.add.opt.note.description"),
    )
    async def add(self, interaction: Interaction, link: str, week: int | None = None, note: str | None = None) -> None:
        services = interaction.client.services
        snap = _glue.study_for(interaction)
        lang = _glue.lang(interaction, snap)
        linked_member(snap, interaction.user.id)  # not linked: say how to claim, before deferring
        await interaction.response.defer(ephemeral=True, thinking=True)
        entry = await services.logs.add(
            guild_id=interaction.guild_id,
            user_id=interaction.user.id,
            actor=_glue.actor(interaction),
            url=link,
            week=week,
            note=note,
        )
        await _glue.send(interaction, render_added(entry, lang))

    @app_commands.command(name="remove", description=_d("cmd.log.remove.description"))
    @app_commands.describe(log=_d("cmd.log.remove.opt.log.description"))
    @app_commands.autocomplete(log=own_logs)
    async def remove(self, interaction: Interaction, log: str) -> None:
        snap = _glue.study_for(interaction)
        linked_member(snap, interaction.user.id)
        await interaction.response.defer(ephemeral=True, thinking=True)
        entry = await interaction.client.services.logs.remove(
            guild_id=interaction.guild_id, user_id=interaction.user.id, actor=_glue.actor(interaction), ref=log
        )
        await _glue.send(interaction, render_removed(entry, _glue.lang(interaction, snap)))

    @app_commands.command(name="board", description=_d("cmd.log.board.description"))
    @app_commands.describe(week=_d("cmd.log.board.opt.week.description"))
    async def board(self, interaction: Interaction, week: int | None = None) -> None:
        snap = _glue.study_for(interaction)
        session = week_session(snap, week, interaction.client.clock.now())
        entries = await interaction.client.services.logs.for_session(
            study_id=snap.id, day=session.original_date, snap=snap
        )
        await _glue.send(interaction, render_board(snap, session, entries, _glue.lang(interaction, snap)))

    @app_commands.command(name="mine", description=_d("cmd.log.mine.description"))
    async def mine(self, interaction: Interaction) -> None:
        snap = _glue.study_for(interaction)
        member, entries = await interaction.client.services.logs.mine(
            guild_id=interaction.guild_id, user_id=interaction.user.id
        )
        await _glue.send(interaction, render_mine(snap, member, entries, _glue.lang(interaction, snap)))

    @app_commands.command(name="nudge", description=_d("cmd.log.nudge.description"))
    @app_commands.describe(setting=_d("cmd.log.nudge.opt.setting.description"))
    @app_commands.choices(setting=NUDGE_CHOICES)
    async def nudge(self, interaction: Interaction, setting: str) -> None:
        snap = _glue.study_for(interaction)
        if setting not in ("on", "off"):
            raise UserError("error.bad_option", value=setting[:20])
        linked_member(snap, interaction.user.id)
        await interaction.response.defer(ephemeral=True, thinking=True)
        on = await interaction.client.services.logs.set_nudge(
            guild_id=interaction.guild_id,
            user_id=interaction.user.id,
            actor=_glue.actor(interaction),
            on=setting == "on",
        )
        await _glue.send(interaction, render_nudge(on, _glue.lang(interaction, snap)))


class LogsCog(commands.Cog):
    def __init__(self, bot: StudyBot) -> None:
        self.bot = bot


async def setup(bot: StudyBot) -> None:
    await bot.add_cog(LogsCog(bot))
    bot.tree.add_command(LogGroup())
