"""The study's .ics feed, localized: /calendar and `studybot calendar` both use this."""

from __future__ import annotations

from datetime import datetime

from bot.core.calendar import build_calendar
from bot.core.model import StudySnapshot
from bot.core.schedule import Session, build_schedule
from bot.i18n import t


def calendar_file_name(snap: StudySnapshot) -> str:
    return f"study-{snap.guild_id}.ics"


def study_calendar(snap: StudySnapshot, *, now: datetime, lang: str | None = None) -> bytes:
    language = lang or snap.locale
    schedule = build_schedule(snap.recurrence, snap.changes, snap.week_count)

    def summary(session: Session) -> str:
        if session.cancelled or session.week is None:
            return t(language, "calendar.cancelled_summary", study=snap.name)
        week = snap.week(session.week)
        return t(language, "calendar.summary", week=session.week, topic=week.title_for(language) if week else "")

    def description(session: Session) -> str:
        lines: list[str] = []
        if session.reason:
            lines.append(session.reason)
        week = snap.week(session.week or 0)
        if week and not session.cancelled:
            lines += [f"- {m.title_for(language)}: {m.url}" for m in week.materials]
        if snap.place.url:
            lines.append(f"{snap.place.name}: {snap.place.url}")
        return "\n".join(lines)

    return build_calendar(
        study_id=snap.id,
        study_name=snap.name,
        timezone=snap.recurrence.timezone,
        schedule=schedule,
        week_titles={w.number: w.title_for(language) for w in snap.weeks},
        location=snap.place.name,
        location_url=snap.place.url,
        description_for=description,
        summary_for=summary,
        # Grows with every change of the study, so calendar apps apply moves, cancellations and restores.
        sequence=int(snap.updated_at.timestamp() // 60) if snap.updated_at else None,
        now=now,
    )
