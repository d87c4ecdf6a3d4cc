"""The study's practice posts: the session-start post with its check-in button, the nudge and the recap.

They are plan entries like reminders (kinds "checkin", "nudge", "recap" in `plan.py`), claimed in the same
ledger and sent through the same paced queue; this module only turns a planned post into a Reply, from the
snapshot plus the facts the database holds for that session (`PracticeFacts`).

Pings: the session-start post and the recap ping nobody. The nudge pings exactly the members who are linked
and opted in (`Reply.ping_user_ids` → allowed_mentions naming only those users); everyone else is listed by
name, which cannot ping.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Protocol

from bot.core.attendance import AttendanceStatus
from bot.core.model import StudySnapshot
from bot.core.schedule import Session, build_schedule, next_session
from bot.core.validation import escape_markdown
from bot.i18n import t
from bot.render.embeds import (
    COLOR_DEFAULT,
    ButtonSpec,
    EmbedField,
    EmbedSpec,
    Reply,
    fit,
    join_lines,
    timestamp,
)
from bot.render.study import place_line, week_title

if TYPE_CHECKING:
    from bot.render.pool import RenderPool

log = logging.getLogger(__name__)

CHECKIN_ID_PREFIX = "studybot:checkin"
CHECKIN_TEMPLATE = r"studybot:checkin:(?P<study>[0-9a-zA-Z]{1,32}):(?P<day>\d{4}-\d{2}-\d{2})"
CLAIM_ID_PREFIX = "studybot:claim"
CLAIM_TEMPLATE = r"studybot:claim:(?P<study>[0-9a-zA-Z]{1,32})"


def checkin_custom_id(public_id: str, original_date: date) -> str:
    """The check-in button's id: names the study and the session, so a press needs no in-memory state."""
    return f"{CHECKIN_ID_PREFIX}:{public_id}:{original_date.isoformat()}"


def claim_custom_id(public_id: str) -> str:
    return f"{CLAIM_ID_PREFIX}:{public_id}"


class SessionFactsLike(Protocol):
    """One session's check-ins (member id → status) and study logs (member id → URLs)."""

    @property
    def attendance(self) -> Mapping[int, AttendanceStatus]: ...

    @property
    def logs(self) -> Mapping[int, list[str]]: ...


class FactsSource(Protocol):
    async def session_facts(self, *, study_id: int, original_date: date) -> SessionFactsLike: ...

    async def statuses(self, *, study_id: int) -> dict[int, dict[date, AttendanceStatus]]: ...

    async def log_dates(self, *, study_id: int) -> dict[int, set[date]]: ...


class PracticeFacts:
    """What the runner asks the database for when it renders a nudge or a recap.

    `pool` is the bot's render pool (`bot.render.pool.RenderPool`): the recap's picture is drawn there, like
    `/progress`, never on the event loop nor in a thread of it. Without a pool the recap goes without one."""

    def __init__(self, source: FactsSource, *, pool: RenderPool | None = None) -> None:
        self.source = source
        self.pool = pool

    async def for_session(self, study_id: int, original_date: date) -> SessionFactsLike:
        return await self.source.session_facts(study_id=study_id, original_date=original_date)

    async def progress_png(self, snap: StudySnapshot, *, lang: str) -> bytes | None:
        """The progress picture for the recap (its first page), drawn in the render pool; else None."""
        if self.pool is None:
            return None
        try:
            from bot.render.progress import recap_progress_data, render_progress

            statuses = await self.source.statuses(study_id=snap.id)
            logs = await self.source.log_dates(study_id=snap.id)
            schedule = build_schedule(snap.recurrence, snap.changes, snap.week_count)
            # The page's own data is built here (cheap) and is all the worker receives.
            page = recap_progress_data(snap, schedule, statuses, logs, lang=lang)
            [result] = await self.pool.draw(render_progress, [page])
            return result if isinstance(result, bytes) else None
        except Exception:
            log.exception("progress picture for study %s could not be rendered; recap goes without it", snap.id)
            return None


# --- renderers (pure) -----------------------------------------------------------------------------------


def render_checkin_post(
    snap: StudySnapshot, session: Session, *, now: datetime, late: bool, reference: str = ""
) -> Reply:
    """ "Session starting": week, topic, time, Gather Town link, and the check-in button."""
    lang = snap.locale
    assert session.week is not None
    week = snap.week(session.week)
    lines = [
        t(
            lang,
            "practice.checkin_when",
            absolute=timestamp(session.start, "F"),
            relative=timestamp(session.start, "R"),
        ),
        place_line(snap, lang),
        t(
            lang,
            "practice.checkin_rules",
            grace=int(snap.practice.checkin_grace.total_seconds() // 60),
            closes=timestamp(session.end, "t"),
        ),
    ]
    if session.moved:
        lines.append(t(lang, "week.moved_note"))
    embed = EmbedSpec(
        title=week_title(week, session.week, lang),
        description="\n".join(lines),
        url=snap.place.url or None,
        color=COLOR_DEFAULT,
        footer=reference,
    )
    text = t(lang, "practice.checkin_late" if late else "practice.checkin_text", week=session.week)
    button = ButtonSpec(
        custom_id=checkin_custom_id(snap.public_id, session.original_date),
        label=t(lang, "practice.checkin_button"),
        emoji="✅",
    )
    return Reply(content=text, embeds=[fit(embed)], buttons=(button,))


def render_nudge(snap: StudySnapshot, session: Session, facts: SessionFactsLike, *, reference: str = "") -> Reply:
    """Who has not posted this week's study log: opted-in linked members pinged, the others named."""
    lang = snap.locale
    missing = [m for m in snap.members if m.id not in facts.logs]
    pinged = tuple(m.discord_user_id for m in missing if m.discord_user_id and m.nudge_opt_in)
    if not missing:
        body = t(lang, "practice.nudge_all_done", week=session.week or 0)
    else:
        names = [
            f"<@{m.discord_user_id}>" if m.discord_user_id and m.nudge_opt_in else escape_markdown(m.name)
            for m in missing
        ]
        body = t(
            lang,
            "practice.nudge_text",
            week=session.week or 0,
            when=timestamp(session.start, "R"),
            count=len(missing),
            names=", ".join(names),
        )
    if len(body) > 1900:  # 200 members with long names: keep the pings, shorten the list
        body = body[:1890] + "…"
        pinged = tuple(uid for uid in pinged if f"<@{uid}>" in body)
    embed = EmbedSpec(description=t(lang, "practice.nudge_hint"), footer=reference)
    return Reply(content=body, embeds=[fit(embed)], ping_user_ids=pinged)


def render_recap(
    snap: StudySnapshot,
    session: Session,
    facts: SessionFactsLike,
    *,
    following: Session | None,
    png: bytes | None,
    reference: str = "",
) -> Reply:
    """After a session: who checked in (present / late), whose logs are up, and next week's topic."""
    lang = snap.locale
    members = list(snap.members)
    came = [
        f"{'✅' if facts.attendance.get(m.id) is AttendanceStatus.PRESENT else '🕒'} {escape_markdown(m.name)}"
        for m in members
        if facts.attendance.get(m.id) in (AttendanceStatus.PRESENT, AttendanceStatus.LATE)
    ]
    logged = [f"📝 [{escape_markdown(m.name)}]({facts.logs[m.id][0]})" for m in members if facts.logs.get(m.id)]
    more = t(lang, "common.more", n="{n}")
    fields = [
        EmbedField(
            t(lang, "practice.recap_attended", count=len(came), total=len(members)),
            join_lines(came, 1024, more) if came else t(lang, "practice.recap_nobody"),
        ),
        EmbedField(
            t(lang, "practice.recap_logs", count=len(logged), total=len(members)),
            join_lines(logged, 1024, more) if logged else t(lang, "practice.recap_no_logs"),
        ),
    ]
    if following is not None and following.week is not None:
        topic = week_title(snap.week(following.week), following.week, lang)
        fields.append(EmbedField(t(lang, "practice.recap_next"), f"{topic}\n{timestamp(following.start, 'F')}"))
    else:
        fields.append(EmbedField(t(lang, "practice.recap_next"), t(lang, "practice.recap_last")))
    assert session.week is not None
    embed = EmbedSpec(
        title=t(lang, "practice.recap_title", week=session.week),
        fields=fields,
        footer=reference,
    )
    reply = Reply(content=t(lang, "practice.recap_text", week=session.week), embeds=[fit(embed)])
    if png:
        reply.file_name = f"progress-week{session.week}.png"
        reply.file_bytes = png
    return reply


def following_session(snap: StudySnapshot, session: Session) -> Session | None:
    schedule = build_schedule(snap.recurrence, snap.changes, snap.week_count)
    return next_session(schedule, session.start)


__all__: Sequence[str] = (
    "CHECKIN_TEMPLATE",
    "CLAIM_TEMPLATE",
    "PracticeFacts",
    "checkin_custom_id",
    "claim_custom_id",
    "render_checkin_post",
    "render_nudge",
    "render_recap",
)
