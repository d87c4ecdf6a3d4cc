"""Renderers for the member commands (/week, /materials, /schedule, /next, /roster): snapshot → Reply.

Pure: the schedule and `now` are passed in, text comes from the catalogues, and every embed goes through
`fit()` so it stays inside Discord's limits whatever the curriculum holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.core.model import Material, MaterialKind, MemberRole, StudySnapshot, Week
from bot.core.schedule import Session, current_index, next_session, session_for_week, upcoming_or_ongoing
from bot.core.validation import escape_markdown
from bot.i18n import t
from bot.render.embeds import (
    COLOR_WARNING,
    DESCRIPTION_MAX,
    EMBED_TOTAL_MAX,
    FIELD_VALUE_MAX,
    EmbedField,
    EmbedSpec,
    Reply,
    fit,
    join_lines,
    masked_link,
    timestamp,
)

KIND_ICONS = {
    MaterialKind.TUTORIAL: "📘",
    MaterialKind.VIDEO: "🎬",
    MaterialKind.COURSE: "🎓",
    MaterialKind.REPO: "💻",
    MaterialKind.SLIDES: "📄",
    MaterialKind.BOOK: "📚",
    MaterialKind.ARTICLE: "📑",
    MaterialKind.NOTEBOOK: "📓",
    MaterialKind.LINK: "🔗",
}


def material_line(material: Material, lang: str, index: int | None = None) -> str:
    prefix = f"{index}. " if index is not None else ""
    return f"{prefix}{KIND_ICONS.get(material.kind, '🔗')} {masked_link(material.title_for(lang), material.url)}"


def materials_block(materials: Sequence[Material], lang: str, limit: int = FIELD_VALUE_MAX) -> str:
    if not materials:
        return t(lang, "materials.none")
    lines = [material_line(m, lang, i) for i, m in enumerate(materials, start=1)]
    return join_lines(lines, limit, t(lang, "common.more", n="{n}"))


def place_line(snap: StudySnapshot, lang: str) -> str:
    shown = masked_link(snap.place.name, snap.place.url) if snap.place.url else escape_markdown(snap.place.name)
    return t(lang, "week.place", place=shown)


def when_line(session: Session, lang: str) -> str:
    return t(lang, "week.when", absolute=timestamp(session.start, "F"), relative=timestamp(session.start, "R"))


def week_title(week: Week | None, number: int, lang: str) -> str:
    topic = escape_markdown(week.title_for(lang)) if week else t(lang, "week.no_topic")
    return t(lang, "week.title", week=number, topic=topic)


def session_embed(snap: StudySnapshot, session: Session, lang: str, *, now: datetime) -> EmbedSpec:
    """The card for one (not cancelled) session: topic, time, place, materials."""
    assert session.week is not None
    week = snap.week(session.week)
    lines = [when_line(session, lang), place_line(snap, lang)]
    if session.moved:
        lines.append(t(lang, "week.moved_note"))
    if session.end <= now:
        lines.append(t(lang, "week.done_note"))
    elif session.start <= now:
        lines.append(t(lang, "week.ongoing_note"))
    if week and week.notes:
        lines.append("")
        lines.append(escape_markdown(week.notes))
    embed = EmbedSpec(
        title=week_title(week, session.week, lang),
        description="\n".join(lines),
        fields=[EmbedField(t(lang, "week.materials"), materials_block(week.materials if week else (), lang))],
        footer=t(lang, "week.footer", study=snap.name, week=session.week, total=snap.week_count),
    )
    return fit(embed)


def render_week(
    snap: StudySnapshot, schedule: Sequence[Session], now: datetime, lang: str, number: int | None = None
) -> Reply:
    """/week: the given week, or this week (the first slot that has not ended)."""
    if number is not None:
        session = session_for_week(schedule, number)
        if session is None:  # the caller validated the range; an empty curriculum ends up here
            return Reply(content=t(lang, "week.none"))
        return Reply(embeds=[session_embed(snap, session, lang, now=now)])
    index = current_index(schedule, now)
    if index is None:
        return Reply(
            embeds=[
                fit(
                    EmbedSpec(
                        title=t(lang, "week.finished_title", study=snap.name),
                        description=t(lang, "week.finished", total=snap.week_count),
                    )
                )
            ]
        )
    current = schedule[index]
    if not current.cancelled:
        return Reply(embeds=[session_embed(snap, current, lang, now=now)])
    # This week's session is cancelled: say so, and show the next one.
    reason = t(lang, "week.cancel_reason", reason=escape_markdown(current.reason)) if current.reason else ""
    notice = EmbedSpec(
        title=t(lang, "week.cancelled_title"),
        description=t(lang, "week.cancelled", date=timestamp(current.start, "D")) + reason,
        color=COLOR_WARNING,
    )
    following = upcoming_or_ongoing(schedule, now, after=index + 1)
    embeds = [fit(notice)]
    if following is not None:
        embeds[0].description += "\n" + t(
            lang, "week.next_is", week=following.week, absolute=timestamp(following.start, "F")
        )
        embeds.append(session_embed(snap, following, lang, now=now))
    return Reply(embeds=embeds)


def render_materials(snap: StudySnapshot, lang: str, week: int | None = None) -> Reply:
    """/materials: study-wide resources grouped by kind, or one week's materials."""
    if week is not None:
        found = snap.week(week)
        assert found is not None
        embed = EmbedSpec(
            title=t(lang, "materials.week_title", week=week, topic=escape_markdown(found.title_for(lang))),
            description=materials_block(found.materials, lang, DESCRIPTION_MAX),
            footer=t(lang, "materials.week_footer"),
        )
        return Reply(embeds=[fit(embed)])
    groups: dict[MaterialKind, list[tuple[int, Material]]] = {}
    for index, material in enumerate(snap.resources, start=1):
        groups.setdefault(material.kind, []).append((index, material))
    # Share the 6,000-character embed budget between the kinds, so none is dropped whole.
    budget = min(FIELD_VALUE_MAX, (EMBED_TOTAL_MAX - 600) // max(1, len(groups)))
    fields = [
        EmbedField(
            f"{KIND_ICONS[kind]} {t(lang, 'kind.' + kind.value)}",
            join_lines([material_line(m, lang, i) for i, m in items], budget, t(lang, "common.more", n="{n}")),
        )
        for kind, items in sorted(groups.items(), key=lambda kv: list(MaterialKind).index(kv[0]))
    ]
    embed = EmbedSpec(
        title=t(lang, "materials.title", study=escape_markdown(snap.name)),
        description=t(lang, "materials.intro") if fields else t(lang, "materials.none"),
        fields=fields,
        footer=t(lang, "materials.footer"),
    )
    return Reply(embeds=[fit(embed)])


def render_schedule(snap: StudySnapshot, schedule: Sequence[Session], now: datetime, lang: str) -> Reply:
    """/schedule: every slot with done / this week / cancelled / moved marked."""
    index = current_index(schedule, now)
    lines: list[str] = []
    for position, session in enumerate(schedule):
        day = timestamp(session.start, "D")
        if session.cancelled:
            lines.append(t(lang, "schedule.cancelled_line", date=day))
            continue
        assert session.week is not None
        week = snap.week(session.week)
        topic = escape_markdown(week.title_for(lang)) if week else "-"
        if index is not None and position == index:
            mark = "▶️"
        elif session.end <= now:
            mark = "✅"
        else:
            mark = "▫️"
        line = t(lang, "schedule.line", mark=mark, week=session.week, date=day, topic=topic)
        if session.moved:
            line += " " + t(lang, "schedule.moved", when=timestamp(session.start, "f"))
        if index is not None and position == index:
            line = f"**{line}**"
        lines.append(line)
    embed = EmbedSpec(
        title=t(lang, "schedule.title", study=escape_markdown(snap.name)),
        description=join_lines(lines, DESCRIPTION_MAX, t(lang, "common.more", n="{n}")) or t(lang, "week.none"),
        footer=t(lang, "schedule.legend"),
    )
    return Reply(embeds=[fit(embed)])


def render_next(snap: StudySnapshot, schedule: Sequence[Session], now: datetime, lang: str) -> Reply:
    """/next: when the next session starts, relative and absolute."""
    session = next_session(schedule, now)
    if session is None:
        return Reply(content=t(lang, "week.finished", total=snap.week_count))
    assert session.week is not None
    week = snap.week(session.week)
    embed = EmbedSpec(
        title=t(lang, "next.title", relative=timestamp(session.start, "R")),
        description="\n".join(
            [
                week_title(week, session.week, lang),
                when_line(session, lang),
                place_line(snap, lang),
            ]
        ),
    )
    return Reply(embeds=[fit(embed)])


def render_roster(snap: StudySnapshot, lang: str) -> Reply:
    """/roster: the members, their role, linked Discord user, GitHub and blog."""
    members = sorted(snap.members, key=lambda m: (m.role != MemberRole.LEADER, m.id))
    lines = []
    for member in members:
        parts = [("👑 " if member.role == MemberRole.LEADER else "• ") + f"**{escape_markdown(member.name)}**"]
        if member.role == MemberRole.LEADER:
            parts.append(t(lang, "roster.leader"))
        parts.append(f"<@{member.discord_user_id}>" if member.discord_user_id else t(lang, "roster.not_linked"))
        if member.github:
            parts.append(masked_link("GitHub", member.github))
        if member.blog:
            parts.append(masked_link(t(lang, "roster.blog"), member.blog))
        lines.append(" · ".join(parts))
    embed = EmbedSpec(
        title=t(lang, "roster.title", study=escape_markdown(snap.name), count=len(members)),
        description=join_lines(lines, DESCRIPTION_MAX, t(lang, "common.more", n="{n}")) or t(lang, "roster.empty"),
        footer=t(lang, "roster.footer"),
    )
    return Reply(embeds=[fit(embed)])
