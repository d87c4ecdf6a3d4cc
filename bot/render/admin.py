"""Renderers for admin answers: confirmations, the settings card, the audit trail. All ephemeral."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bot.core.model import StudySnapshot
from bot.core.validation import escape_markdown, format_offset
from bot.db.models import AuditEntry
from bot.i18n import t
from bot.render.embeds import (
    DESCRIPTION_MAX,
    EmbedField,
    EmbedSpec,
    Reply,
    bare_link,
    fit,
    join_lines,
    timestamp,
    truncate,
)
from bot.services.settings import WEEKDAYS


def render_done(lang: str, key: str, **params: Any) -> Reply:
    safe = {k: escape_markdown(v) if isinstance(v, str) and not v.startswith("<") else v for k, v in params.items()}
    return Reply(content="✅ " + t(lang, key, **safe), ephemeral=True)


def render_error(lang: str, key: str, params: dict[str, Any]) -> Reply:
    return Reply(content="⚠️ " + t(lang, key, **params), ephemeral=True)


def render_settings(snap: StudySnapshot, lang: str, *, changed: bool) -> Reply:
    rec = snap.recurrence
    none = t(lang, "settings.unset")
    rows = [
        (t(lang, "settings.channel"), f"<#{snap.reminder_channel_id}>" if snap.reminder_channel_id else none),
        (t(lang, "settings.role"), f"<@&{snap.ping_role_id}>" if snap.ping_role_id else none),
        (t(lang, "settings.admin_role"), f"<@&{snap.admin_role_id}>" if snap.admin_role_id else none),
        (
            t(lang, "settings.time"),
            t(
                lang,
                "settings.time_value",
                weekday=t(lang, "weekday." + WEEKDAYS[rec.weekday]),
                time=rec.start_time.strftime("%H:%M"),
                tz=rec.timezone,
                minutes=int(rec.duration.total_seconds() // 60),
            ),
        ),
        (t(lang, "settings.place"), f"{escape_markdown(snap.place.name)} {bare_link(snap.place.url)}".strip()),
        (t(lang, "settings.offsets"), ", ".join(format_offset(o) for o in snap.reminder_offsets) or none),
        (t(lang, "settings.language"), snap.locale),
        (t(lang, "settings.first_session"), rec.first_date.isoformat()),
        (t(lang, "settings.paused"), t(lang, "common.yes") if snap.paused else t(lang, "common.no")),
    ]
    embed = EmbedSpec(
        title=t(lang, "settings.title_changed" if changed else "settings.title"),
        fields=[EmbedField(name, value, inline=True) for name, value in rows],
        footer=t(lang, "settings.footer"),
    )
    return Reply(embeds=[fit(embed)], ephemeral=True)


def _short(raw: str) -> str:
    if not raw:
        return "-"
    try:
        value = json.loads(raw)
    except ValueError:
        return truncate(raw, 120)
    if isinstance(value, dict):
        text = ", ".join(f"{k}={v}" for k, v in value.items() if v not in (None, ""))
    else:
        text = str(value)
    return truncate(escape_markdown(text), 160)


def render_audit(entries: Sequence[AuditEntry], lang: str) -> Reply:
    if not entries:
        return Reply(content=t(lang, "audit.empty"), ephemeral=True)
    lines = []
    for entry in entries:
        who = f"<@{entry.actor_id}>" if entry.actor_id else escape_markdown(entry.actor_name)
        lines.append(
            t(
                lang,
                "audit.line",
                when=timestamp(entry.created_at, "f"),
                who=who,
                action=entry.action,
                target=escape_markdown(entry.target),
            )
            + "\n"
            + t(lang, "audit.change", before=_short(entry.before), after=_short(entry.after))
        )
    embed = EmbedSpec(
        title=t(lang, "audit.title", count=len(entries)),
        description=join_lines(lines, DESCRIPTION_MAX, t(lang, "common.more", n="{n}")),
    )
    return Reply(embeds=[fit(embed)], ephemeral=True)
