"""The study's schedule as an RFC 5545 (.ics) feed that members import or subscribe to.

Why these choices:

* One VEVENT per slot with a UID made of the study's public id and the slot's *original* date, so
  re-importing or refreshing a subscription updates the same event after a move instead of adding a
  duplicate. The public id is random per study (not the database row id, which is the same in every
  deployment), so two servers running the same study definition never share a UID (RFC 5545 §3.8.4.7).
* Cancelled slots stay in the feed with STATUS:CANCELLED: a client that already has the event marks or
  removes it; dropping the VEVENT would leave the stale event in people's calendars.
* Times are written in the study's timezone with a TZID and a generated VTIMEZONE, so a weekly 09:00
  session stays at 09:00 local across DST changes in every client, including those without a tz database.
* SEQUENCE and DTSTAMP come from the caller's revision counters, never from a clock: SEQUENCE must grow
  with every significant change of an event (§3.8.7.4) — a minute-resolution timestamp does not when two
  changes share a minute — and DTSTAMP, in a feed without METHOD, is when the event was last revised
  (§3.8.7.2), so exporting an unchanged study twice gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vDuration

from bot.core.model import SessionChange
from bot.core.schedule import Session

PRODID = "-//studybot//studybot//EN"
REFRESH_INTERVAL = timedelta(hours=6)
"""How often subscribing clients are asked to refresh (clients may ignore it; Google does)."""

# The generated VTIMEZONE only needs to be right for the feed's own dates; a margin keeps it valid for
# clients that expand it a little beyond them, without writing every transition since 1970.
_TZ_MARGIN = timedelta(days=366)


def uid_for(calendar_id: str, session: Session) -> str:
    """The stable UID of a slot's event: same study and original date → same event in every client.

    `calendar_id` is the study's random public id: unique across deployments, stable for the study's life."""
    if not calendar_id:
        raise ValueError("calendar_id must not be empty")
    return f"{calendar_id}-{session.original_date:%Y%m%d}@studybot"


def event_sequence(*, study_revision: int, change: SessionChange | None) -> int:
    """The SEQUENCE of a slot's event: the study's revision plus the slot's own revision.

    Why both: the slot's revision (0 while the slot was never changed) is raised by every cancel, move and
    restore of that slot, but an edit of the study itself — a new start time, duration or timezone, an
    import — moves every slot without touching their rows; the study's revision is raised by every edit,
    those included. Both counters only ever grow (a restore keeps the slot's row), so their sum only grows,
    and it grows with every change that can alter an event's time or status. It also grows with edits that
    alter nothing in the feed (a roster change); RFC 5545 allows raising SEQUENCE for any change, and it
    makes clients that compare SEQUENCE alone pick up renumbered weeks after a cancellation.
    """
    if study_revision < 0:
        raise ValueError("study_revision must not be negative")
    return study_revision + (max(change.revision, 0) if change is not None else 0)


def default_summary(session: Session, study_name: str, week_titles: Mapping[int, str]) -> str:
    """ "Week N · topic" for a held session; "Cancelled · <study>" for a cancelled slot (it has no week)."""
    if session.cancelled or session.week is None:
        return f"Cancelled · {study_name}"
    title = week_titles.get(session.week, "").strip()
    return f"Week {session.week} · {title}" if title else f"Week {session.week}"


def build_calendar(
    *,
    calendar_id: str,
    study_name: str,
    timezone: str,
    schedule: Sequence[Session],
    week_titles: Mapping[int, str],
    location: str,
    location_url: str,
    description_for: Callable[[Session], str] | None = None,
    summary_for: Callable[[Session], str] | None = None,
    sequence_for: Callable[[Session], int] | None = None,
    revised_at: datetime,
) -> bytes:
    """The whole feed as bytes (UTF-8, CRLF line endings, folded lines), ready to serve as text/calendar.

    `summary_for` and `description_for` let the caller render localised text; without them the summary is
    "Week N · topic" and the description is the change reason and the location URL. `sequence_for` gives
    each event's SEQUENCE (default 0): it must never go down for a slot and must go up with every change
    of its time or status, so clients apply every change, a restore after a cancellation included.
    `revised_at` (aware) is when the feed's content last changed: every event's DTSTAMP.
    """
    if revised_at.tzinfo is None or revised_at.utcoffset() is None:
        raise ValueError("revised_at must be timezone-aware")
    zone = ZoneInfo(timezone)
    stamp = revised_at.astimezone(UTC).replace(microsecond=0)

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
        event.add("uid", uid_for(calendar_id, session))
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
        sequence = sequence_for(session) if sequence_for else 0
        if sequence < 0:
            raise ValueError("SEQUENCE must not be negative")
        event.add("sequence", sequence)
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
