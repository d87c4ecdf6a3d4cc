"""Check-in and attendance: the session-start button, /checkin, /attendance, claims, and the admin side.

The check-in button and the claim menu are dynamic items: their custom_id names the study and the session
(`studybot:checkin:<public id>:<date>`), and `bot.add_dynamic_items` registers the pattern at start-up, so a
button posted before a restart still works after it — nothing is kept in memory per message.

The admin commands join the `/admin` group (`/admin attendance mark|unmark|excuse`, `/admin practice`,
`/admin roster confirm`) so every editing command stays under one group with Manage Server as its default.
"""

from __future__ import annotations

import logging
import re
import secrets
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.attendance import AttendanceStatus, CheckinSource
from bot.core.validation import format_offset, parse_offsets
from bot.delivery.practice_posts import CHECKIN_TEMPLATE, CLAIM_TEMPLATE, claim_custom_id
from bot.errors import UserError
from bot.exts import _glue
from bot.exts.attendance import _fast
from bot.i18n import t
from bot.render.admin import render_done
from bot.render.attendance import (
    STATUS_KEYS,
    render_checkin_done,
    render_grid,
    render_member_history,
    render_not_linked,
)
from bot.render.embeds import Reply
from bot.services.attendance import NotLinked

if TYPE_CHECKING:
    from bot.app import StudyBot

Interaction = discord.Interaction["StudyBot"]
log = logging.getLogger(__name__)

STATUS_CHOICES: list[app_commands.Choice[str]] = [
    app_commands.Choice(name=t("en", f"choice.{s.value}"), value=s.value)
    for s in (AttendanceStatus.PRESENT, AttendanceStatus.LATE, AttendanceStatus.ABSENT)
]


def _d(key: str) -> str:
    return t("en", key)


async def answer_error(interaction: Interaction, error: BaseException) -> None:
    """Components have no tree.on_error: the same answer here — user errors localized, the rest an id."""
    language = _glue.lang(interaction)
    if isinstance(error, UserError):
        text = "⚠️ " + t(language, error.key, **error.params)
    else:
        error_id = secrets.token_hex(4)
        log.error(
            "error %s in a component (guild %s, user %s)",
            error_id,
            interaction.guild_id,
            interaction.user.id,
            exc_info=error,
        )
        text = "😵 " + t(language, "error.unexpected", id=error_id)
    try:
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True, allowed_mentions=_glue.NO_PINGS)
        else:
            await interaction.response.send_message(text, ephemeral=True, allowed_mentions=_glue.NO_PINGS)
    except discord.HTTPException:
        log.warning("could not deliver the error message for interaction %s", interaction.id)


async def check_in(interaction: Interaction, original_date: date | None, source: CheckinSource) -> None:
    """The caller checks in (button or /checkin); not linked → offered their roster name to claim."""
    snap = _glue.study_for(interaction)
    language = _glue.lang(interaction, snap)
    try:
        result = await interaction.client.services.attendance.check_in(
            guild_id=interaction.guild_id, user_id=interaction.user.id, original_date=original_date, source=source
        )
    except NotLinked:
        await _glue.send(interaction, render_not_linked(snap, language, custom_id=claim_custom_id(snap.public_id)))
        return
    reply = render_checkin_done(
        name=result.member, week=result.session.week or 0, status=result.status, already=result.already, lang=language
    )
    await _glue.send(interaction, reply)


class CheckinButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=CHECKIN_TEMPLATE):
    """The session-start post's check-in button: its id carries the study and the session's date."""

    def __init__(self, study: str, day: date) -> None:
        super().__init__(discord.ui.Button(custom_id=f"studybot:checkin:{study}:{day.isoformat()}"))
        self.study = study
        self.day = day

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> CheckinButton:
        return cls(match["study"], date.fromisoformat(match["day"]))

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        try:
            snap = _glue.study_for(interaction)
            if snap.public_id != self.study:  # a post of another study (forwarded, or the study was recreated)
                raise UserError("attendance.other_study")
            await check_in(interaction, self.day, CheckinSource.BUTTON)
        except Exception as exc:
            await answer_error(interaction, exc)


class ClaimSelect(discord.ui.DynamicItem[discord.ui.Select[Any]], template=CLAIM_TEMPLATE):
    """The menu offered to an unlinked member: picking a name files a claim for an admin to confirm."""

    def __init__(self, study: str) -> None:
        super().__init__(discord.ui.Select(custom_id=f"studybot:claim:{study}"))
        self.study = study

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ClaimSelect:
        return cls(match["study"])

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        try:
            snap = _glue.study_for(interaction)
            if snap.public_id != self.study:
                raise UserError("attendance.other_study")
            values = self.item.values
            if not values:
                raise UserError("claim.pick")
            await claim(interaction, values[0])
        except Exception as exc:
            await answer_error(interaction, exc)


async def claim(interaction: Interaction, name: str) -> None:
    snap = _glue.study_for(interaction)
    claimed = await interaction.client.services.attendance.claim(
        guild_id=interaction.guild_id, actor=_glue.actor(interaction), name=name
    )
    await _glue.send(interaction, render_done(_glue.lang(interaction, snap), "claim.filed", name=claimed))


async def member_names(interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
    snap = interaction.client.directory.by_guild(interaction.guild_id)
    if snap is None:
        return []
    needle = current.strip().lower()
    return [app_commands.Choice(name=m.name, value=m.name) for m in snap.members if needle in m.name.lower()][:25]


async def claimed_names(interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
    try:
        pending = await interaction.client.services.attendance.pending_claims(guild_id=interaction.guild_id)
    except UserError:
        return []
    needle = current.strip().lower()
    return [app_commands.Choice(name=n, value=n) for n, _ in pending if needle in n.lower()][:25]


class AttendanceCog(commands.Cog):
    def __init__(self, bot: StudyBot) -> None:
        self.bot = bot

    @app_commands.command(name="checkin", description=_d("cmd.checkin.description"))
    @app_commands.guild_only()
    async def checkin(self, interaction: Interaction) -> None:
        await check_in(interaction, None, CheckinSource.COMMAND)

    @app_commands.command(name="attendance", description=_d("cmd.attendance.description"))
    @app_commands.guild_only()
    @app_commands.describe(member=_d("cmd.attendance.opt.member.description"))
    @app_commands.autocomplete(member=member_names)
    async def attendance(self, interaction: Interaction, member: str | None = None) -> None:
        snap = _glue.study_for(interaction)
        language = _glue.lang(interaction, snap)
        await interaction.response.defer(ephemeral=True, thinking=True)
        histories = await self.bot.services.attendance.histories(snap)
        if member is None:
            for reply in render_grid(snap, histories, language, now=self.bot.clock.now()):
                await _glue.send(interaction, reply)
            return
        found = next(((m, h) for m, h in histories if m.name == member.strip()), None)
        if found is None:
            raise UserError("roster.unknown", name=member.strip()[:100])
        await _glue.send(interaction, render_member_history(snap, found[0], found[1], language))


class AttendanceAdmin(app_commands.Group, name="attendance", description=_d("cmd.admin.attendance.description")):
    """/admin attendance mark|unmark|excuse: corrections, audited, through the study's edit path."""

    async def _apply(self, interaction: Interaction, member: str, week: int, status: AttendanceStatus | None) -> None:
        snap = _glue.require_admin(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        name, number = await interaction.client.services.attendance.set_status(
            guild_id=interaction.guild_id, actor=_glue.actor(interaction), name=member, week=week, status=status
        )
        key = "attendance.unmarked" if status is None else "attendance.marked"
        language = _glue.lang(interaction, snap)
        shown = "" if status is None else t(language, STATUS_KEYS[status])
        await _glue.send(interaction, render_done(language, key, name=name, week=number, status=shown))

    @app_commands.command(name="mark", description=_d("cmd.admin.attendance.mark.description"))
    @app_commands.describe(
        member=_d("cmd.admin.attendance.mark.opt.member.description"),
        week=_d("cmd.admin.attendance.mark.opt.week.description"),
        status=_d("cmd.admin.attendance.mark.opt.status.description"),
    )
    @app_commands.autocomplete(member=member_names)
    @app_commands.choices(status=STATUS_CHOICES)
    async def mark(self, interaction: Interaction, member: str, week: int, status: str = "present") -> None:
        await self._apply(interaction, member, week, AttendanceStatus(status))

    @app_commands.command(name="unmark", description=_d("cmd.admin.attendance.unmark.description"))
    @app_commands.describe(
        member=_d("cmd.admin.attendance.unmark.opt.member.description"),
        week=_d("cmd.admin.attendance.unmark.opt.week.description"),
    )
    @app_commands.autocomplete(member=member_names)
    async def unmark(self, interaction: Interaction, member: str, week: int) -> None:
        await self._apply(interaction, member, week, None)

    @app_commands.command(name="excuse", description=_d("cmd.admin.attendance.excuse.description"))
    @app_commands.describe(
        member=_d("cmd.admin.attendance.excuse.opt.member.description"),
        week=_d("cmd.admin.attendance.excuse.opt.week.description"),
    )
    @app_commands.autocomplete(member=member_names)
    async def excuse(self, interaction: Interaction, member: str, week: int) -> None:
        await self._apply(interaction, member, week, AttendanceStatus.EXCUSED)


def admin_commands() -> tuple[app_commands.Command[Any, ..., None], app_commands.Command[Any, ..., None]]:
    """`/admin practice` and `/admin roster confirm`, new objects for each bot (a command has one parent)."""

    @app_commands.command(name="practice", description=_d("cmd.admin.practice.description"))
    @app_commands.describe(
        checkin_opens=_d("cmd.admin.practice.opt.checkin_opens.description"),
        checkin_grace=_d("cmd.admin.practice.opt.checkin_grace.description"),
        nudge=_d("cmd.admin.practice.opt.nudge.description"),
        recap=_d("cmd.admin.practice.opt.recap.description"),
        checkin_post=_d("cmd.admin.practice.opt.checkin_post.description"),
    )
    async def practice(
        interaction: Interaction,
        checkin_opens: app_commands.Range[int, 0, 1440] | None = None,
        checkin_grace: app_commands.Range[int, 0, 1440] | None = None,
        nudge: str | None = None,
        recap: bool | None = None,
        checkin_post: bool | None = None,
    ) -> None:
        """/admin practice: the check-in window and grace (minutes), the nudge (`1d`, `3h` or `off`), and
        whether the recap and the session-start post go out. Without options it shows the current values."""
        snap = _glue.require_admin(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        nudge_minutes = None
        if nudge is not None:
            offsets = parse_offsets(nudge)
            if len(offsets) > 1:
                raise UserError("practice.one_nudge")
            nudge_minutes = int(offsets[0].total_seconds() // 60) if offsets else 0
        if any(v is not None for v in (checkin_opens, checkin_grace, nudge_minutes, recap, checkin_post)):
            await interaction.client.services.attendance.update_practice(
                guild_id=interaction.guild_id,
                actor=_glue.actor(interaction),
                checkin_opens=checkin_opens,
                checkin_grace=checkin_grace,
                nudge_offset=nudge_minutes,
                recap=recap,
                checkin_post=checkin_post,
            )
        language = _glue.lang(interaction, snap)
        current = _glue.study_for(interaction).practice
        on, off = t(language, "practice.on"), t(language, "practice.off")
        nudge_shown = off if not current.nudge_offset else _minutes(current.nudge_offset.total_seconds())
        text = t(
            language,
            "practice.settings",
            opens=_minutes(current.checkin_opens.total_seconds()),
            grace=_minutes(current.checkin_grace.total_seconds()),
            nudge=nudge_shown,
            recap=on if current.recap_enabled else off,
            post=on if current.checkin_post_enabled else off,
        )
        await _glue.send(interaction, Reply(content=text, ephemeral=True))

    @app_commands.command(name="confirm", description=_d("cmd.admin.roster.confirm.description"))
    @app_commands.describe(name=_d("cmd.admin.roster.confirm.opt.name.description"))
    @app_commands.autocomplete(name=claimed_names)
    async def confirm(interaction: Interaction, name: str) -> None:
        """/admin roster confirm: link a roster entry to the account that claimed it."""
        snap = _glue.require_admin(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        linked, user_id = await interaction.client.services.attendance.confirm_claim(
            guild_id=interaction.guild_id, actor=_glue.actor(interaction), name=name
        )
        await _glue.send(
            interaction, render_done(_glue.lang(interaction, snap), "roster.linked", name=linked, user=f"<@{user_id}>")
        )

    return practice, confirm


def _minutes(seconds: float) -> str:
    return format_offset(timedelta(seconds=seconds)) if seconds else "0"


async def setup(bot: StudyBot) -> None:
    await bot.add_cog(AttendanceCog(bot))
    bot.add_dynamic_items(CheckinButton, ClaimSelect)
    _fast.install(bot)  # presses that check in are answered before discord.py builds an Interaction
    admin = bot.tree.get_command("admin")
    if isinstance(admin, app_commands.Group):
        practice, confirm = admin_commands()
        admin.add_command(AttendanceAdmin())
        admin.add_command(practice)
        roster = admin.get_command("roster")
        if isinstance(roster, app_commands.Group):
            roster.add_command(confirm)
