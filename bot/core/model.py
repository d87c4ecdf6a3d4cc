"""Plain domain objects shared by the pure core, the renderers and the services.

They carry no database or Discord state, so the core can be tested with nothing but values.
"""

from __future__ import annotations

import json
import pickle
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, Generic, TypeVar, overload

T = TypeVar("T")


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


# --- compact storage ------------------------------------------------------------------------------------------
# A process holds a snapshot of every study it owns — 10,000 and more — but a command reads one at a time.
# The bulky, rarely read parts (each week's materials, the study-wide resources, the guide) are therefore kept
# as compressed bytes and rebuilt when read; the most recently read ones stay rebuilt in a small cache shared
# by every study (and by the web page's thread, hence the lock). Their values are immutable, so a rebuilt
# tuple can be handed to any number of readers.
UNPACKED_CACHE_SIZE = 512
_unpacked: OrderedDict[tuple[str, bytes], Any] = OrderedDict()
_unpacked_lock = threading.Lock()


class Packed(Generic[T]):
    """A dataclass field stored compressed in the instance and rebuilt on access (`empty` when unset).

    `encode(value) -> plain` turns the value into built-in types only (tuples, strings, numbers), which are
    pickled and compressed; `decode(plain) -> value` builds it back.
    """

    def __init__(
        self, empty: T, encode: Callable[[T], Any], decode: Callable[[Any], T], *, required: bool = False
    ) -> None:
        self.empty = empty
        self.encode = encode
        self.decode = decode
        self.required = required  # no default: the dataclass's __init__ requires the field
        self.slot = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = f"_packed_{name}"

    @overload
    def __get__(self, obj: None, objtype: type | None = None) -> T: ...
    @overload
    def __get__(self, obj: object, objtype: type | None = None) -> T: ...
    def __get__(self, obj: object | None, objtype: type | None = None) -> T:
        if obj is None:  # the dataclass asks for the field's default
            if self.required:
                raise AttributeError(self.slot)
            return self.empty
        blob: bytes | None = obj.__dict__.get(self.slot)
        if blob is None:
            return self.empty
        key = (self.slot, blob)
        with _unpacked_lock:
            found = _unpacked.get(key)
            if found is not None:
                _unpacked.move_to_end(key)
                return found  # type: ignore[no-any-return]
        value = self.decode(pickle.loads(zlib.decompress(blob)))
        with _unpacked_lock:
            _unpacked[key] = value
            while len(_unpacked) > UNPACKED_CACHE_SIZE:
                _unpacked.popitem(last=False)
        return value

    def __set__(self, obj: object, value: T | Plain) -> None:
        # Called once, by the frozen dataclass's __init__ (replace() builds a new instance).
        if isinstance(value, Plain):  # already in the encoded form (bulk loads skip building the objects)
            plain: Any = value.plain
            count = len(value.plain)
        else:
            plain = self.encode(value) if value else None
            count = len(value) if isinstance(value, tuple) else 0
        # Level 1: a third of level 6's time for ~15% more bytes; start-up packs every study once.
        obj.__dict__[self.slot] = zlib.compress(pickle.dumps(plain, protocol=5), 1) if plain else None
        obj.__dict__[self.slot + "_count"] = count


class Plain:
    """A packed field's value given in its encoded form (see the `_*_encode` functions), e.g. straight from
    database rows: `StudySnapshot(weeks=Plain(((1, "title", "", "", ()),)))` (typed as Any for the dataclass)."""

    __slots__ = ("plain",)

    def __init__(self, plain: tuple[Any, ...]) -> None:
        self.plain = plain


def clear_unpacked_cache() -> None:
    with _unpacked_lock:
        _unpacked.clear()


def _guide_encode(value: Mapping[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _guide_decode(text: str) -> Mapping[str, Any]:
    data = json.loads(text)
    return data if isinstance(data, dict) else {}


_GUIDE_FIELD = Packed[Mapping[str, Any]]({}, _guide_encode, _guide_decode, required=True)


@dataclass(frozen=True)
class Guide:
    """The study guide (the [guide] section of the study definition), per language as stored:
    `{"ko": {...}, "en": {...}}`. The sections' shape belongs to the guide's definition format.
    Kept compressed (see `Packed`): only `/guide`, the progress picture and the web page read it."""

    by_locale: Packed[Mapping[str, Any]] = _GUIDE_FIELD

    def for_locale(self, locale: str) -> Mapping[str, Any]:
        language = "en" if locale.startswith("en") else "ko"
        found = self.by_locale.get(language) or self.by_locale.get("ko") or {}
        return found if isinstance(found, Mapping) else {}


@dataclass(frozen=True, slots=True)
class Place:
    name: str
    url: str = ""


def _materials_encode(materials: tuple[Material, ...]) -> tuple[tuple[Any, ...], ...]:
    return tuple((m.title, m.url, m.kind.value, m.title_en, m.position, m.id) for m in materials)


def _materials_decode(plain: tuple[tuple[Any, ...], ...]) -> tuple[Material, ...]:
    return tuple(
        Material(title, url, MaterialKind(kind), title_en, position, id_)
        for title, url, kind, title_en, position, id_ in plain
    )


def _weeks_encode(weeks: tuple[Week, ...]) -> tuple[tuple[Any, ...], ...]:
    return tuple((w.number, w.title, w.title_en, w.notes, _materials_encode(w.materials)) for w in weeks)


def _weeks_decode(plain: tuple[tuple[Any, ...], ...]) -> tuple[Week, ...]:
    return tuple(
        Week(number, title, title_en, notes, _materials_decode(materials))
        for number, title, title_en, notes, materials in plain
    )


def _members_encode(members: tuple[Member, ...]) -> tuple[tuple[Any, ...], ...]:
    return tuple((m.name, m.role.value, m.discord_user_id, m.github, m.blog, m.id, m.nudge_opt_in) for m in members)


def _members_decode(plain: tuple[tuple[Any, ...], ...]) -> tuple[Member, ...]:
    return tuple(
        Member(name, MemberRole(role), user_id, github, blog, id_, nudge)
        for name, role, user_id, github, blog, id_, nudge in plain
    )


_NO_WEEKS: tuple[Week, ...] = ()
_NO_MATERIALS: tuple[Material, ...] = ()
_NO_MEMBERS: tuple[Member, ...] = ()


@dataclass(frozen=True)
class StudySnapshot:
    """Everything the read-only commands need about one study, loaded once and refreshed after writes.

    The roster, the curriculum and the resources are kept compressed and rebuilt when read (`Packed`): a
    process holds every study it owns, a command reads one. `week_count` is kept plain (reminder planning
    reads it for every study).
    """

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
    members: Packed[tuple[Member, ...]] = Packed(_NO_MEMBERS, _members_encode, _members_decode)
    weeks: Packed[tuple[Week, ...]] = Packed(_NO_WEEKS, _weeks_encode, _weeks_decode)
    resources: Packed[tuple[Material, ...]] = Packed(_NO_MATERIALS, _materials_encode, _materials_decode)
    changes: tuple[SessionChange, ...] = ()
    created_at: datetime | None = None
    updated_at: datetime | None = None
    revision: int = 0  # raised with every committed edit of the study
    public_id: str = ""  # random and stable: names the study outside this database (calendar UIDs)
    practice: PracticeSettings = PracticeSettings()
    guide: Guide | None = None

    @property
    def week_count(self) -> int:
        # Read for every reminder plan: counted when packed, without unpacking.
        return self.__dict__.get("_packed_weeks_count", 0)  # type: ignore[no-any-return]

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
