"""Optional page sections fed from outside the snapshot: attendance grid, study-log board, progress picture,
curriculum stages and the study guide.

The page renders each block only when its data is present. A provider is a plain function
`(snapshot, lang) -> PageExtras`; the web server calls it from its own thread for every page it renders, so it
must only read in-memory state (never the database, never the event loop) and return quickly. `version` is any
hashable value that changes whenever the extras do: the page cache keys on it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from bot.core.model import StudySnapshot

ATTENDANCE_STATUSES = ("present", "late", "excused", "absent")


@dataclass(frozen=True, slots=True)
class AttendanceRow:
    member_id: int
    name: str
    # one per column of the grid: present | late | excused | absent | cancelled | "" (no record yet)
    cells: tuple[str, ...]
    rate: str = ""  # e.g. "88%"


@dataclass(frozen=True, slots=True)
class AttendanceGrid:
    weeks: tuple[int | None, ...]  # one per column: the week, or None for a cancelled session
    rows: tuple[AttendanceRow, ...]
    week_rates: tuple[str, ...] = ()  # one per column, e.g. "90%" ("" for a cancelled session)


@dataclass(frozen=True, slots=True)
class LogEntry:
    member_id: int
    name: str
    url: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class LogWeek:
    week: int
    entries: tuple[LogEntry, ...]


@dataclass(frozen=True, slots=True)
class Stage:
    """A named run of weeks in the curriculum, e.g. "기초: 모두를 위한 딥러닝" for weeks 2–5."""

    label: str
    first_week: int
    last_week: int


@dataclass(frozen=True, slots=True)
class GuideSection:
    heading: str
    body: str  # plain text; blank lines separate paragraphs


@dataclass(frozen=True, slots=True)
class PageExtras:
    attendance: AttendanceGrid | None = None
    logs: tuple[LogWeek, ...] | None = None
    progress_png: bytes | None = None  # a ready picture (one page)
    # ...or how many pages the picture has and a function giving them as data (`bot.render.progress.
    # ProgressData`), called only when a picture is to be drawn (by the server, in a worker process);
    # `progress_key` changes exactly when the pictures would.
    progress_pages: int = 0
    progress: Callable[[], Sequence[Any]] | None = None
    progress_key: Hashable = None
    stages: tuple[Stage, ...] = ()
    guide: tuple[GuideSection, ...] = ()
    version: Hashable = 0

    @property
    def progress_count(self) -> int:
        return self.progress_pages if self.progress is not None else (1 if self.progress_png is not None else 0)


NO_EXTRAS = PageExtras()

ExtrasProvider = Callable[[StudySnapshot, str], PageExtras]


def no_extras(snap: StudySnapshot, lang: str) -> PageExtras:
    return NO_EXTRAS
