"""Renderers for admin answers: confirmations, the settings card, the audit trail. All ephemeral."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from datetime import datetime, timedelta
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
    timestamp,
)
from bot.services.settings import WEEKDAYS


def render_done(lang: str, key: str, **params: Any) -> Reply:
    safe = {k: escape_markdown(v) if isinstance(v, str) and not v.startswith("<") else v for k, v in params.items()}
    return Reply(content="✅ " + t(lang, key, **safe), ephemeral=True)


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


AUDIT_PAGE_MAX = DESCRIPTION_MAX
"""One page of `/admin audit` is one embed description (Discord: 4,096 characters; with the title and the
footer the embed stays far below the 6,000 total)."""
AUDIT_LINE_MAX = 1000
"""A change longer than this shows its old and new value on lines of their own; a single value longer than
this (only ever imported, never typed: links are at most 500 characters) wraps onto continuation lines, so
a value is never cut: it only continues."""

_ID_FIELDS = {"channel": "<#{}>", "ping_role": "<@&{}>", "admin_role": "<@&{}>", "user": "<@{}>"}


_LINK_FIELDS = frozenset({"place_url", "url", "github", "blog"})


def _decode(raw: str) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _value(field: str | None, value: Any, lang: str) -> str:
    """One recorded value, whole: ids as mentions (embeds never ping), offsets as `1d, 1h`, flags as yes/no,
    text escaped."""
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return t(lang, "common.yes" if value else "common.no")
    if field in _ID_FIELDS and isinstance(value, int):
        return _ID_FIELDS[field].format(value)
    if field == "moved_to" and isinstance(value, str):
        with contextlib.suppress(ValueError):
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is not None:
                return timestamp(moment, "f")  # each reader sees it in their own timezone
    if field == "offsets" and isinstance(value, str) and value.replace(",", "").isdigit():
        return ", ".join(format_offset(timedelta(minutes=int(m))) for m in value.split(","))
    if field in _LINK_FIELDS and isinstance(value, str) and bare_link(value):
        return bare_link(value)  # whole and clickable, and nothing around it can join it
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return escape_markdown(text)


def audit_changes(before_raw: str, after_raw: str, lang: str) -> list[str]:
    """What one audit row changed, one line per field that differs (rows written before only changed
    fields were recorded hold whole states: they are compared here, so those show their changes only too)."""
    before, after = _decode(before_raw), _decode(after_raw)
    if isinstance(before, dict) or isinstance(after, dict):
        old = before if isinstance(before, dict) else {}
        new = after if isinstance(after, dict) else {}
        lines = []
        for key in {**old, **new}:
            was, now = _value(key, old.get(key), lang), _value(key, new.get(key), lang)
            if was == now or (was == "-" and new.get(key) is False) or (now == "-" and old.get(key) is False):
                continue  # unchanged, or an unset flag of something created or removed: nothing to tell
            line = t(lang, "audit.field", field=key, before=was, after=now)
            # Two long values (links) read better, and stay clickable, each on a line of its own.
            if len(line) <= AUDIT_LINE_MAX:
                lines.append(line)
            else:
                lines += [t(lang, "audit.field_long", field=key), was, "→ " + now]
        return lines or [t(lang, "audit.no_change")]
    return [t(lang, "audit.change", before=_value(None, before, lang), after=_value(None, after, lang))]


def _wrap(line: str, width: int = AUDIT_LINE_MAX) -> list[str]:
    """Split a long line into pieces of at most `width`, never between a backslash and what it escapes."""
    pieces = []
    while len(line) > width:
        cut = width
        head = line[:cut]
        if (len(head) - len(head.rstrip("\\"))) % 2:  # an odd run of backslashes: keep the last with what it escapes
            cut -= 1
        pieces.append(line[:cut])
        line = "  " + line[cut:]
    pieces.append(line)
    return pieces


def _paginate(blocks: Sequence[list[str]], budget: int) -> list[list[str]]:
    """Pack entries (lists of lines) onto pages of at most `budget` characters; an entry starts a new page
    rather than being split, unless it is longer than a whole page."""
    pages: list[list[str]] = [[]]
    used = 0
    for block in blocks:
        size = sum(len(line) + 1 for line in block)
        if pages[-1] and used + size > budget:
            pages.append([])
            used = 0
        for line in block:
            if pages[-1] and used + len(line) + 1 > budget:
                pages.append([])
                used = 0
            pages[-1].append(line)
            used += len(line) + 1
    return pages


def render_audit(entries: Sequence[AuditEntry], lang: str, page: int = 1) -> Reply:
    """/admin audit: who changed what, and only the fields that changed, each value in full. When that does
    not fit one embed it continues on further pages (`page`; the footer says how to get the next one)."""
    if not entries:
        return Reply(content=t(lang, "audit.empty"), ephemeral=True)
    blocks = []
    for entry in entries:
        who = f"<@{entry.actor_id}>" if entry.actor_id else escape_markdown(entry.actor_name)
        header = t(
            lang,
            "audit.line",
            when=timestamp(entry.created_at, "f"),
            who=who,
            action=entry.action,
            target=escape_markdown(entry.target),
        )
        lines = [header, *audit_changes(entry.before, entry.after, lang)]
        blocks.append([piece for line in lines for piece in _wrap(line)])
    pages = _paginate(blocks, AUDIT_PAGE_MAX)
    shown = min(max(page, 1), len(pages))
    if len(pages) == 1:
        footer = ""
    elif shown < len(pages):
        footer = t(lang, "audit.page", page=shown, pages=len(pages), next=shown + 1)
    else:
        footer = t(lang, "audit.last_page", page=shown, pages=len(pages))
    embed = EmbedSpec(
        title=t(lang, "audit.title", count=len(entries)), description="\n".join(pages[shown - 1]), footer=footer
    )
    return Reply(embeds=[fit(embed)], ephemeral=True)
