"""Renderers for /log: the week's board (who posted, with links; who has not), one's own logs, confirmations.

Pure: entries and the snapshot are passed in; every embed goes through `fit()`, long lists end in
"…and N more", so a 200-member study stays inside Discord's limits.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from bot.core.model import Member, StudySnapshot
from bot.core.schedule import Session
from bot.core.validation import escape_markdown
from bot.i18n import t
from bot.render.embeds import DESCRIPTION_MAX, FIELD_VALUE_MAX, EmbedField, EmbedSpec, Reply, fit, join_lines
from bot.services.logs import LogEntry

LINK_LABEL_MAX = 48


def link(url: str) -> str:
    """A Markdown link whose label is the host and path, shortened; the target is the URL as validated."""
    parts = urlsplit(url)
    label = (parts.netloc + parts.path).rstrip("/") or url
    if len(label) > LINK_LABEL_MAX:
        label = label[: LINK_LABEL_MAX - 1] + "…"
    target = url.replace("(", "%28").replace(")", "%29")
    return f"[{escape_markdown(label)}]({target})"


def entry_line(entry: LogEntry, *, with_name: bool) -> str:
    parts = [f"**{escape_markdown(entry.member_name)}**"] if with_name else []
    parts.append(link(entry.url))
    if entry.note:
        parts.append(escape_markdown(entry.note))
    return " · ".join(parts)


def week_topic(snap: StudySnapshot, week: int | None, lang: str) -> str:
    found = snap.week(week) if week else None
    return escape_markdown(found.title_for(lang)) if found else t(lang, "week.no_topic")


def render_board(snap: StudySnapshot, session: Session, entries: Sequence[LogEntry], lang: str) -> Reply:
    """/log board: this week's (or a given week's) logs by member, then who has not posted yet."""
    members = list(snap.members)
    by_member: dict[int, list[LogEntry]] = {}
    for entry in entries:
        by_member.setdefault(entry.member_id, []).append(entry)
    posted = [m for m in members if m.id in by_member]
    missing = [m for m in members if m.id not in by_member]
    more = t(lang, "common.more", n="{n}")
    lines = []
    for member in posted:
        first, *rest = by_member[member.id]
        lines.append(entry_line(first, with_name=True))
        lines += [f"   ↳ {entry_line(extra, with_name=False)}" for extra in rest]
    description = join_lines(lines, DESCRIPTION_MAX - 200, more) if lines else t(lang, "log.board_empty")
    embed = EmbedSpec(
        title=t(lang, "log.board_title", week=session.week, topic=week_topic(snap, session.week, lang)),
        description=description,
        fields=[
            EmbedField(
                t(lang, "log.board_missing", count=len(missing), total=len(members)),
                join_lines([escape_markdown(m.name) for m in missing], FIELD_VALUE_MAX, more).replace("\n", ", ")
                if missing
                else t(lang, "log.board_everyone"),
            )
        ],
        footer=t(
            lang, "log.board_footer", posted=len(posted), total=len(members), date=session.original_date.isoformat()
        ),
    )
    return Reply(embeds=[fit(embed)])


def render_mine(snap: StudySnapshot, member: Member, entries: Sequence[LogEntry], lang: str) -> Reply:
    """/log mine: the caller's logs, oldest week first, each with the id `/log remove` takes."""
    if not entries:
        return Reply(content=t(lang, "log.mine_empty"), ephemeral=True)
    lines = []
    for entry in entries:
        week = (
            t(lang, "log.week_label", week=entry.week) if entry.week else t(lang, "log.cancelled_label")
        ) + f" ({entry.original_date.isoformat()})"
        lines.append(f"`#{entry.id}` {week} · {entry_line(entry, with_name=False)}")
    embed = EmbedSpec(
        title=t(lang, "log.mine_title", name=escape_markdown(member.name), count=len(entries)),
        description=join_lines(lines, DESCRIPTION_MAX, t(lang, "common.more", n="{n}")),
        footer=t(lang, "log.mine_footer"),
    )
    return Reply(embeds=[fit(embed)], ephemeral=True)


def render_added(entry: LogEntry, lang: str) -> Reply:
    return Reply(
        content="✅ "
        + t(lang, "log.added", week=entry.week, date=entry.original_date.isoformat(), link=link(entry.url)),
        ephemeral=True,
    )


def render_removed(entry: LogEntry, lang: str) -> Reply:
    return Reply(content="🗑 " + t(lang, "log.removed", id=entry.id, link=link(entry.url)), ephemeral=True)


def render_nudge(on: bool, lang: str) -> Reply:
    return Reply(content=t(lang, "log.nudge_on" if on else "log.nudge_off"), ephemeral=True)


def remove_choice_label(entry: LogEntry, lang: str) -> str:
    week = t(lang, "log.week_label", week=entry.week) if entry.week else t(lang, "log.cancelled_label")
    parts = urlsplit(entry.url)
    return f"#{entry.id} · {week} · {parts.netloc}{parts.path}"[:100]
