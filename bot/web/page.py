"""The page's content as plain values: snapshot + page state + extras + `now` → what the template shows.

Pure (no clock, no I/O), so what a reader sees is tested without a server. The template only lays it out.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.core.model import Material, MemberRole, StudySnapshot
from bot.core.schedule import Session, build_schedule, current_index, upcoming_or_ongoing
from bot.i18n import t
from bot.web.extras import LogWeek, PageExtras, Stage
from bot.web.state import PageState


@dataclass(frozen=True, slots=True)
class Moment:
    """A session's time, in the study's zone and (when chosen) the reader's."""

    iso: str  # UTC, for <time datetime> and the local-time script
    end_iso: str
    study: str  # e.g. "2026-12-03 (목) 09:00–10:00"
    study_zone: str  # e.g. "Asia/Seoul"
    reader: str = ""  # the same in the reader's chosen zone, when one was chosen
    reader_zone: str = ""


@dataclass(frozen=True, slots=True)
class MaterialItem:
    title: str
    url: str
    kind: str  # localized kind label


@dataclass(frozen=True, slots=True)
class ScheduleItem:
    week: int | None
    topic: str
    when: Moment
    status: str  # done | current | upcoming | cancelled
    moved: bool
    original: str  # the usual date, shown for moved and cancelled sessions
    reason: str


@dataclass(frozen=True, slots=True)
class WeekItem:
    number: int
    title: str
    notes: str
    materials: tuple[MaterialItem, ...]
    date: str


@dataclass(frozen=True, slots=True)
class StageItem:
    label: str
    weeks: tuple[WeekItem, ...]


@dataclass(frozen=True, slots=True)
class MemberItem:
    name: str
    leader: bool
    github: str
    blog: str
    hidden: bool


@dataclass(frozen=True, slots=True)
class NextItem:
    week: int
    topic: str
    when: Moment
    notes: str
    materials: tuple[MaterialItem, ...]
    moved: bool
    ongoing: bool


@dataclass(frozen=True, slots=True)
class PageView:
    lang: str
    name: str
    place_name: str
    place_url: str
    cancelled_now: ScheduleItem | None  # this week's slot, when it is cancelled
    next: NextItem | None
    finished: bool
    schedule: tuple[ScheduleItem, ...]
    stages: tuple[StageItem, ...]
    resources: tuple[tuple[str, tuple[MaterialItem, ...]], ...]  # (kind label, materials)
    members: tuple[MemberItem, ...]
    extras: PageExtras
    logs: tuple[LogWeek, ...] | None
    hidden_ids: frozenset[int]
    updated: str
    reader_zone: str
    zones: tuple[str, ...] = field(default=())


# The zones offered when JavaScript is off (with it on, the reader's own zone is used automatically).
READER_ZONES = (
    "Asia/Seoul",
    "Asia/Tokyo",
    "Asia/Shanghai",
    "Asia/Singapore",
    "Asia/Kolkata",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "Australia/Sydney",
    "UTC",
)


_BOUNDARIES: dict[tuple[object, ...], list[datetime]] = {}


def moment_bucket(snap: StudySnapshot, now: datetime) -> int:
    """Which stretch of time between two of the study's boundaries (a check-in opening, a session starting or
    ending) `now` is in. Nothing the page shows changes within a stretch, so a rendered page is kept until the
    next boundary rather than re-rendered every minute."""
    key = (snap.id, snap.revision, snap.updated_at, snap.practice.checkin_opens)
    found = _BOUNDARIES.get(key)
    if found is None:
        moments: set[datetime] = set()
        for session in build_schedule(snap.recurrence, snap.changes, snap.week_count):
            moments.update((session.start - snap.practice.checkin_opens, session.start, session.end))
        found = sorted(moments)
        if len(_BOUNDARIES) >= 4096:
            _BOUNDARIES.clear()
        _BOUNDARIES[key] = found
    return bisect_right(found, now)


def _day(dt: datetime, lang: str) -> str:
    weekday = t(lang, "web.weekdays").split(",")[dt.weekday()]
    return t(lang, "web.date", date=dt.strftime("%Y-%m-%d"), weekday=weekday)


def moment(start: datetime, end: datetime, zone: str, lang: str, reader_zone: str = "") -> Moment:
    def text(zone_name: str) -> str:
        tz = ZoneInfo(zone_name)
        a, b = start.astimezone(tz), end.astimezone(tz)
        return f"{_day(a, lang)} {a:%H:%M}–{b:%H:%M}"

    shown_reader = reader_zone if reader_zone and reader_zone != zone else ""
    return Moment(
        iso=start.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ"),
        end_iso=end.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ"),
        study=text(zone),
        study_zone=zone,
        reader=text(shown_reader) if shown_reader else "",
        reader_zone=shown_reader,
    )


def _materials(materials: Sequence[Material], lang: str) -> tuple[MaterialItem, ...]:
    return tuple(MaterialItem(m.title_for(lang), m.url, t(lang, f"kind.{m.kind.value}")) for m in materials)


def _stages(snap: StudySnapshot, stages: Sequence[Stage], schedule: Sequence[Session], lang: str) -> list[StageItem]:
    dates = {s.week: _day(s.start.astimezone(ZoneInfo(snap.recurrence.timezone)), lang) for s in schedule if s.week}
    items = {
        w.number: WeekItem(w.number, w.title_for(lang), w.notes, _materials(w.materials, lang), dates.get(w.number, ""))
        for w in snap.weeks
    }
    grouped: list[StageItem] = []
    placed: set[int] = set()
    for stage in stages:
        weeks = tuple(items[n] for n in range(stage.first_week, stage.last_week + 1) if n in items and n not in placed)
        placed.update(w.number for w in weeks)
        if weeks:
            grouped.append(StageItem(stage.label, weeks))
    rest = tuple(item for number, item in sorted(items.items()) if number not in placed)
    if rest:
        grouped.append(StageItem(t(lang, "web.curriculum_other") if grouped else "", rest))
    return grouped


def build_view(
    snap: StudySnapshot,
    state: PageState,
    extras: PageExtras,
    *,
    now: datetime,
    lang: str,
    reader_zone: str = "",
) -> PageView:
    zone = snap.recurrence.timezone
    schedule = build_schedule(snap.recurrence, snap.changes, snap.week_count)
    index = current_index(schedule, now)

    def topic(session: Session) -> str:
        week = snap.week(session.week) if session.week else None
        return week.title_for(lang) if week else ""

    def schedule_item(position: int, session: Session) -> ScheduleItem:
        if session.cancelled:
            status = "cancelled"
        elif session.end <= now:
            status = "done"
        elif position == index:
            status = "current"
        else:
            status = "upcoming"
        usual = datetime.combine(session.original_date, snap.recurrence.start_time, tzinfo=ZoneInfo(zone))
        return ScheduleItem(
            week=session.week,
            topic=topic(session),
            when=moment(session.start, session.end, zone, lang, reader_zone),
            status=status,
            moved=session.moved,
            original=_day(usual, lang),
            reason=session.reason,
        )

    items = tuple(schedule_item(i, s) for i, s in enumerate(schedule))
    cancelled_now = items[index] if index is not None and schedule[index].cancelled else None
    upcoming = None if index is None else upcoming_or_ongoing(schedule, now, after=index)
    next_item = None
    if upcoming is not None and upcoming.week is not None:
        week = snap.week(upcoming.week)
        next_item = NextItem(
            week=upcoming.week,
            topic=topic(upcoming),
            when=moment(upcoming.start, upcoming.end, zone, lang, reader_zone),
            notes=week.notes if week else "",
            materials=_materials(week.materials if week else (), lang),
            moved=upcoming.moved,
            ongoing=upcoming.start <= now,
        )

    kinds: dict[str, list[Material]] = {}
    for material in snap.resources:
        kinds.setdefault(material.kind.value, []).append(material)
    resources = tuple((t(lang, f"kind.{kind}"), _materials(found, lang)) for kind, found in kinds.items())

    hidden = state.hidden_member_ids
    leaders = [m for m in snap.members if m.role is MemberRole.LEADER]
    others = [m for m in snap.members if m.role is not MemberRole.LEADER]
    members = tuple(
        MemberItem(
            name=m.name,
            leader=m.role is MemberRole.LEADER,
            github="" if m.id in hidden else m.github,
            blog="" if m.id in hidden else m.blog,
            hidden=m.id in hidden,
        )
        for m in leaders + others
    )
    logs = extras.logs
    if logs is not None and hidden:
        # A member who hid their links shows as having posted, without the link.
        logs = tuple(
            LogWeek(
                week.week,
                tuple(
                    type(e)(e.member_id, e.name, "" if e.member_id in hidden else e.url, e.note) for e in week.entries
                ),
            )
            for week in logs
        )
    updated = snap.updated_at.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M") if snap.updated_at else ""
    return PageView(
        lang=lang,
        name=snap.name,
        place_name=snap.place.name,
        place_url=snap.place.url,
        cancelled_now=cancelled_now,
        next=next_item,
        finished=index is None,
        schedule=items,
        stages=tuple(_stages(snap, extras.stages, schedule, lang)),
        resources=resources,
        members=members,
        extras=extras,
        logs=logs,
        hidden_ids=hidden,
        updated=updated,
        reader_zone=reader_zone,
        zones=READER_ZONES,
    )
