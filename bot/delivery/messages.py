"""Renderers for what the bot posts on its own: reminders, cancel notices, and the admin status card."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.core.model import StudySnapshot
from bot.core.schedule import Session
from bot.core.validation import escape_markdown, format_offset
from bot.db.models import Delivery
from bot.delivery.plan import PlannedDelivery
from bot.i18n import t
from bot.render.embeds import (
    COLOR_WARNING,
    DESCRIPTION_MAX,
    EmbedField,
    EmbedSpec,
    Reply,
    fit,
    join_lines,
    timestamp,
)
from bot.render.study import session_embed


def _role_prefix(snap: StudySnapshot) -> tuple[str, tuple[int, ...]]:
    if snap.ping_role_id:
        return f"<@&{snap.ping_role_id}> ", (snap.ping_role_id,)
    return "", ()


def render_reminder(
    snap: StudySnapshot, delivery: PlannedDelivery, *, now: datetime, late: bool, reference: str = ""
) -> Reply:
    """The reminder for one session, in the study's language; pings the configured role only."""
    lang = snap.locale
    prefix, roles = _role_prefix(snap)
    session = delivery.session
    if delivery.is_cancel_notice:
        return render_cancel_notice(snap, session, following=None, now=now, reference=reference)
    text = t(
        lang, "reminder.late" if late else "reminder.text", week=session.week, relative=timestamp(session.start, "R")
    )
    embed = session_embed(snap, session, lang, now=now)
    if reference:
        embed.footer = f"{embed.footer} · {reference}"
    return Reply(content=prefix + text, embeds=[fit(embed)], ping_role_ids=roles)


def render_cancel_notice(
    snap: StudySnapshot, session: Session, *, following: Session | None, now: datetime, reference: str = ""
) -> Reply:
    lang = snap.locale
    prefix, roles = _role_prefix(snap)
    lines = [t(lang, "reminder.cancelled", date=timestamp(session.start, "F"))]
    if session.reason:
        lines.append(t(lang, "week.cancel_reason", reason=escape_markdown(session.reason)).strip())
    if following is not None:
        lines.append(t(lang, "week.next_is", week=following.week, absolute=timestamp(following.start, "F")))
    embed = EmbedSpec(
        title=t(lang, "week.cancelled_title"), description="\n".join(lines), color=COLOR_WARNING, footer=reference
    )
    return Reply(content=prefix + t(lang, "reminder.cancelled_short"), embeds=[fit(embed)], ping_role_ids=roles)


def render_status(
    snap: StudySnapshot,
    lang: str,
    *,
    upcoming: Sequence[PlannedDelivery],
    deliveries: Sequence[Delivery],
    problems: Sequence[str],
) -> Reply:
    """/admin reminders status: what comes next, what happened lately, and what is wrong."""
    state = t(lang, "reminders.state_paused") if snap.paused else t(lang, "reminders.state_active")
    channel = f"<#{snap.reminder_channel_id}>" if snap.reminder_channel_id else t(lang, "settings.unset")
    offsets = ", ".join(format_offset(o) for o in snap.reminder_offsets) or t(lang, "settings.unset")
    next_lines = [
        t(
            lang,
            "reminders.next_cancel_line" if p.is_cancel_notice else "reminders.next_line",
            when=timestamp(p.due, "f"),
            relative=timestamp(p.due, "R"),
            kind=_kind_label(p.kind, lang, p.occurrence),
            week=p.week or p.session.week or "-",
        )
        for p in upcoming
    ] or [t(lang, "reminders.none_planned")]
    icons = {"sent": "✅", "failed": "❌", "missed": "⏭️", "claimed": "⏳"}
    log_lines = []
    for row in deliveries:
        line = t(
            lang,
            "reminders.log_line",
            icon=icons.get(row.status, "•"),
            status=t(lang, "status." + row.status),
            kind=_kind_label(row.kind, lang, row.occurrence),
            due=timestamp(row.due_at, "f"),
        )
        if row.late and row.status == "sent":
            line += " " + t(lang, "reminders.was_late")
        if row.last_error and row.status in ("failed", "missed"):
            line += f"\n  ↳ {escape_markdown(row.last_error[:200])}"
        log_lines.append(line)
    fields = [
        EmbedField(t(lang, "reminders.next_title"), join_lines(next_lines, 1024)),
        EmbedField(
            t(lang, "reminders.log_title"), join_lines(log_lines, 1024) if log_lines else t(lang, "reminders.log_empty")
        ),
    ]
    if problems:
        fields.append(EmbedField(t(lang, "reminders.problems_title"), join_lines([f"⚠️ {p}" for p in problems], 1024)))
    embed = EmbedSpec(
        title=t(lang, "reminders.status_title"),
        description=join_lines(
            [
                t(lang, "reminders.state", state=state),
                t(lang, "reminders.channel", channel=channel),
                t(lang, "reminders.offsets", offsets=offsets),
            ],
            DESCRIPTION_MAX,
        ),
        fields=fields,
        color=COLOR_WARNING if problems or snap.paused else 0x2D7D46,
    )
    return Reply(embeds=[fit(embed)], ephemeral=True)


def _kind_label(kind: str, lang: str, occurrence: datetime) -> str:
    """ "1d before", or for a cancel notice which session it is about (its date: the week is gone with it)."""
    if kind.startswith("remind:"):
        return t(lang, "reminders.kind_offset", offset=format_offset(timedelta(minutes=int(kind.split(":")[1]))))
    if kind in ("checkin", "nudge", "recap"):
        return t(lang, f"practice.kind_{kind}")
    return t(lang, "reminders.kind_cancel", date=timestamp(occurrence, "D"))
