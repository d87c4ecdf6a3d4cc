"""/admin: every editing command under one group, so members never see them.

`default_permissions` (Manage Server) sits on the group — Discord ignores it on subcommands — and every
subcommand checks again inside (`_glue.require_admin`), because server owners can override it.
Handlers only parse options, check permission, call a service and send the rendered answer. No
description is typed here: `_glue.describe_from_catalogue` gives every subcommand and option the catalogue's
text under the key its qualified name implies (`cmd.admin.roster.add.opt.name.description`), the same key
the translator derives for Korean, so a command cannot end up with English text and no Korean or vice versa.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.core.model import MaterialKind, MemberRole, StudySnapshot
from bot.core.schedule import build_schedule, not_started
from bot.core.validation import material_ref, parse_date, parse_offsets, parse_time
from bot.errors import UserError
from bot.exts import _glue
from bot.i18n import t
from bot.render.admin import render_audit, render_done, render_settings
from bot.services.settings import WEEKDAYS, SettingsChange

if TYPE_CHECKING:
    from bot.app import StudyBot

Interaction = discord.Interaction["StudyBot"]

GROUP_NAME = "admin"
FROM_CATALOGUE = "…"  # discord.py wants a group's description up front; the catalogue's replaces it on load

ROLE_CHOICES: list[app_commands.Choice[str]] = [
    app_commands.Choice(name=t("en", f"choice.{r.value}"), value=r.value) for r in MemberRole
]
KIND_CHOICES: list[app_commands.Choice[str]] = [
    app_commands.Choice(name=t("en", f"choice.{k.value}"), value=k.value) for k in MaterialKind
]
WEEKDAY_CHOICES: list[app_commands.Choice[int]] = [
    app_commands.Choice(name=t("en", f"choice.{i}"), value=i) for i in range(len(WEEKDAYS))
]
LANGUAGE_CHOICES: list[app_commands.Choice[str]] = [
    app_commands.Choice(name=t("en", f"choice.{code}"), value=code) for code in ("ko", "en")
]


async def _admin(interaction: Interaction) -> StudySnapshot:
    """Check the caller is a study admin, then defer (ephemeral): edits write to the database, and the
    deferral is what answers Discord within its 3 seconds whatever the write costs."""
    snap = _glue.require_admin(interaction)
    await interaction.response.defer(ephemeral=True, thinking=True)
    return snap


async def _done(interaction: Interaction, snap: StudySnapshot, key: str, **params: object) -> None:
    """Confirm an applied edit, ephemerally, in the admin's language."""
    await _glue.send(interaction, render_done(_glue.lang(interaction, snap), key, **params))


async def member_names(interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
    snap = interaction.client.directory.by_guild(interaction.guild_id)
    if snap is None:
        return []
    needle = current.strip().lower()
    names = [m.name for m in snap.members if needle in m.name.lower()]
    return [app_commands.Choice(name=n, value=n) for n in names[:25]]


async def session_dates(interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
    snap = interaction.client.directory.by_guild(interaction.guild_id)
    if snap is None:
        return []
    lang = _glue.lang(interaction, snap)
    schedule = build_schedule(snap.recurrence, snap.changes, snap.week_count)
    choices = []
    for session in not_started(schedule, interaction.client.clock.now()):
        day = session.original_date.isoformat()
        if current.strip() in day:
            key = "session.choice_cancelled" if session.cancelled else "session.choice"
            choices.append(app_commands.Choice(name=t(lang, key, date=day, week=session.week), value=day))
    return choices[:25]


async def material_choices(interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
    """The chosen week's materials as `/materials` numbers them; the value is the material's id."""
    snap = interaction.client.directory.by_guild(interaction.guild_id)
    week = getattr(interaction.namespace, "week", None)
    listed = snap.materials_of(week if isinstance(week, int) else None) if snap else None
    if snap is None or not listed:
        return []
    lang = _glue.lang(interaction, snap)
    needle = current.strip().lower()
    choices = []
    for number, material in enumerate(listed, start=1):
        label = f"{number}. {material.title_for(lang)}"
        if needle in label.lower():
            choices.append(app_commands.Choice(name=label[:100], value=f"id:{material.id}"))
    return choices[:25]


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class AdminGroup(app_commands.Group, name=GROUP_NAME):
    """The admin commands; their texts are set from the catalogues when the extension loads."""

    roster = app_commands.Group(name="roster", description=FROM_CATALOGUE)
    curriculum = app_commands.Group(name="curriculum", description=FROM_CATALOGUE)
    session = app_commands.Group(name="session", description=FROM_CATALOGUE)
    reminders = app_commands.Group(name="reminders", description=FROM_CATALOGUE)

    # --- roster -------------------------------------------------------------------------------------
    @roster.command(name="add")
    @app_commands.choices(role=ROLE_CHOICES)
    async def roster_add(
        self,
        interaction: Interaction,
        name: str,
        user: discord.User | None = None,
        github: str | None = None,
        blog: str | None = None,
        role: str | None = None,
    ) -> None:
        snap = await _admin(interaction)
        added = await interaction.client.services.roster.add(
            guild_id=interaction.guild_id,
            actor=_glue.actor(interaction),
            name=name,
            user_id=user.id if user else None,
            github=github,
            blog=blog,
            role=role,
        )
        await _done(interaction, snap, "roster.added", name=added)

    @roster.command(name="remove")
    @app_commands.autocomplete(name=member_names)
    async def roster_remove(self, interaction: Interaction, name: str) -> None:
        snap = await _admin(interaction)
        removed = await interaction.client.services.roster.remove(
            guild_id=interaction.guild_id, actor=_glue.actor(interaction), name=name
        )
        await _done(interaction, snap, "roster.removed", name=removed)

    @roster.command(name="edit")
    @app_commands.choices(role=ROLE_CHOICES)
    @app_commands.autocomplete(name=member_names)
    async def roster_edit(
        self,
        interaction: Interaction,
        name: str,
        new_name: str | None = None,
        user: discord.User | None = None,
        github: str | None = None,
        blog: str | None = None,
        role: str | None = None,
    ) -> None:
        snap = await _admin(interaction)
        edited = await interaction.client.services.roster.edit(
            guild_id=interaction.guild_id,
            actor=_glue.actor(interaction),
            name=name,
            new_name=new_name,
            github=github,
            blog=blog,
            role=role,
            user_id=user.id if user else None,
        )
        await _done(interaction, snap, "roster.edited", name=edited)

    @roster.command(name="link")
    @app_commands.autocomplete(name=member_names)
    async def roster_link(self, interaction: Interaction, name: str, user: discord.User) -> None:
        snap = await _admin(interaction)
        linked = await interaction.client.services.roster.link(
            guild_id=interaction.guild_id, actor=_glue.actor(interaction), name=name, user_id=user.id
        )
        await _done(interaction, snap, "roster.linked", name=linked, user=user.mention)

    # --- curriculum ---------------------------------------------------------------------------------
    @curriculum.command(name="set-topic")
    async def set_topic(self, interaction: Interaction, week: int, title: str, title_en: str | None = None) -> None:
        snap = await _admin(interaction)
        await interaction.client.services.curriculum.set_topic(
            guild_id=interaction.guild_id, actor=_glue.actor(interaction), week=week, title=title, title_en=title_en
        )
        await _done(interaction, snap, "curriculum.topic_set", week=week, title=title.strip())

    @curriculum.command(name="add-material")
    @app_commands.choices(kind=KIND_CHOICES)
    async def add_material(
        self,
        interaction: Interaction,
        title: str,
        url: str,
        week: int | None = None,
        kind: str = "link",
        title_en: str | None = None,
    ) -> None:
        snap = await _admin(interaction)
        item = await interaction.client.services.curriculum.add_material(
            guild_id=interaction.guild_id,
            actor=_glue.actor(interaction),
            week=week,
            title=title,
            url=url,
            kind=kind,
            title_en=title_en,
        )
        await _done(interaction, snap, "curriculum.material_added", title=title.strip(), item=item, week=week or 0)

    @curriculum.command(name="remove-material")
    @app_commands.autocomplete(item=material_choices)
    async def remove_material(self, interaction: Interaction, item: str, week: int | None = None) -> None:
        snap = await _admin(interaction)
        listed = snap.materials_of(week)
        if listed is None:
            raise UserError("error.week_range", week=week, max=snap.week_count)
        material_id = material_ref(item, tuple(m.id for m in listed))
        title = await interaction.client.services.curriculum.remove_material(
            guild_id=interaction.guild_id, actor=_glue.actor(interaction), material_id=material_id
        )
        await _done(interaction, snap, "curriculum.material_removed", title=title)

    # --- sessions -----------------------------------------------------------------------------------
    @session.command(name="cancel")
    @app_commands.autocomplete(date=session_dates)
    async def session_cancel(self, interaction: Interaction, date: str, reason: str = "") -> None:
        snap = await _admin(interaction)
        day = parse_date(date)
        await interaction.client.services.sessions.cancel(
            guild_id=interaction.guild_id, actor=_glue.actor(interaction), day=day, reason=reason
        )
        await _done(interaction, snap, "session.cancelled_done", date=day.isoformat())

    @session.command(name="move")
    @app_commands.autocomplete(date=session_dates)
    async def session_move(
        self, interaction: Interaction, date: str, new_date: str, new_time: str | None = None, reason: str = ""
    ) -> None:
        snap = await _admin(interaction)
        day = parse_date(date)
        target_day = parse_date(new_date, field="new_date")
        target_time = parse_time(new_time, field="new_time") if new_time else None
        moved_to = await interaction.client.services.sessions.move(
            guild_id=interaction.guild_id,
            actor=_glue.actor(interaction),
            day=day,
            new_day=target_day,
            new_time=target_time,
            reason=reason,
        )
        await _done(
            interaction, snap, "session.moved_done", date=day.isoformat(), when=f"<t:{int(moved_to.timestamp())}:F>"
        )

    @session.command(name="restore")
    @app_commands.autocomplete(date=session_dates)
    async def session_restore(self, interaction: Interaction, date: str) -> None:
        snap = await _admin(interaction)
        day = parse_date(date)
        await interaction.client.services.sessions.restore(
            guild_id=interaction.guild_id, actor=_glue.actor(interaction), day=day
        )
        await _done(interaction, snap, "session.restored_done", date=day.isoformat())

    # --- settings and audit -------------------------------------------------------------------------
    @app_commands.command(name="settings")
    @app_commands.choices(weekday=WEEKDAY_CHOICES)
    @app_commands.choices(language=LANGUAGE_CHOICES)
    async def settings(
        self,
        interaction: Interaction,
        channel: discord.TextChannel | None = None,
        role: discord.Role | None = None,
        clear_role: bool = False,
        admin_role: discord.Role | None = None,
        clear_admin_role: bool = False,
        weekday: int | None = None,
        time: str | None = None,
        duration: int | None = None,
        place: str | None = None,
        place_url: str | None = None,
        offsets: str | None = None,
        language: str | None = None,
        first_session: str | None = None,
    ) -> None:
        snap = await _admin(interaction)
        for picked in (role, admin_role):
            if picked is not None and (picked.is_default() or picked.managed):
                raise UserError("settings.bad_role")
        lang = _glue.lang(interaction, snap)
        if channel is not None:
            # Refused rather than saved with a warning: every reminder would fail there until someone noticed.
            missing = _glue.missing_post_permissions(channel)
            if missing:
                names = ", ".join(t(lang, "permission." + name) for name in missing)
                raise UserError("settings.channel_permissions", channel=channel.mention, missing=names)
        change = SettingsChange(
            channel_id=channel.id if channel else None,
            ping_role_id=role.id if role else None,
            clear_ping_role=clear_role,
            admin_role_id=admin_role.id if admin_role else None,
            clear_admin_role=clear_admin_role,
            weekday=weekday,
            start_time=parse_time(time) if time else None,
            duration_minutes=duration,
            place_name=place,
            place_url=place_url,
            offsets=parse_offsets(offsets) if offsets is not None else None,
            locale=language,
            first_session=parse_date(first_session, field="first_session") if first_session else None,
        )
        if change.empty():
            snap_now = _glue.study_for(interaction)
            await _glue.send(interaction, render_settings(snap_now, lang, changed=False))
            return
        await interaction.client.services.settings.update(
            guild_id=interaction.guild_id, actor=_glue.actor(interaction), change=change
        )
        await _glue.send(interaction, render_settings(_glue.study_for(interaction), lang, changed=True))

    @app_commands.command(name="audit")
    async def audit(
        self,
        interaction: Interaction,
        count: app_commands.Range[int, 1, 25] = 10,
        page: app_commands.Range[int, 1, 100] = 1,
    ) -> None:
        snap = await _admin(interaction)
        entries = await interaction.client.services.audit.latest(guild_id=interaction.guild_id, limit=count)
        await _glue.send(interaction, render_audit(entries, _glue.lang(interaction, snap), page))

    # --- reminders ----------------------------------------------------------------------------------
    @reminders.command(name="status")
    async def reminders_status(self, interaction: Interaction) -> None:
        snap = await _admin(interaction)
        lang = _glue.lang(interaction, snap)
        also = []
        wanted = snap.reminder_channel_id
        channel = interaction.guild.get_channel(wanted) if interaction.guild and wanted else None
        if wanted and channel is None:
            also.append(t(lang, "reminders.channel_gone"))
        elif channel is not None and (missing := _glue.missing_post_permissions(channel)):
            names = ", ".join(t(lang, "permission." + name) for name in missing)
            also.append(t(lang, "reminders.channel_permissions", missing=names))
        reply = await interaction.client.reminders.status_reply(snap, lang, also=also)
        await _glue.send(interaction, reply)

    @reminders.command(name="pause")
    async def reminders_pause(self, interaction: Interaction) -> None:
        snap = await _admin(interaction)
        await interaction.client.services.settings.set_paused(
            guild_id=interaction.guild_id, actor=_glue.actor(interaction), paused=True
        )
        await _done(interaction, snap, "reminders.paused")

    @reminders.command(name="resume")
    async def reminders_resume(self, interaction: Interaction) -> None:
        snap = await _admin(interaction)
        await interaction.client.services.settings.set_paused(
            guild_id=interaction.guild_id, actor=_glue.actor(interaction), paused=False
        )
        await _done(interaction, snap, "reminders.resumed")

    @reminders.command(name="preview")
    async def reminders_preview(self, interaction: Interaction) -> None:
        snap = await _admin(interaction)
        reply = interaction.client.reminders.preview_reply(snap, _glue.lang(interaction, snap))
        reply.ephemeral = True
        await _glue.send(interaction, reply)


async def setup(bot: StudyBot) -> None:
    bot.tree.add_command(_glue.describe_from_catalogue(AdminGroup()))


async def teardown(bot: StudyBot) -> None:
    """Unloading the extension takes `/admin` with it (a reload then registers it afresh)."""
    bot.tree.remove_command(GROUP_NAME)
