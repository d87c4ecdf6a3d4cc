"""Planning the guild's native scheduled events: which ones should exist, and what to change to get there.

discord.py 2.7 cannot set an event's recurrence rule, so the bot keeps one EXTERNAL event per upcoming
session, a few weeks ahead. Syncing is a diff: the desired events are computed here from the schedule, the
existing ones come from the database as ``original date → (event id, fingerprint of what was last sent)``,
and only the difference is sent to Discord — editing an event notifies interested members, and every call
counts against the rate limit, so unchanged events are left alone.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

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


def plan_events(
    schedule: Sequence[Session],
    *,
    now: datetime,
    count: int = 4,
    name_for: Callable[[Session], str],
    description_for: Callable[[Session], str],
    location: str,
) -> list[EventSpec]:
    """Events for the next `count` sessions that are not cancelled and have not started, in start order.

    Texts are cut to Discord's limits (name 100, description 1000, location 100 characters) rather than
    rejected: a long curriculum title should not stop the event from existing. An EXTERNAL event needs a
    location, so an empty one is a configuration error.
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
            description=truncate(description_for(session), DESCRIPTION_LIMIT),
            location=place,
            start=session.start.astimezone(UTC),
            end=session.end.astimezone(UTC),
        )
        for session in upcoming[:count]
    ]


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
