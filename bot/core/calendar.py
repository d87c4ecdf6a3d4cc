"""The study's schedule as an RFC 5545 (.ics) feed that members import or subscribe to.

Why these choices:

* One VEVENT per slot with a UID made of the study id and the slot's *original* date, so re-importing or
  refreshing a subscription updates the same event after a move instead of adding a duplicate.
* Cancelled slots stay in the feed with STATUS:CANCELLED: a client that already has the event marks or
  removes it; dropping the VEVENT would leave the stale event in people's calendars.
* Times are written in the study's timezone with a TZID and a generated VTIMEZONE, so a weekly 09:00
  session stays at 09:00 local across DST changes in every client, including those without a tz database.
* DTSTAMP is the injected `now`; nothing here reads a clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vDuration

from bot.core.schedule import Session

PRODID = "-//studybot//studybot//EN"
REFRESH_INTERVAL = timedelta(hours=6)
"""How often subscribing clients are asked to refresh (clients may ignore it; Google does)."""

# The generated VTIMEZONE only needs to be right for the feed's own dates; a margin keeps it valid for
# clients that expand it a little beyond them, without writing every transition since 1970.
_TZ_MARGIN = timedelta(days=366)


def uid_for(study_id: int, session: Session) -> str:
    """The stable UID of a slot's event: same study and original date → same event in every client."""
    return f"study-{study_id}-{session.original_date:%Y%m%d}@studybot"


def default_summary(session: Session, study_name: str, week_titles: Mapping[int, str]) -> str:
    """ "Week N · topic" for a held session; "Cancelled · <study>" for a cancelled slot (it has no week)."""
    if session.cancelled or session.week is None:
        return f"Cancelled · {study_name}"
    title = week_titles.get(session.week, "").strip()
    return f"Week {session.week} · {title}" if title else f"Week {session.week}"


def build_calendar(
    *,
    study_id: int,
    study_name: str,
    timezone: str,
    schedule: Sequence[Session],
    week_titles: Mapping[int, str],
    location: str,
    location_url: str,
    description_for: Callable[[Session], str] | None = None,
    summary_for: Callable[[Session], str] | None = None,
    sequence: int | None = None,
    now: datetime,
) -> bytes:
    """The whole feed as bytes (UTF-8, CRLF line endings, folded lines), ready to serve as text/calendar.

    `summary_for` and `description_for` let the caller render localised text; without them the summary is
    "Week N · topic" and the description is the change reason and the location URL. `sequence`, when
    given, is every event's SEQUENCE: pass something that only grows (e.g. minutes since the epoch of the
    study's last change) so clients apply every change, a restore after a cancellation included.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    zone = ZoneInfo(timezone)
    stamp = now.astimezone(UTC)

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", study_name)
    calendar.add("x-wr-timezone", timezone)
    calendar.add("refresh-interval", REFRESH_INTERVAL, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(REFRESH_INTERVAL))

    for session in schedule:
        event = Event()
        event.add("uid", uid_for(study_id, session))
        event.add("dtstamp", stamp)
        event.add("dtstart", session.start.astimezone(zone))
        event.add("dtend", session.end.astimezone(zone))
        summary = summary_for(session) if summary_for else default_summary(session, study_name, week_titles)
        event.add("summary", summary)
        if location:
            event.add("location", location)
        if location_url:
            event.add("url", location_url)
        description = description_for(session) if description_for else _default_description(session, location_url)
        if description:
            event.add("description", description)
        event.add("status", "CANCELLED" if session.cancelled else "CONFIRMED")
        event.add("sequence", sequence if sequence is not None else (1 if session.cancelled or session.moved else 0))
        calendar.add_component(event)

    if schedule:
        first = min(s.start for s in schedule).astimezone(zone).date() - _TZ_MARGIN
        last = max(s.end for s in schedule).astimezone(zone).date() + _TZ_MARGIN
        calendar.add_missing_timezones(first_date=first, last_date=last)
    result: bytes = calendar.to_ical()
    return result


def _default_description(session: Session, location_url: str) -> str:
    lines = [session.reason.strip(), location_url.strip()]
    return "\n".join(line for line in lines if line)
