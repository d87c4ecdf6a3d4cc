"""Reading the feed with an independent iCalendar parser (vobject), not the library that wrote it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import vobject


@dataclass(frozen=True)
class ParsedEvent:
    uid: str
    summary: str
    start: datetime
    status: str
    sequence: int


def parse_feed(body: bytes) -> list[ParsedEvent]:
    calendar = vobject.readOne(body.decode("utf-8"))
    events = []
    for event in calendar.vevent_list:
        events.append(
            ParsedEvent(
                uid=event.uid.value,
                summary=event.summary.value,
                start=event.dtstart.value,
                status=event.status.value,
                sequence=int(event.sequence.value),
            )
        )
    return events
