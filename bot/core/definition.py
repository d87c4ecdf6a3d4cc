"""Study definition files: a whole study (schedule, roster, curriculum) as one reviewable TOML file.

A leader keeps the study in a file under version control and imports it with
``studybot import FILE --guild ID``; ``studybot export`` writes one back. This module is the pure
half of that: it turns TOML text into frozen values and back, and refuses anything it cannot
store faithfully. It never touches Discord, the database or the clock, so every rule is tested
with plain strings.

Schema (every key is listed; a key not listed here is an error, so typos never pass silently)::

    [study]
    name = "죽되밥되 파이토치 스터디"     # 1-100 characters
    description = "…"                 # optional, up to 1000 characters, may span lines
    timezone = "Asia/Seoul"           # IANA zone name, exact spelling
    locale = "ko"                     # ko | en
    weekday = "thursday"              # monday…sunday, mon…sun, 월요일…일요일 or 월…일
    start_time = "09:00"              # "HH:MM", 24-hour, local to `timezone`
    duration_minutes = 60             # 1..1440
    first_session = 2026-12-03        # a TOML date (unquoted) that falls on `weekday`
    location_name = "Gather Town"     # 1-100 characters
    location_url = "https://…"        # optional; http(s)
    reminder_offsets = ["1d", "1h"]   # before the session: "1d", "2h", "45m", "1h30m" or an
                                      # integer number of minutes; 1 minute..14 days, no duplicates,
                                      # at most 5; [] = no reminders

    [[member]]                        # any number (up to 200), in roster order
    name = "차수연"                    # unique, ignoring case
    role = "leader"                   # leader | member (default member); a study may have several leaders
    discord_user_id = 0               # optional; 0 or absent = not linked yet; unique
    github = ""                       # optional; empty or an http(s) URL
    blog = ""                         # optional; empty or an http(s) URL
    joined = 2026-12-03               # optional TOML date

    [[resource]]                      # study-wide materials, up to 50
    title = "…"                       # 1-200 characters of plain text
    title_en = "…"                    # optional, up to 200 characters
    url = "https://…"                 # http(s) with a real host; stored normalized
    kind = "repo"                     # tutorial | video | course | repo | slides | book | article |
                                      # notebook | link (default link)

    [[week]]                          # numbered 1, 2, … N (N ≤ 104) in file order, no gaps
    number = 1
    title = "…"                       # in the study's language
    title_en = "…"                    # optional
    notes = "…"                       # optional, up to 1000 characters, may span lines
      [[week.material]]               # same keys as [[resource]]; up to 50 per week
      title = "…"
      url = "https://…"
      kind = "tutorial"

    [guide.ko]                        # optional: the study guide (/guide), one table per language;
                                      # schema in bot/core/guide.py

Errors name the offending key as a dotted path. Positions in arrays of tables count from 1, the way
a reader counts ``[[week]]`` headers in the file, so ``week[3].material[2].url`` is the URL of the
second ``[[week.material]]`` under the third ``[[week]]``.

Every value that a command can also set is checked by the same rule as the command
(`bot.core.validation`, the rulebook), with the same limits and the same message: names and titles are
plain text (no mentions, no Markdown, no links), URLs are normalized http(s) links, and so on.

Decisions worth knowing:

* ``weekday`` takes names only, never numbers: 0 means Monday to Python and Sunday to cron.
* ``first_session`` must fall on ``weekday``. The scheduler would otherwise silently start on the next
  matching day, and a leader who moves the first session to a Friday would never notice.
* Text is stripped of surrounding whitespace; single-line fields refuse control characters (a newline
  in a name breaks every embed it appears in). URLs are stored in their normalized form.
* ``dump_definition`` writes every key it needs and omits empty optional ones, so
  ``parse_definition(dump_definition(d)) == d`` for every ``d`` that ``parse_definition`` can return.
"""

from __future__ import annotations

import difflib
import functools
import tomllib
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, TypeVar

import tomli_w

from bot.core import validation as rules
from bot.core.guide import (
    GUIDE_LANGUAGES,
    MAX_FRAMEWORK_NOTES,
    MAX_FRAMEWORKS,
    MAX_GUIDE_TEXT,
    MAX_STAGE_ABOUT,
    MAX_STAGE_TITLE,
    MAX_STAGES,
    GuideDefinition,
    GuideFramework,
    GuideSection,
    GuideStage,
)
from bot.core.model import MaterialKind, MemberRole, Recurrence
from bot.errors import UserError
from bot.i18n.catalogue import t

__all__ = [
    "DefinitionError",
    "MaterialDefinition",
    "MemberDefinition",
    "StudyDefinition",
    "WeekDefinition",
    "dump_definition",
    "format_offset",
    "load_definition",
    "parse_definition",
    "parse_offset",
]

# The limits are the rulebook's, so the file and the commands agree.
MAX_NAME = rules.NAME_MAX
MAX_TITLE = rules.TITLE_MAX
MAX_TEXT = rules.TEXT_MAX
MAX_SNOWFLAKE = rules.SNOWFLAKE_MAX
MAX_MEMBERS = rules.MEMBERS_MAX
MAX_WEEKS = rules.WEEKS_MAX
MAX_MATERIALS = rules.MATERIALS_MAX
LOCALES = rules.LOCALES

WEEKDAY_NAMES = rules.WEEKDAYS
_KO_WEEKDAYS = ("월", "화", "수", "목", "금", "토", "일")
_WEEKDAY_ALIASES: dict[str, int] = {
    alias: index
    for index, (english, korean) in enumerate(zip(WEEKDAY_NAMES, _KO_WEEKDAYS, strict=True))
    for alias in (english, english[:3], korean, korean + "요일")
}


_TOP_KEYS = ("study", "member", "resource", "week", "guide")
_STUDY_KEYS = (
    "name",
    "description",
    "timezone",
    "locale",
    "weekday",
    "start_time",
    "duration_minutes",
    "first_session",
    "location_name",
    "location_url",
    "reminder_offsets",
)
_STUDY_OPTIONAL = ("description", "location_url")
_MEMBER_KEYS = ("name", "role", "discord_user_id", "github", "blog", "joined")
_MATERIAL_KEYS = ("title", "title_en", "url", "kind")
_WEEK_KEYS = ("number", "title", "title_en", "notes", "material")


class DefinitionError(ValueError):
    """A study definition that cannot be used, with where (`source`, `key`) and why (`message`).

    `key` is a dotted path such as ``week[3].material[2].url``; it is empty only for TOML syntax
    errors, whose message carries the line and column instead.
    """

    def __init__(self, source: str, key: str, message: str) -> None:
        self.source = source
        self.key = key
        self.message = message
        super().__init__(f"{source}: {key}: {message}" if key else f"{source}: {message}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.source, self.key, self.message))


@dataclass(frozen=True, slots=True)
class MaterialDefinition:
    """A link to study from: a study-wide resource or one of a week's materials."""

    title: str
    title_en: str
    url: str
    kind: MaterialKind = MaterialKind.LINK


@dataclass(frozen=True, slots=True)
class MemberDefinition:
    """A roster entry; the Discord account is linked later when the person runs a command."""

    name: str
    role: MemberRole = MemberRole.MEMBER
    discord_user_id: int | None = None
    github: str = ""
    blog: str = ""
    joined: date | None = None


@dataclass(frozen=True, slots=True)
class WeekDefinition:
    """Curriculum week `number`: the number-th session that is not cancelled."""

    number: int
    title: str
    title_en: str = ""
    notes: str = ""
    materials: tuple[MaterialDefinition, ...] = ()


@dataclass(frozen=True, slots=True)
class StudyDefinition:
    """A whole study as written in its definition file (see the module docstring for the schema)."""

    name: str
    description: str
    timezone: str
    locale: str
    weekday: int  # 0 = Monday … 6 = Sunday
    start_time: time
    duration_minutes: int
    first_session: date
    location_name: str
    location_url: str
    reminder_offsets_minutes: tuple[int, ...]
    members: tuple[MemberDefinition, ...] = ()
    resources: tuple[MaterialDefinition, ...] = ()
    weeks: tuple[WeekDefinition, ...] = ()
    guide: GuideDefinition | None = None

    @property
    def recurrence(self) -> Recurrence:
        """The weekly slot in the form the schedule math takes."""
        return Recurrence(
            weekday=self.weekday,
            start_time=self.start_time,
            duration=timedelta(minutes=self.duration_minutes),
            timezone=self.timezone,
            first_date=self.first_session,
        )


# --------------------------------------------------------------------------------------------------
# Reminder offsets


def parse_offset(value: object) -> int:
    """Minutes before a session for ``"1d"``, ``"2h"``, ``"45m"``, ``"1h30m"`` or an integer of minutes.

    Raises ValueError (with the rulebook's English message) for anything else or for values outside
    1 minute..14 days.
    """
    try:
        return int(rules.parse_offset(value, field="reminder_offsets").total_seconds() // 60)
    except UserError as exc:
        raise ValueError(_english(exc, "reminder_offsets")) from None


def format_offset(minutes: int) -> str:
    """The shortest ``XdYhZm`` spelling of `minutes` (1440 -> "1d", 90 -> "1h30m"), as parse_offset reads."""
    if minutes < 1:
        raise ValueError(f"a reminder offset must be at least 1 minute, got {minutes}")
    return rules.format_offset(timedelta(minutes=minutes))


def _english(error: UserError, key: str) -> str:
    """The rulebook's message in English, without the leading key (the error names it already)."""
    return t("en", error.key, **error.params).removeprefix(f"`{key}` ")


# --------------------------------------------------------------------------------------------------
# Parsing


_T = TypeVar("_T")


class _Reader:
    """Walks the decoded TOML, turning each bad value into a DefinitionError that names its key."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, message: str) -> DefinitionError:
        return DefinitionError(self.source, key, message)

    def rule(self, key: str, check: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        """Apply a rulebook check with `key` as its field; its refusal becomes a DefinitionError."""
        try:
            return check(*args, field=key, **kwargs)
        except UserError as exc:
            raise self.fail(key, _english(exc, key)) from None

    def table(self, raw: object, key: str, allowed: tuple[str, ...], how: str) -> Mapping[str, object]:
        if not isinstance(raw, dict):
            raise self.fail(key, f"must be a table ({how}), got {_describe(raw)}")
        for name in raw:
            if name not in allowed:
                hint = difflib.get_close_matches(name, allowed, n=1)
                did_you_mean = f" (did you mean {hint[0]!r}?)" if hint else ""
                raise self.fail(
                    _join(key, name),
                    f"unknown key {name!r}{did_you_mean}; allowed keys here: {', '.join(allowed)}",
                )
        return raw

    def tables(self, raw: object, key: str, header: str) -> list[object]:
        if raw is None:
            return []
        if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
            raise self.fail(key, f"must be an array of tables, written as repeated {header} sections")
        return raw

    def required(self, table: Mapping[str, object], key: str, name: str) -> object:
        if name not in table:
            raise self.fail(_join(key, name), "is required")
        return table[name]

    def text(
        self,
        raw: object,
        key: str,
        *,
        limit: int,
        required: bool,
        multiline: bool = False,
    ) -> str:
        if not isinstance(raw, str):
            raise self.fail(key, f"must be a string, got {_describe(raw)}")
        return self.rule(key, rules.clean_text, raw, limit=limit, required=required, multiline=multiline)

    def url(self, raw: object, key: str, *, required: bool) -> str:
        if not isinstance(raw, str):
            raise self.fail(key, f"must be a string, got {_describe(raw)}")
        return self.rule(key, rules.clean_url, raw, required=required)

    def integer(self, raw: object, key: str, low: int, high: int, what: str) -> int:
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise self.fail(key, f"must be a whole number ({what}), got {_describe(raw)}")
        if not low <= raw <= high:
            raise self.fail(key, f"is {raw}; allowed: {low}..{high} ({what})")
        return raw

    def date(self, raw: object, key: str) -> date:
        # datetime is a subclass of date: check it first so "2026-12-03T09:00" is refused, not truncated.
        if isinstance(raw, datetime) or not isinstance(raw, date):
            hint = " without quotes" if isinstance(raw, str) else ""
            raise self.fail(key, f"must be a TOML date like 2026-12-03{hint}, got {_describe(raw)}")
        return raw

    def choice(self, raw: object, key: str, parse: Callable[[str], _T], allowed: str) -> _T:
        if isinstance(raw, str):
            try:
                return parse(raw.strip().lower())
            except (KeyError, ValueError):
                pass
        raise self.fail(key, f"{raw!r} is not allowed; use one of: {allowed}")


def _join(key: str, name: str) -> str:
    return f"{key}.{name}" if key else name


def _describe(value: object) -> str:
    kinds: dict[type, str] = {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "a table",
        datetime: "a date-time",
        date: "a date",
        time: "a time",
    }
    return f"{kinds.get(type(value), type(value).__name__)} ({value!r})"


@functools.cache
def _known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _parse_timezone(reader: _Reader, raw: object, key: str) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise reader.fail(key, f'must be an IANA zone name such as "Asia/Seoul", got {_describe(raw)}')
    value = raw.strip()
    zones = _known_zones()
    if value not in zones:
        same_but_case = [zone for zone in zones if zone.lower() == value.lower()]
        hint = (
            f"did you mean {same_but_case[0]!r}?"
            if same_but_case
            else 'use an IANA zone name such as "Asia/Seoul" or "Europe/Berlin"'
        )
        raise reader.fail(key, f"{value!r} is not a known time zone; {hint}")
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise reader.fail(key, f"{value!r} is listed but cannot be loaded on this system") from None
    return value


def _parse_weekday(reader: _Reader, raw: object, key: str) -> int:
    return reader.choice(
        raw,
        key,
        _WEEKDAY_ALIASES.__getitem__,
        "monday … sunday, mon … sun, 월요일 … 일요일 or 월 … 일 (names, not numbers)",
    )


def _parse_start_time(reader: _Reader, raw: object, key: str) -> time:
    if isinstance(raw, time):
        return reader.rule(key, rules.check_time, raw)
    if isinstance(raw, str):
        return reader.rule(key, rules.parse_time, raw)
    raise reader.fail(key, f'{raw!r} is not a time; write "HH:MM" in 24-hour form, like "09:00" or "19:30"')


def _parse_offsets(reader: _Reader, raw: object, key: str) -> tuple[int, ...]:
    if not isinstance(raw, list):
        raise reader.fail(key, f'must be an array like ["1d", "1h"], got {_describe(raw)}')
    offsets: list[timedelta] = []
    for position, item in enumerate(raw, start=1):
        item_key = f"{key}[{position}]"
        offset = reader.rule(item_key, rules.parse_offset, item)
        reader.rule(item_key if offset in offsets else key, rules.check_offsets, [*offsets, offset])
        offsets.append(offset)
    return tuple(int(offset.total_seconds() // 60) for offset in offsets)


def _check_list(reader: _Reader, items: list[object], key: str, limit: int) -> list[object]:
    if len(items) > limit:
        raise reader.fail(key, f"has {len(items)} entries; at most {limit} are allowed")
    return items


def _parse_material(reader: _Reader, raw: object, key: str) -> MaterialDefinition:
    table = reader.table(raw, key, _MATERIAL_KEYS, "a [[resource]] or [[week.material]] section")
    kind_raw = table.get("kind", MaterialKind.LINK.value)
    return MaterialDefinition(
        title=reader.text(reader.required(table, key, "title"), _join(key, "title"), limit=MAX_TITLE, required=True),
        title_en=reader.text(table.get("title_en", ""), _join(key, "title_en"), limit=MAX_TITLE, required=False),
        url=reader.url(reader.required(table, key, "url"), _join(key, "url"), required=True),
        kind=reader.choice(kind_raw, _join(key, "kind"), MaterialKind, ", ".join(kind.value for kind in MaterialKind)),
    )


def _parse_member(reader: _Reader, raw: object, key: str) -> MemberDefinition:
    table = reader.table(raw, key, _MEMBER_KEYS, "a [[member]] section")
    user_id = reader.integer(
        table.get("discord_user_id", 0),
        _join(key, "discord_user_id"),
        0,
        MAX_SNOWFLAKE,
        "a Discord user id, or 0 when not linked yet",
    )
    joined = table.get("joined")
    return MemberDefinition(
        name=reader.text(reader.required(table, key, "name"), _join(key, "name"), limit=MAX_NAME, required=True),
        role=MemberRole(
            reader.rule(
                _join(key, "role"),
                rules.check_role,
                _string(reader, table.get("role", MemberRole.MEMBER.value), _join(key, "role")),
            )
        ),
        discord_user_id=user_id or None,
        github=reader.url(table.get("github", ""), _join(key, "github"), required=False),
        blog=reader.url(table.get("blog", ""), _join(key, "blog"), required=False),
        joined=None if joined is None else reader.date(joined, _join(key, "joined")),
    )


def _check_roster(reader: _Reader, members: list[MemberDefinition]) -> None:
    """Names unique (ignoring case) and one member per Discord account; any number of leaders."""
    names: dict[str, int] = {}
    user_ids: dict[int, int] = {}
    for position, member in enumerate(members, start=1):
        key = f"member[{position}]"
        folded = rules.name_key(member.name)
        if folded in names:
            raise reader.fail(
                f"{key}.name",
                f"{member.name!r} is already the name of member[{names[folded]}]; names must be unique "
                "(ignoring upper and lower case)",
            )
        names[folded] = position
        if member.discord_user_id is not None:
            if member.discord_user_id in user_ids:
                raise reader.fail(
                    f"{key}.discord_user_id",
                    f"{member.discord_user_id} is already linked to "
                    f"member[{user_ids[member.discord_user_id]}]; one Discord account can be one member only",
                )
            user_ids[member.discord_user_id] = position


def _parse_week(reader: _Reader, raw: object, key: str, expected: int) -> WeekDefinition:
    table = reader.table(raw, key, _WEEK_KEYS, "a [[week]] section")
    number = reader.integer(reader.required(table, key, "number"), _join(key, "number"), 1, 10**6, "the week number")
    if number != expected:
        raise reader.fail(
            _join(key, "number"),
            f"is {number} but this is [[week]] number {expected} in the file; "
            "weeks must be numbered 1, 2, … N in file order, without gaps or duplicates",
        )
    materials_key = _join(key, "material")
    raw_materials = reader.tables(table.get("material"), materials_key, "[[week.material]]")
    materials = tuple(
        _parse_material(reader, item, f"{materials_key}[{position}]")
        for position, item in enumerate(_check_list(reader, raw_materials, materials_key, MAX_MATERIALS), 1)
    )
    return WeekDefinition(
        number=number,
        title=reader.text(reader.required(table, key, "title"), _join(key, "title"), limit=MAX_TITLE, required=True),
        title_en=reader.text(table.get("title_en", ""), _join(key, "title_en"), limit=MAX_TITLE, required=False),
        notes=reader.text(table.get("notes", ""), _join(key, "notes"), limit=MAX_TEXT, required=False, multiline=True),
        materials=materials,
    )


def parse_definition(text: str, *, source: str = "<string>") -> StudyDefinition:
    """Parse and validate a study definition; raise DefinitionError naming the first bad key."""
    reader = _Reader(source)
    try:
        document = tomllib.loads(text.removeprefix("\ufeff"))
    except tomllib.TOMLDecodeError as exc:
        raise reader.fail("", f"not valid TOML: {exc}") from None
    reader.table(document, "", _TOP_KEYS, "the whole file")
    if "study" not in document:
        raise reader.fail("study", "the [study] table is required")

    study = reader.table(document["study"], "study", _STUDY_KEYS, "the [study] section")
    for name in _STUDY_KEYS:
        if name not in _STUDY_OPTIONAL:
            reader.required(study, "study", name)

    # Fields are checked in schema order so the first error reported is the first one in the file.
    name = reader.text(study["name"], "study.name", limit=MAX_NAME, required=True)
    description = reader.text(
        study.get("description", ""), "study.description", limit=MAX_TEXT, required=False, multiline=True
    )
    timezone = _parse_timezone(reader, study["timezone"], "study.timezone")
    locale = reader.rule("study.locale", rules.check_locale, _string(reader, study["locale"], "study.locale"))
    weekday = _parse_weekday(reader, study["weekday"], "study.weekday")
    start_time = _parse_start_time(reader, study["start_time"], "study.start_time")
    duration = reader.integer(
        study["duration_minutes"], "study.duration_minutes", -(2**63), 2**63, "minutes from 1 to 1440"
    )
    reader.rule("study.duration_minutes", rules.check_duration, duration)
    first_session = reader.date(study["first_session"], "study.first_session")
    reader.rule("study.first_session", rules.check_first_session, first_session, weekday)
    location_name = reader.text(study["location_name"], "study.location_name", limit=MAX_NAME, required=True)
    location_url = reader.url(study.get("location_url", ""), "study.location_url", required=False)
    offsets = _parse_offsets(reader, study["reminder_offsets"], "study.reminder_offsets")

    raw_members = _check_list(
        reader, reader.tables(document.get("member"), "member", "[[member]]"), "member", MAX_MEMBERS
    )
    members = [_parse_member(reader, item, f"member[{position}]") for position, item in enumerate(raw_members, 1)]
    _check_roster(reader, members)
    raw_resources = _check_list(
        reader, reader.tables(document.get("resource"), "resource", "[[resource]]"), "resource", MAX_MATERIALS
    )
    resources = tuple(
        _parse_material(reader, item, f"resource[{position}]") for position, item in enumerate(raw_resources, 1)
    )
    raw_weeks = _check_list(reader, reader.tables(document.get("week"), "week", "[[week]]"), "week", MAX_WEEKS)
    weeks = tuple(
        _parse_week(reader, item, f"week[{position}]", position) for position, item in enumerate(raw_weeks, 1)
    )

    guide = _parse_guide(reader, document.get("guide"), len(weeks))

    return StudyDefinition(
        name=name,
        description=description,
        timezone=timezone,
        locale=locale,
        weekday=weekday,
        start_time=start_time,
        duration_minutes=duration,
        first_session=first_session,
        location_name=location_name,
        location_url=location_url,
        reminder_offsets_minutes=offsets,
        members=tuple(members),
        resources=resources,
        weeks=weeks,
        guide=guide,
    )


def _string(reader: _Reader, raw: object, key: str) -> str:
    if not isinstance(raw, str):
        raise reader.fail(key, f"must be a string, got {_describe(raw)}")
    return raw


def load_definition(path: Path) -> StudyDefinition:
    """Read and parse a definition file (UTF-8). OSError (missing file, no permission) propagates as is."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DefinitionError(str(path), "", f"not UTF-8 text (byte {exc.start}); save the file as UTF-8") from None
    return parse_definition(text, source=str(path))


# --------------------------------------------------------------------------------------------------
# Writing


def _material_fields(material: MaterialDefinition) -> dict[str, object]:
    fields: dict[str, object] = {"title": material.title}
    if material.title_en:
        fields["title_en"] = material.title_en
    fields["url"] = material.url
    fields["kind"] = material.kind.value
    return fields


def _section(header: str, fields: Mapping[str, object], indent: str = "") -> str:
    body = tomli_w.dumps(dict(fields), multiline_strings=True)
    if indent:
        # Only material sections are indented, and they hold single-line strings only, so indenting
        # every line cannot change a value.
        body = "".join(indent + line if line.strip() else line for line in body.splitlines(keepends=True))
    return f"{indent}{header}\n{body}"


def dump_definition(defn: StudyDefinition) -> str:
    """TOML text for `defn` in the same human-friendly form a leader writes by hand.

    Empty optional keys are left out; weekday, time and reminder offsets are written as names,
    "HH:MM" and "1h30m" rather than numbers.
    """
    study: dict[str, object] = {"name": defn.name}
    if defn.description:
        study["description"] = defn.description
    study.update(
        timezone=defn.timezone,
        locale=defn.locale,
        weekday=WEEKDAY_NAMES[defn.weekday],
        start_time=defn.start_time.strftime("%H:%M"),
        duration_minutes=defn.duration_minutes,
        first_session=defn.first_session,
        location_name=defn.location_name,
    )
    if defn.location_url:
        study["location_url"] = defn.location_url
    # tomli_w spreads every array over several lines; offsets read better on one, and their spelling
    # (digits and d/h/m only) needs no escaping.
    offsets = ", ".join(f'"{format_offset(minutes)}"' for minutes in defn.reminder_offsets_minutes)
    study_section = _section("[study]", study) + f"reminder_offsets = [{offsets}]\n"

    sections = ["# studybot study definition (schema: bot/core/definition.py)\n", study_section]
    for member in defn.members:
        fields: dict[str, object] = {"name": member.name, "role": member.role.value}
        if member.discord_user_id is not None:
            fields["discord_user_id"] = member.discord_user_id
        if member.github:
            fields["github"] = member.github
        if member.blog:
            fields["blog"] = member.blog
        if member.joined is not None:
            fields["joined"] = member.joined
        sections.append(_section("[[member]]", fields))
    sections.extend(_section("[[resource]]", _material_fields(resource)) for resource in defn.resources)
    for week in defn.weeks:
        fields = {"number": week.number, "title": week.title}
        if week.title_en:
            fields["title_en"] = week.title_en
        if week.notes:
            fields["notes"] = week.notes
        sections.append(_section("[[week]]", fields))
        sections.extend(
            _section("[[week.material]]", _material_fields(material), indent="  ") for material in week.materials
        )
    if defn.guide is not None:
        sections.extend(_dump_guide(defn.guide))
    return "\n".join(sections)


# --------------------------------------------------------------------------------------------------
# The [guide] section (schema in bot/core/guide.py)

_GUIDE_SECTION_KEYS = ("purpose", "practice", "stage", "framework")
_GUIDE_STAGE_KEYS = ("first_week", "last_week", "title", "about")
_GUIDE_FRAMEWORK_KEYS = ("name", "notes")


def _parse_guide(reader: _Reader, raw: object, week_count: int) -> GuideDefinition | None:
    if raw is None:
        return None
    table = reader.table(raw, "guide", GUIDE_LANGUAGES, "[guide.ko] and/or [guide.en] sections")
    if not table:
        raise reader.fail("guide", "needs a [guide.ko] or [guide.en] section (or leave [guide] out)")
    sections = tuple(
        (language, _parse_guide_section(reader, table[language], f"guide.{language}", week_count))
        for language in GUIDE_LANGUAGES
        if language in table
    )
    if len(sections) == 2:
        spans = [[(s.first_week, s.last_week) for s in section.stages] for _, section in sections]
        if spans[0] != spans[1]:
            raise reader.fail(
                "guide.en.stage",
                f"covers weeks {spans[1]} but guide.ko.stage covers {spans[0]}; "
                "both languages must name the same stages",
            )
    return GuideDefinition(sections)


def _parse_guide_section(reader: _Reader, raw: object, key: str, week_count: int) -> GuideSection:
    table = reader.table(raw, key, _GUIDE_SECTION_KEYS, f"a [{key}] section")
    stage_key, framework_key = _join(key, "stage"), _join(key, "framework")
    stages_raw = reader.tables(table.get("stage"), stage_key, f"[[{stage_key}]]")
    if len(stages_raw) > MAX_STAGES:
        raise reader.fail(stage_key, f"has {len(stages_raw)} stages; at most {MAX_STAGES} are allowed")
    stages: list[GuideStage] = []
    for position, item in enumerate(stages_raw, start=1):
        here = f"{stage_key}[{position}]"
        stage = reader.table(item, here, _GUIDE_STAGE_KEYS, f"a [[{stage_key}]] section")
        last_allowed = max(week_count, 1)
        first = reader.integer(
            reader.required(stage, here, "first_week"), _join(here, "first_week"), 1, last_allowed, "a week number"
        )
        last = reader.integer(
            reader.required(stage, here, "last_week"),
            _join(here, "last_week"),
            first,
            last_allowed,
            "a week number, not before first_week",
        )
        if stages and first <= stages[-1].last_week:
            raise reader.fail(
                _join(here, "first_week"),
                f"is {first} but the stage before ends at week {stages[-1].last_week}; "
                "stages are listed in week order and do not overlap",
            )
        stages.append(
            GuideStage(
                first_week=first,
                last_week=last,
                title=reader.text(
                    reader.required(stage, here, "title"), _join(here, "title"), limit=MAX_STAGE_TITLE, required=True
                ),
                about=reader.text(stage.get("about", ""), _join(here, "about"), limit=MAX_STAGE_ABOUT, required=False),
            )
        )
    frameworks_raw = reader.tables(table.get("framework"), framework_key, f"[[{framework_key}]]")
    if len(frameworks_raw) > MAX_FRAMEWORKS:
        raise reader.fail(framework_key, f"has {len(frameworks_raw)} entries; at most {MAX_FRAMEWORKS} are allowed")
    frameworks = []
    for position, item in enumerate(frameworks_raw, start=1):
        here = f"{framework_key}[{position}]"
        entry = reader.table(item, here, _GUIDE_FRAMEWORK_KEYS, f"a [[{framework_key}]] section")
        frameworks.append(
            GuideFramework(
                name=reader.text(
                    reader.required(entry, here, "name"), _join(here, "name"), limit=MAX_NAME, required=True
                ),
                notes=reader.text(
                    reader.required(entry, here, "notes"),
                    _join(here, "notes"),
                    limit=MAX_FRAMEWORK_NOTES,
                    required=True,
                    multiline=True,
                ),
            )
        )
    return GuideSection(
        purpose=reader.text(
            reader.required(table, key, "purpose"),
            _join(key, "purpose"),
            limit=MAX_GUIDE_TEXT,
            required=True,
            multiline=True,
        ),
        practice=reader.text(
            reader.required(table, key, "practice"),
            _join(key, "practice"),
            limit=MAX_GUIDE_TEXT,
            required=True,
            multiline=True,
        ),
        stages=tuple(stages),
        frameworks=tuple(frameworks),
    )


def _dump_guide(guide: GuideDefinition) -> list[str]:
    out: list[str] = []
    for language, section in guide.sections:
        out.append(_section(f"[guide.{language}]", {"purpose": section.purpose, "practice": section.practice}))
        for stage in section.stages:
            fields: dict[str, object] = {
                "first_week": stage.first_week,
                "last_week": stage.last_week,
                "title": stage.title,
            }
            if stage.about:
                fields["about"] = stage.about
            out.append(_section(f"[[guide.{language}.stage]]", fields, indent="  "))
        for framework in section.frameworks:
            body = {"name": framework.name, "notes": framework.notes}
            out.append(_section(f"[[guide.{language}.framework]]", body))
    return out
