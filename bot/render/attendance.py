"""Renderers for check-in answers and /attendance: a member's history, and the whole study as a grid.

Pure (snapshot, histories and `now` passed in). The grid is text in a code block — one line per member, one
column per session that has started, the name last so alignment never depends on how wide a name is — and
is split into pages that each fit one embed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.core.attendance import AttendanceStatus, History
from bot.core.model import Member, StudySnapshot
from bot.core.validation import escape_markdown
from bot.i18n import t
from bot.render.embeds import DESCRIPTION_MAX, EmbedSpec, Reply, SelectSpec, fit, timestamp

ICONS = {
    AttendanceStatus.PRESENT: "✅",
    AttendanceStatus.LATE: "🕒",
    AttendanceStatus.EXCUSED: "📝",
    AttendanceStatus.ABSENT: "❌",
}
CELLS = {
    AttendanceStatus.PRESENT: "O",
    AttendanceStatus.LATE: "L",
    AttendanceStatus.EXCUSED: "E",
    AttendanceStatus.ABSENT: "X",
}
STATUS_KEYS = {
    AttendanceStatus.PRESENT: "attendance.status_present",
    AttendanceStatus.LATE: "attendance.status_late",
    AttendanceStatus.EXCUSED: "attendance.status_excused",
    AttendanceStatus.ABSENT: "attendance.status_absent",
}
GRID_PAGE_MAX = DESCRIPTION_MAX - 200  # room for the code fences and the legend


def status_text(status: AttendanceStatus, lang: str) -> str:
    return f"{ICONS[status]} {t(lang, STATUS_KEYS[status])}"


def rate_text(history: History, lang: str) -> str:
    rate = history.rate
    return t(lang, "attendance.rate_none") if rate is None else f"{round(rate * 100)}%"


def render_checkin_done(*, name: str, week: int, status: AttendanceStatus, already: bool, lang: str) -> Reply:
    key = "attendance.already" if already else "attendance.done"
    text = t(lang, key, name=escape_markdown(name), week=week, status=status_text(status, lang))
    return Reply(content=text, ephemeral=True)


def render_not_linked(snap: StudySnapshot, lang: str, *, custom_id: str) -> Reply:
    """The caller's account is not on the roster: offer the unlinked names to claim (a menu when they fit)."""
    free = [m.name for m in snap.members if m.discord_user_id is None]
    text = t(lang, "attendance.not_linked")
    if not free:
        return Reply(content=text + "\n" + t(lang, "claim.nothing_free"), ephemeral=True)
    if len(free) > 25:
        return Reply(content=text + "\n" + t(lang, "claim.use_command"), ephemeral=True)
    select = SelectSpec(
        custom_id=custom_id,
        placeholder=t(lang, "claim.placeholder"),
        options=tuple((name[:100], name[:100]) for name in free),
    )
    return Reply(content=text + "\n" + t(lang, "claim.pick"), ephemeral=True, select=select)


def render_member_history(snap: StudySnapshot, member: Member, history: History, lang: str) -> Reply:
    lines = []
    for record in history.records:
        when = timestamp(record.session.start, "d")
        shown = status_text(record.status, lang) if record.status else t(lang, "attendance.upcoming")
        moved = " 🔀" if record.session.moved else ""
        lines.append(t(lang, "attendance.history_line", week=record.week, when=when, status=shown) + moved)
    counts = t(
        lang,
        "attendance.counts",
        present=history.count(AttendanceStatus.PRESENT),
        late=history.count(AttendanceStatus.LATE),
        excused=history.count(AttendanceStatus.EXCUSED),
        absent=history.count(AttendanceStatus.ABSENT),
    )
    embed = EmbedSpec(
        title=t(lang, "attendance.history_title", name=escape_markdown(member.name), rate=rate_text(history, lang)),
        description="\n".join(lines) or t(lang, "attendance.no_sessions"),
        footer=counts,
    )
    return Reply(embeds=[fit(embed)], ephemeral=True)


def render_grid(
    snap: StudySnapshot, histories: Sequence[tuple[Member, History]], lang: str, *, now: datetime
) -> list[Reply]:
    """The whole study: members × started sessions, one page per embed; the first page has the legend."""
    started = []
    if histories:
        started = [r for r in histories[0][1].records if r.session.start <= now]
    if not histories or not started:
        return [Reply(content=t(lang, "attendance.grid_empty"), ephemeral=True)]
    columns = [r.week for r in started]
    header = "".join(f"{w:>3}" for w in columns) + "   %"
    rows = []
    for member, history in histories:
        by_week = {r.week: r.status for r in history.records}
        cells = "".join(f"{CELLS[s]:>3}" if (s := by_week.get(w)) else "  ·" for w in columns)
        rate = history.rate
        shown = " -- " if rate is None else f"{round(rate * 100):>3}%"
        rows.append(f"{cells} {shown}  {member.name}")
    pages: list[list[str]] = [[]]
    size = 0
    for row in rows:
        if pages[-1] and size + len(row) + 1 > GRID_PAGE_MAX:
            pages.append([])
            size = 0
        pages[-1].append(row)
        size += len(row) + 1
    replies = []
    for index, page in enumerate(pages, start=1):
        body = "```\n" + header + "\n" + "\n".join(page).replace("```", "'''") + "\n```"
        title = t(lang, "attendance.grid_title", study=escape_markdown(snap.name))
        if len(pages) > 1:
            title += f" ({index}/{len(pages)})"
        embed = EmbedSpec(title=title, description=body, footer=t(lang, "attendance.legend"))
        replies.append(Reply(embeds=[fit(embed)], ephemeral=True))
    return replies
