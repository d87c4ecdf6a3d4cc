"""Planning the guild's native scheduled events: which ones should exist, and what to change to get there.

discord.py 2.7 cannot set an event's recurrence rule, so the bot keeps one EXTERNAL event per upcoming
session, a few weeks ahead. Syncing is a diff: the desired events are computed here from the schedule, the
existing ones come from the database as ``original date → (event id, fingerprint of what was last sent)``,
and only the difference is sent to Discord — editing an event notifies interested members, and every call
counts against the rate limit, so unchanged events are left alone.

Creating an event and recording it are two steps, and the process can die between them. So every event
the bot writes carries a marker line naming the study (its public id) and the session (its original date),
and before creating anything the sync lists the guild's events and `reconcile`s: the bot's own events for a
session are adopted (one) or deleted (the rest) instead of being created again.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from itertools import accumulate

from bot.core.schedule import Session

NAME_LIMIT = 100
DESCRIPTION_LIMIT = 1000
LOCATION_LIMIT = 100
ELLIPSIS = "…"


@dataclass(frozen=True, slots=True)
class EventSpec:
    """What one scheduled event should look like; start/end are aware UTC datetimes."""

    original_date: date
    name: str
    description: str
    location: str
    start: datetime
    end: datetime


@dataclass(slots=True)
class EventActions:
    """The calls that turn the existing events into the desired ones."""

    create: list[EventSpec] = field(default_factory=list)
    update: list[tuple[int, EventSpec]] = field(default_factory=list)
    delete: list[int] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.create or self.update or self.delete)


def truncate(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, ending with "…" when something was cut."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    if len(text) <= limit:
        return text
    return text[: limit - len(ELLIPSIS)].rstrip() + ELLIPSIS


def fit_lines(lines: Sequence[str], *, limit: int, more: Callable[[int], str]) -> str:
    """`lines` joined by newlines within `limit` characters, dropping whole lines from the end.

    A line is never cut (a material line ends in its link, and half a link is a broken link): the lines
    that do not fit are dropped and replaced by `more(number dropped)`, itself cut only as a last resort
    when not even that fits."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    text = "\n".join(lines)
    if len(text) <= limit:
        return text
    # ends[i]: the length of lines[: i + 1] joined, plus the newline that follows them.
    ends = list(accumulate(len(line) + 1 for line in lines))
    for keep in range(len(lines) - 1, -1, -1):
        tail = more(len(lines) - keep)
        if (ends[keep - 1] if keep else 0) + len(tail) <= limit:
            return "\n".join([*lines[:keep], tail])
    return truncate(more(len(lines)), limit)


MARKER_PREFIX = "studybot ref "
_MARKER = re.compile(r"^studybot ref ([0-9A-Za-z_-]{1,64})/(\d{4}-\d{2}-\d{2})$", re.MULTILINE)


def event_marker(calendar_id: str, original_date: date) -> str:
    """The line that makes an event recognisable as this study's event for this session, after a crash too."""
    if not calendar_id or _MARKER.fullmatch(f"{MARKER_PREFIX}{calendar_id}/{original_date.isoformat()}") is None:
        raise ValueError("calendar_id must be 1-64 letters, digits, '-' or '_'")
    return f"{MARKER_PREFIX}{calendar_id}/{original_date.isoformat()}"


def read_marker(description: str | None) -> tuple[str, date] | None:
    """(calendar id, original date) from the last marker line of an event description, if there is one."""
    matches = list(_MARKER.finditer(description or ""))
    if not matches:
        return None
    try:
        return matches[-1].group(1), date.fromisoformat(matches[-1].group(2))
    except ValueError:
        return None


def plan_events(
    schedule: Sequence[Session],
    *,
    now: datetime,
    count: int = 4,
    name_for: Callable[[Session], str],
    description_for: Callable[[Session], Sequence[str]],
    more_for: Callable[[Session, int], str] = lambda session, count: f"… +{count}",
    marker_for: Callable[[Session], str] | None = None,
    location: str,
) -> list[EventSpec]:
    """Events for the next `count` sessions that are not cancelled and have not started, in start order.

    Texts fit Discord's limits (name 100, description 1000, location 100 characters) rather than being
    rejected: a long curriculum title should not stop the event from existing. The description is a list
    of lines of which whole lines are dropped, with `more_for(session, dropped)` saying how many; the
    marker line (`marker_for`) always stays, last. An EXTERNAL event needs a location, so an empty one is a
    configuration error.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if count < 0:
        raise ValueError("count must not be negative")
    place = truncate(location.strip(), LOCATION_LIMIT)
    if not place:
        raise ValueError("an external event needs a location (1-100 characters)")
    upcoming = sorted((s for s in schedule if not s.cancelled and s.start > now), key=lambda s: s.start)
    return [
        EventSpec(
            original_date=session.original_date,
            name=truncate(name_for(session).strip(), NAME_LIMIT) or "…",
            description=_description(session, description_for, more_for, marker_for),
            location=place,
            start=session.start.astimezone(UTC),
            end=session.end.astimezone(UTC),
        )
        for session in upcoming[:count]
    ]


def _description(
    session: Session,
    description_for: Callable[[Session], Sequence[str]],
    more_for: Callable[[Session, int], str],
    marker_for: Callable[[Session], str] | None,
) -> str:
    lines = description_for(session)
    if isinstance(lines, str):
        lines = lines.split("\n")
    marker = marker_for(session) if marker_for else ""
    if len(marker) >= DESCRIPTION_LIMIT:
        raise ValueError("the marker line does not fit in a description")
    budget = DESCRIPTION_LIMIT - (len(marker) + 1 if marker else 0)
    body = fit_lines(lines, limit=budget, more=lambda dropped: more_for(session, dropped)) if lines else ""
    return "\n".join(part for part in (body, marker) if part)


def fingerprint(spec: EventSpec) -> str:
    """A stable hash of everything sent to Discord for an event, stored to tell whether it must be updated."""
    payload = json.dumps(
        [
            spec.original_date.isoformat(),
            spec.name,
            spec.description,
            spec.location,
            spec.start.astimezone(UTC).isoformat(),
            spec.end.astimezone(UTC).isoformat(),
        ],
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def ongoing_dates(schedule: Sequence[Session], *, now: datetime) -> set[date]:
    """Original dates of the sessions in progress at `now` (started, not ended, not cancelled)."""
    return {s.original_date for s in schedule if not s.cancelled and s.start <= now < s.end}


def diff_events(
    desired: Sequence[EventSpec],
    existing: Mapping[date, tuple[int, str]],
    *,
    keep: Collection[date] = (),
) -> EventActions:
    """Create the missing events, update the changed ones, delete the ones no longer desired.

    "No longer desired" covers cancelled sessions, past ones and ones beyond the window. Existing events
    whose date is in `keep` are left untouched: pass `ongoing_dates(...)` so the event of a session in
    progress (no longer "upcoming", and Discord refuses to move an active event's start) is not deleted
    under the members who are attending it; Discord ends it by itself.
    """
    seen: set[date] = set()
    actions = EventActions()
    for spec in desired:
        if spec.original_date in seen:
            raise ValueError(f"two desired events for {spec.original_date}")
        seen.add(spec.original_date)
        if spec.original_date in keep and spec.original_date in existing:
            continue
        current = existing.get(spec.original_date)
        if current is None:
            actions.create.append(spec)
        elif current[1] != fingerprint(spec):
            actions.update.append((current[0], spec))
    actions.delete = sorted(event_id for day, (event_id, _) in existing.items() if day not in seen and day not in keep)
    return actions


@dataclass(frozen=True, slots=True)
class FoundEvent:
    """An event listed on Discord that carries this study's marker: which session it is for, what it says."""

    event_id: int
    original_date: date
    fingerprint: str


@dataclass(slots=True)
class Reconciliation:
    """What a guild's event list says about the recorded links: the links to use from now on, the links
    to record (adopted events), the recorded event ids that no longer exist, the duplicates to delete."""

    links: dict[date, tuple[int, str]] = field(default_factory=dict)
    adopt: list[tuple[date, int, str]] = field(default_factory=list)
    forget: list[int] = field(default_factory=list)
    delete: list[int] = field(default_factory=list)


def reconcile(
    linked: Mapping[date, tuple[int, str]],
    found: Sequence[FoundEvent],
    *,
    listed_ids: Collection[int],
    desired: Mapping[date, str],
) -> Reconciliation:
    """Bring the recorded links in line with what exists on Discord, before creating anything.

    * A recorded event that is not in the guild's list any more (deleted by hand, ended, or deleted just
      before a crash) is forgotten, so its session gets a new event if it still needs one.
    * Each session keeps at most one of the bot's events: the recorded one if it still exists, otherwise
      one that was created but never recorded (a crash between the two steps) is adopted — preferably one
      that already says what is desired (`desired`: original date → fingerprint), else the oldest. Every
      other marked event for that session is a duplicate and is deleted.
    * Adopted events for sessions no longer wanted are left to `diff_events`, which deletes them (or keeps
      them while their session is in progress).
    """
    result = Reconciliation()
    for day, (event_id, printed) in linked.items():
        if event_id in listed_ids:
            result.links[day] = (event_id, printed)
        else:
            result.forget.append(event_id)
    by_day: dict[date, list[FoundEvent]] = {}
    for event in found:
        by_day.setdefault(event.original_date, []).append(event)
    for day, events in sorted(by_day.items()):
        kept = result.links.get(day)
        if kept is None:
            want = desired.get(day)
            choice = min(events, key=lambda e: (e.fingerprint != want, e.event_id))
            kept = (choice.event_id, choice.fingerprint)
            result.links[day] = kept
            result.adopt.append((day, choice.event_id, choice.fingerprint))
        result.delete += sorted(e.event_id for e in events if e.event_id != kept[0])
    return result
