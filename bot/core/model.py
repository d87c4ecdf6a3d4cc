"""Plain domain objects shared by the pure core, the renderers and the services.

They carry no database or Discord state, so the core can be tested with nothing but values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any


class MaterialKind(StrEnum):
    """What a learning material is; decides its icon and how `/materials` groups it."""

    TUTORIAL = "tutorial"
    VIDEO = "video"
    COURSE = "course"
    REPO = "repo"
    SLIDES = "slides"
    BOOK = "book"
    ARTICLE = "article"
    NOTEBOOK = "notebook"
    LINK = "link"


class MemberRole(StrEnum):
    LEADER = "leader"
    MEMBER = "member"


@dataclass(frozen=True, slots=True)
class Recurrence:
    """The regular weekly slot of a study: which weekday, when, how long, in which timezone."""

    weekday: int  # 0 = Monday … 6 = Sunday
    start_time: time
    duration: timedelta
    timezone: str
    first_date: date


@dataclass(frozen=True, slots=True)
class SessionChange:
    """An exception to the regular slot on `original_date`: cancelled, or moved to `moved_to` (aware)."""

    original_date: date
    cancelled: bool
    moved_to: datetime | None = None
    reason: str = ""
    revision: int = 1  # raised with every change of this session (the calendar's SEQUENCE)
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Material:
    title: str
    url: str
    kind: MaterialKind = MaterialKind.LINK
    title_en: str = ""
    position: int = 0
    id: int = 0

    def title_for(self, locale: str) -> str:
        return self.title_en if locale.startswith("en") and self.title_en else self.title


@dataclass(frozen=True, slots=True)
class Week:
    number: int
    title: str
    title_en: str = ""
    notes: str = ""
    materials: tuple[Material, ...] = ()

    def title_for(self, locale: str) -> str:
        return self.title_en if locale.startswith("en") and self.title_en else self.title


@dataclass(frozen=True, slots=True)
class Member:
    name: str
    role: MemberRole = MemberRole.MEMBER
    discord_user_id: int | None = None
    github: str = ""
    blog: str = ""
    id: int = 0
    nudge_opt_in: bool = False  # the weekly nudge may ping this member (when linked)


@dataclass(frozen=True, slots=True)
class PracticeSettings:
    """How a study runs its sessions: the check-in window and grace, the nudge, which posts go out."""

    checkin_opens: timedelta = timedelta(minutes=10)  # the window opens this long before the start
    checkin_grace: timedelta = timedelta(minutes=10)  # a check-in up to this long after the start is present
    nudge_offset: timedelta = timedelta(days=1)  # the nudge goes out this long before the start; 0 = off
    recap_enabled: bool = True
    checkin_post_enabled: bool = True


@dataclass(frozen=True, slots=True)
class Guide:
    """The study guide (the [guide] section of the study definition), per language as stored:
    `{"ko": {...}, "en": {...}}`. The sections' shape belongs to the guide's definition format."""

    by_locale: Mapping[str, Any] = field(default_factory=dict)

    def for_locale(self, locale: str) -> Mapping[str, Any]:
        language = "en" if locale.startswith("en") else "ko"
        found = self.by_locale.get(language) or self.by_locale.get("ko") or {}
        return found if isinstance(found, Mapping) else {}


@dataclass(frozen=True, slots=True)
class Place:
    name: str
    url: str = ""


@dataclass(frozen=True, slots=True)
class StudySnapshot:
    """Everything the read-only commands need about one study, loaded once and refreshed after writes."""

    id: int
    guild_id: int
    name: str
    locale: str
    recurrence: Recurrence
    place: Place
    reminder_channel_id: int | None
    ping_role_id: int | None
    admin_role_id: int | None
    reminder_offsets: tuple[timedelta, ...]
    paused: bool
    members: tuple[Member, ...] = ()
    weeks: tuple[Week, ...] = ()
    resources: tuple[Material, ...] = ()
    changes: tuple[SessionChange, ...] = ()
    created_at: datetime | None = None
    updated_at: datetime | None = None
    revision: int = 0  # raised with every committed edit of the study
    public_id: str = ""  # random and stable: names the study outside this database (calendar UIDs)
    practice: PracticeSettings = PracticeSettings()
    guide: Guide | None = None

    @property
    def week_count(self) -> int:
        return len(self.weeks)

    def week(self, number: int) -> Week | None:
        for week in self.weeks:
            if week.number == number:
                return week
        return None

    def materials_of(self, week: int | None) -> tuple[Material, ...] | None:
        """A week's materials (None or 0: the study-wide resources); None when there is no such week."""
        if not week:
            return self.resources
        found = self.week(week)
        return None if found is None else found.materials
