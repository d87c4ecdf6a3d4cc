"""The study's .ics feed, localized: /calendar and `studybot calendar` both use this."""

from __future__ import annotations

from datetime import datetime

from bot.core.calendar import build_calendar, event_sequence
from bot.core.model import StudySnapshot
from bot.core.schedule import Session, build_schedule
from bot.i18n import t


def calendar_file_name(snap: StudySnapshot) -> str:
    return f"study-{snap.guild_id}.ics"


def last_revision(snap: StudySnapshot, *, now: datetime) -> datetime:
    """When anything in the study (and so possibly in its feed) last changed: the feed's DTSTAMP.

    Every edit stamps the study, session changes included; the changes' own stamps only matter for rows
    written before the study carried one. `now` is the last resort for a study never stamped at all."""
    stamps = [s for s in (snap.updated_at, *(c.updated_at for c in snap.changes)) if s is not None]
    return max(stamps, default=snap.created_at or now)


def study_calendar(snap: StudySnapshot, *, now: datetime, lang: str | None = None) -> bytes:
    """The feed of `snap`; `now` is used only when the study carries no revision time at all."""
    language = lang or snap.locale
    changes = {c.original_date: c for c in snap.changes}
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
        calendar_id=snap.public_id,
        study_name=snap.name,
        timezone=snap.recurrence.timezone,
        schedule=schedule,
        week_titles={w.number: w.title_for(language) for w in snap.weeks},
        location=snap.place.name,
        location_url=snap.place.url,
        description_for=description,
        summary_for=summary,
        sequence_for=lambda s: event_sequence(study_revision=snap.revision, change=changes.get(s.original_date)),
        revised_at=last_revision(snap, now=now),
    )
