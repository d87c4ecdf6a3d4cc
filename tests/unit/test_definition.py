"""Study definition files: the shipped study loads as the study page describes, files round-trip, and
every rule rejects bad input naming the key a leader has to fix."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.definition import (
    DefinitionError,
    MaterialDefinition,
    MemberDefinition,
    StudyDefinition,
    WeekDefinition,
    dump_definition,
    format_offset,
    load_definition,
    parse_definition,
    parse_offset,
)
from bot.core.model import MaterialKind, MemberRole
from bot.core.validation import clean_text, clean_url
from bot.errors import UserError

SHIPPED = Path(__file__).resolve().parents[2] / "studies" / "pytorch-study.toml"


# --------------------------------------------------------------------------------------------------
# The shipped study


@pytest.fixture(scope="module")
def shipped() -> StudyDefinition:
    return load_definition(SHIPPED)


def test_shipped_study_has_the_ten_members_of_the_study_page_in_order(shipped: StudyDefinition) -> None:
    names = [member.name for member in shipped.members]
    assert names == [
        "강동연",
        "김동영",
        "김정은",
        "노지민",
        "박설현",
        "박성돈",
        "박장호",
        "이재준",
        "장혜선",
        "차수연",
    ]


def test_shipped_study_has_exactly_one_leader_who_wrote_the_page(shipped: StudyDefinition) -> None:
    leaders = [member.name for member in shipped.members if member.role is MemberRole.LEADER]
    assert leaders == ["차수연"]


def test_shipped_members_are_not_linked_to_discord_yet(shipped: StudyDefinition) -> None:
    assert all(member.discord_user_id is None for member in shipped.members)


def test_shipped_study_meets_thursdays_at_nine_seoul_time_for_an_hour(shipped: StudyDefinition) -> None:
    assert shipped.name == "죽되밥되 파이토치 스터디"
    assert (shipped.weekday, shipped.start_time, shipped.timezone) == (3, time(9, 0), "Asia/Seoul")
    assert shipped.duration_minutes == 60
    assert shipped.locale == "ko"
    assert shipped.location_name == "Gather Town"
    assert shipped.first_session == date(2026, 12, 3)
    assert shipped.first_session.weekday() == 3
    assert shipped.reminder_offsets_minutes == (24 * 60, 60)


def test_shipped_study_has_nine_contiguous_weeks_each_with_materials(shipped: StudyDefinition) -> None:
    assert [week.number for week in shipped.weeks] == list(range(1, 10))
    assert all(week.materials for week in shipped.weeks)
    assert shipped.weeks[0].title == "파이토치(PyTorch) 기본 익히기"
    assert shipped.weeks[1].title_en == "PART 1: Machine Learning & PyTorch Basic"


def test_shipped_week_materials_use_the_agreed_kinds(shipped: StudyDefinition) -> None:
    kinds = [{material.kind for material in week.materials} for week in shipped.weeks]
    assert kinds[0] == {MaterialKind.TUTORIAL}
    assert all(week_kinds <= {MaterialKind.NOTEBOOK, MaterialKind.VIDEO} for week_kinds in kinds[1:5])
    assert all(week_kinds == {MaterialKind.BOOK} for week_kinds in kinds[5:9])


def test_shipped_resources_include_the_study_pages_links(shipped: StudyDefinition) -> None:
    urls = {resource.url for resource in shipped.resources}
    assert {
        "https://github.com/deeplearningzerotoall/PyTorch",
        "https://www.boostcourse.org/ai214",
        "http://bit.ly/2VrZcWM",
        "https://wikidocs.net/book/2788",
        "https://whoishoo.tistory.com/120",
        "https://www.itworld.co.kr/t/65210/bi%20%7C%20%EB%B6%84%EC%84%9D/129659",
    } <= urls
    wikidocs = next(r for r in shipped.resources if r.url == "https://wikidocs.net/book/2788")
    assert wikidocs.title == "PyTorch로 시작하는 딥 러닝 입문"
    assert all(resource.title_en for resource in shipped.resources)


def test_shipped_file_round_trips_through_dump(shipped: StudyDefinition) -> None:
    assert parse_definition(dump_definition(shipped)) == shipped


def test_shipped_file_explains_how_to_change_the_first_session() -> None:
    header = SHIPPED.read_text(encoding="utf-8").split("\n[study]\n")[0]
    assert "first_session" in header
    assert "studybot import studies/pytorch-study.toml --guild" in header
    assert "/admin settings" in header


def test_recurrence_carries_the_weekly_slot(shipped: StudyDefinition) -> None:
    recurrence = shipped.recurrence
    assert (recurrence.weekday, recurrence.start_time, recurrence.timezone) == (3, time(9, 0), "Asia/Seoul")
    assert recurrence.duration.total_seconds() == 3600
    assert recurrence.first_date == date(2026, 12, 3)


# --------------------------------------------------------------------------------------------------
# Accepted spellings and defaults


def _base() -> dict[str, Any]:
    """A small valid definition as TOML data; each rejection test breaks exactly one thing in it."""
    return {
        "study": {
            "name": "파이토치 스터디",
            "timezone": "Asia/Seoul",
            "locale": "ko",
            "weekday": "thursday",
            "start_time": "09:00",
            "duration_minutes": 60,
            "first_session": date(2026, 12, 3),
            "location_name": "Gather Town",
            "location_url": "https://app.gather.town/",
            "reminder_offsets": ["1d", "1h"],
        },
        "member": [{"name": "차수연", "role": "leader"}, {"name": "강동연"}],
        "resource": [{"title": "Repo", "url": "https://github.com/deeplearningzerotoall/PyTorch", "kind": "repo"}],
        "week": [
            {
                "number": 1,
                "title": "기초",
                "material": [{"title": "A", "url": "https://a.example/", "kind": "tutorial"}],
            },
            {
                "number": 2,
                "title": "심화",
                "material": [
                    {"title": "B", "url": "https://b.example/"},
                    {"title": "C", "url": "https://c.example/"},
                ],
            },
        ],
    }


Mutation = Callable[[dict[str, Any]], None]


def _walk(doc: dict[str, Any], path: str) -> tuple[Any, str | int]:
    """The container holding the last step of a dotted path ("week.1.material.0.url", 0-based)."""
    steps: list[str | int] = [int(step) if step.isdigit() else step for step in path.split(".")]
    target: Any = doc
    for step in steps[:-1]:
        target = target[step]
    return target, steps[-1]


def _set(path: str, value: object) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        target, last = _walk(doc, path)
        target[last] = value

    return mutate


def _drop(path: str) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        target, last = _walk(doc, path)
        del target[last]

    return mutate


def _parse(*mutations: Mutation) -> StudyDefinition:
    doc = copy.deepcopy(_base())
    for mutate in mutations:
        mutate(doc)
    return parse_definition(tomli_w.dumps(doc))


def test_the_base_definition_is_valid() -> None:
    defn = _parse()
    assert defn.members[0] == MemberDefinition("차수연", MemberRole.LEADER)
    assert defn.weeks[1].materials[0] == MaterialDefinition("B", "", "https://b.example/", MaterialKind.LINK)


@pytest.mark.parametrize("spelling", ["thursday", "Thursday", "THU", "thu", "목요일", "목", " thursday "])
def test_weekday_accepts_english_and_korean_names(spelling: str) -> None:
    assert _parse(_set("study.weekday", spelling)).weekday == 3


@pytest.mark.parametrize(
    ("value", "expected"), [("9:00", time(9, 0)), ("19:30", time(19, 30)), (time(7, 5), time(7, 5))]
)
def test_start_time_accepts_hh_mm_and_toml_times(value: object, expected: time) -> None:
    assert _parse(_set("study.start_time", value)).start_time == expected


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("1d", 1440),
        ("2h", 120),
        ("45m", 45),
        ("1h30m", 90),
        ("1d12h", 2160),
        ("1H", 60),
        (90, 90),
        ("14d", 20160),
    ],
)
def test_reminder_offsets_accept_day_hour_minute_spellings_and_plain_minutes(text: object, minutes: int) -> None:
    assert parse_offset(text) == minutes


@pytest.mark.parametrize(("minutes", "text"), [(1440, "1d"), (60, "1h"), (30, "30m"), (90, "1h30m"), (1501, "1d1h1m")])
def test_offsets_are_written_in_their_shortest_form(minutes: int, text: str) -> None:
    assert format_offset(minutes) == text


def test_optional_keys_have_safe_defaults() -> None:
    defn = _parse(_drop("study.location_url"), _drop("resource"), _drop("week"))
    assert defn.location_url == ""
    assert defn.description == ""
    assert defn.resources == ()
    assert defn.weeks == ()
    member = defn.members[1]
    assert member == MemberDefinition("강동연", MemberRole.MEMBER, None, "", "", None)


def test_a_study_may_have_several_leaders_as_the_commands_allow() -> None:
    defn = _parse(_set("member.1.role", "leader"))
    assert [member.role for member in defn.members] == [MemberRole.LEADER, MemberRole.LEADER]


def test_urls_are_stored_normalized_so_they_can_never_open_a_second_link() -> None:
    defn = _parse(_set("resource.0.url", "HTTPS://Docs.PyTorch.org/x)[Claim](https://phish.example/login"))
    assert defn.resources[0].url == "https://docs.pytorch.org/x%29%5BClaim%5D%28https://phish.example/login"


def test_a_single_tilde_or_bar_is_plain_text() -> None:
    defn = _parse(_set("week.0.notes", "보충: 02~05장 | 06장"), _set("week.0.title", "A | B"))
    assert defn.weeks[0].notes == "보충: 02~05장 | 06장"


def test_discord_user_id_zero_means_not_linked() -> None:
    defn = _parse(_set("member.0.discord_user_id", 0), _set("member.1.discord_user_id", 42))
    assert [member.discord_user_id for member in defn.members] == [None, 42]


def test_text_is_stripped_and_windows_line_endings_are_normalised() -> None:
    text = tomli_w.dumps(_base()).replace('name = "파이토치 스터디"', 'name = "  파이토치 스터디 "')
    text = text.replace("[study]\n", '[study]\ndescription = """\r\n첫 줄\r\n둘째 줄\r\n"""\n', 1)
    defn = parse_definition(text)
    assert defn.name == "파이토치 스터디"
    assert defn.description == "첫 줄\n둘째 줄"


def test_dump_uses_the_forms_a_leader_writes_by_hand() -> None:
    text = dump_definition(_parse(_set("study.reminder_offsets", ["1d", 90, "30m"])))
    assert 'weekday = "thursday"' in text
    assert 'start_time = "09:00"' in text
    assert "first_session = 2026-12-03" in text
    assert 'reminder_offsets = ["1d", "1h30m", "30m"]' in text
    assert "  [[week.material]]" in text


def test_reminder_offsets_keep_the_order_they_were_written_in() -> None:
    assert _parse(_set("study.reminder_offsets", ["1h", "1d"])).reminder_offsets_minutes == (60, 1440)


def test_an_empty_reminder_list_means_no_reminders() -> None:
    assert _parse(_set("study.reminder_offsets", [])).reminder_offsets_minutes == ()


# --------------------------------------------------------------------------------------------------
# Rejections: each names the key to fix


LONG_101 = "가" * 101
LONG_201 = "a" * 201

REJECTIONS: list[tuple[str, list[Mutation], str, str]] = [
    # required keys
    ("study table missing", [_drop("study")], "study", "required"),
    ("study name missing", [_drop("study.name")], "study.name", "required"),
    ("timezone missing", [_drop("study.timezone")], "study.timezone", "required"),
    ("first session missing", [_drop("study.first_session")], "study.first_session", "required"),
    ("reminders missing", [_drop("study.reminder_offsets")], "study.reminder_offsets", "required"),
    ("member name missing", [_drop("member.1.name")], "member[2].name", "required"),
    ("resource url missing", [_drop("resource.0.url")], "resource[1].url", "required"),
    ("week title missing", [_drop("week.1.title")], "week[2].title", "required"),
    ("week number missing", [_drop("week.0.number")], "week[1].number", "required"),
    ("material url missing", [_drop("week.1.material.1.url")], "week[2].material[2].url", "required"),
    # study settings
    ("unknown time zone", [_set("study.timezone", "Asia/Seol")], "study.timezone", "Asia/Seoul"),
    ("time zone in wrong case", [_set("study.timezone", "asia/seoul")], "study.timezone", "did you mean"),
    ("unsupported locale", [_set("study.locale", "ja")], "study.locale", "ko, en"),
    ("misspelt weekday", [_set("study.weekday", "thursdy")], "study.weekday", "monday"),
    ("numeric weekday", [_set("study.weekday", 3)], "study.weekday", "not numbers"),
    ("start time in am/pm", [_set("study.start_time", "9am")], "study.start_time", "HH:MM"),
    ("start time 24:00", [_set("study.start_time", "24:00")], "study.start_time", "HH:MM"),
    ("start time 09:60", [_set("study.start_time", "09:60")], "study.start_time", "HH:MM"),
    ("start time with seconds", [_set("study.start_time", time(9, 0, 30))], "study.start_time", "HH:MM"),
    ("zero duration", [_set("study.duration_minutes", 0)], "study.duration_minutes", "1 to 1440"),
    ("day-long-plus duration", [_set("study.duration_minutes", 1441)], "study.duration_minutes", "1 to 1440"),
    ("duration as string", [_set("study.duration_minutes", "60")], "study.duration_minutes", "whole"),
    ("duration as float", [_set("study.duration_minutes", 60.0)], "study.duration_minutes", "whole"),
    ("quoted first session", [_set("study.first_session", "2026-12-03")], "study.first_session", "quotes"),
    (
        "first session with a time",
        [_set("study.first_session", datetime(2026, 12, 3, 9, 0))],  # noqa: DTZ001 - TOML local date-time
        "study.first_session",
        "TOML date",
    ),
    (
        "first session on another weekday",
        [_set("study.first_session", date(2026, 12, 4))],
        "study.first_session",
        "is a Friday, but the study meets on Thursdays",
    ),
    ("empty location name", [_set("study.location_name", "")], "study.location_name", "empty"),
    (
        "location url without scheme",
        [_set("study.location_url", "gather.town")],
        "study.location_url",
        "http",
    ),
    ("description too long", [_set("study.description", "x" * 1001)], "study.description", "1000"),
    # reminder offsets
    ("offsets not an array", [_set("study.reminder_offsets", "1d")], "study.reminder_offsets", "array"),
    (
        "unknown offset unit",
        [_set("study.reminder_offsets", ["1d", "1x"])],
        "study.reminder_offsets[2]",
        "1h30m",
    ),
    ("units out of order", [_set("study.reminder_offsets", ["30m1h"])], "study.reminder_offsets[1]", "1h30m"),
    ("zero offset", [_set("study.reminder_offsets", ["0m"])], "study.reminder_offsets[1]", "14 days"),
    ("negative offset", [_set("study.reminder_offsets", [-5])], "study.reminder_offsets[1]", "14 days"),
    (
        "offset over two weeks",
        [_set("study.reminder_offsets", ["15d"])],
        "study.reminder_offsets[1]",
        "14 days",
    ),
    (
        "boolean offset",
        [_set("study.reminder_offsets", ["1d", True])],
        "study.reminder_offsets[2]",
        "1 minute and 14 days",
    ),
    (
        "duplicate offsets",
        [_set("study.reminder_offsets", ["1h", "60m"])],
        "study.reminder_offsets[2]",
        "no repeats",
    ),
    (
        "six reminders",
        [_set("study.reminder_offsets", ["1d", "2h", "1h", "30m", "10m", "5m"])],
        "study.reminder_offsets",
        "at most 5",
    ),
    # names, titles and URLs
    ("empty study name", [_set("study.name", "")], "study.name", "empty"),
    ("blank study name", [_set("study.name", "   ")], "study.name", "empty"),
    ("study name too long", [_set("study.name", LONG_101)], "study.name", "at most 100"),
    ("study name on two lines", [_set("study.name", "a\nb")], "study.name", "one line"),
    ("member name too long", [_set("member.1.name", LONG_101)], "member[2].name", "at most 100"),
    ("duplicate member names", [_set("member.1.name", "차수연")], "member[2].name", "unique"),
    (
        "names differing in case",
        [_set("member.1.name", "KIM"), _set("member.0.name", "kim")],
        "member[2].name",
        "ignoring upper and lower case",
    ),
    ("week title too long", [_set("week.0.title", LONG_201)], "week[1].title", "at most 200"),
    ("resource title too long", [_set("resource.0.title", LONG_201)], "resource[1].title", "at most 200"),
    ("english title too long", [_set("resource.0.title_en", LONG_201)], "resource[1].title_en", "200"),
    ("empty material title", [_set("week.0.material.0.title", "")], "week[1].material[1].title", "empty"),
    (
        "javascript url",
        [_set("resource.0.url", "javascript:alert(1)")],
        "resource[1].url",
        "http:// or https://",
    ),
    ("url without host", [_set("resource.0.url", "https://")], "resource[1].url", "host"),
    ("url with a space", [_set("resource.0.url", "https://a.example/x y")], "resource[1].url", "whitespace"),
    (
        "url with a bad port",
        [_set("resource.0.url", "https://a.example:99999/")],
        "resource[1].url",
        "port from 1 to 65535",
    ),
    (
        "ftp material url",
        [_set("week.1.material.0.url", "ftp://b.example/")],
        "week[2].material[1].url",
        "http",
    ),
    (
        "unknown material kind",
        [_set("week.1.material.0.kind", "podcast")],
        "week[2].material[1].kind",
        "notebook",
    ),
    # what the commands refuse, the file refuses too, with the same message
    ("everyone in a name", [_set("member.0.name", "@everyone")], "member[1].name", "must not contain @"),
    ("here in a title", [_set("week.0.title", "주제 @here")], "week[1].title", "must not contain @"),
    ("role mention in a name", [_set("member.0.name", "<@&123>")], "member[1].name", "not allowed (< >)"),
    ("bold in a title", [_set("resource.0.title", "**bold**")], "resource[1].title", "Markdown"),
    (
        "masked link in a title",
        [_set("week.1.material.0.title", "[x](https://phish.example)")],
        "week[2].material[1].title",
        "Markdown",
    ),
    ("masked link in notes", [_set("week.0.notes", "see [x](https://phish.example)")], "week[1].notes", "Markdown"),
    ("bare link in a place name", [_set("study.location_name", "https://phish.example")], "study.location_name", "://"),
    ("strike-through in a title", [_set("week.0.title_en", "~~old~~")], "week[1].title_en", "~~"),
    ("mention in the description", [_set("study.description", "hi @everyone")], "study.description", "@"),
    (
        "markdown link breakout in a url",
        [_set("resource.0.url", "https://docs.pytorch.org/x)[Claim Nitro](https://phish.example/login")],
        "resource[1].url",
        "U+0020",
    ),
    (
        "user name before the host",
        [_set("resource.0.url", "https://docs.pytorch.org@phish.example/")],
        "resource[1].url",
        "before the host",
    ),
    ("host without a dot", [_set("member.0.github", "https://localhost/x")], "member[1].github", "real host name"),
    # roster
    ("unknown role", [_set("member.0.role", "admin")], "member[1].role", "leader, member"),
    ("negative discord id", [_set("member.0.discord_user_id", -1)], "member[1].discord_user_id", "0.."),
    ("boolean discord id", [_set("member.0.discord_user_id", True)], "member[1].discord_user_id", "whole"),
    (
        "one discord account for two members",
        [_set("member.0.discord_user_id", 42), _set("member.1.discord_user_id", 42)],
        "member[2].discord_user_id",
        "one member only",
    ),
    ("github without scheme", [_set("member.0.github", "github.com/sy")], "member[1].github", "http"),
    ("blog over ftp", [_set("member.1.blog", "ftp://blog.example/")], "member[2].blog", "http"),
    ("joined as string", [_set("member.0.joined", "2026-12-03")], "member[1].joined", "TOML date"),
    # week numbering
    ("gap in weeks", [_set("week.1.number", 3)], "week[2].number", "without gaps"),
    ("duplicate week", [_set("week.1.number", 1)], "week[2].number", "duplicates"),
    ("weeks out of order", [_set("week.0.number", 2), _set("week.1.number", 1)], "week[1].number", "1, 2"),
    ("week zero", [_set("week.0.number", 0)], "week[1].number", "1.."),
    ("week number as string", [_set("week.0.number", "1")], "week[1].number", "whole"),
    # shapes
    ("member as a single table", [_set("member", {"name": "차수연"})], "member", "[[member]]"),
    ("study as an array", [_set("study", [{"name": "x"}])], "study", "table"),
    (
        "material as a single table",
        [_set("week.0.material", {"title": "A"})],
        "week[1].material",
        "[[week.material]]",
    ),
    # unknown keys
    ("misspelt study key", [_set("study.nmae", "x")], "study.nmae", "did you mean 'name'"),
    ("unknown top-level table", [_set("settings", {"a": 1})], "settings", "allowed keys here: study"),
    ("unknown member key", [_set("member.0.email", "a@b.c")], "member[1].email", "allowed keys here"),
    (
        "unknown resource key",
        [_set("resource.0.link", "x")],
        "resource[1].link",
        "title, title_en, url, kind",
    ),
    ("plural materials", [_set("week.0.materials", [])], "week[1].materials", "did you mean 'material'"),
    ("unknown material key", [_set("week.0.material.0.order", 1)], "week[1].material[1].order", "allowed"),
]


@pytest.mark.parametrize(
    ("mutations", "key", "fragment"),
    [pytest.param(mutations, key, fragment, id=name) for name, mutations, key, fragment in REJECTIONS],
)
def test_invalid_definitions_are_rejected_naming_the_key(mutations: list[Mutation], key: str, fragment: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        _parse(*mutations)
    assert caught.value.key == key
    assert fragment in caught.value.message
    assert caught.value.source == "<string>"


def test_error_text_is_source_key_message() -> None:
    error = DefinitionError("study.toml", "week[3].material[2].url", "is required")
    assert str(error) == "study.toml: week[3].material[2].url: is required"
    assert isinstance(error, ValueError)


def test_errors_survive_pickling() -> None:
    error = pickle.loads(pickle.dumps(DefinitionError("s.toml", "study.name", "is required")))
    assert (error.source, error.key, error.message) == ("s.toml", "study.name", "is required")


def test_toml_syntax_errors_are_reported_with_their_line() -> None:
    with pytest.raises(DefinitionError) as caught:
        parse_definition('[study]\nname = "unterminated\n', source="broken.toml")
    assert caught.value.key == ""
    assert "line 2" in caught.value.message
    assert str(caught.value).startswith("broken.toml: not valid TOML")


def test_load_names_the_file_in_errors(tmp_path: Path) -> None:
    path = tmp_path / "study.toml"
    path.write_text(tomli_w.dumps({**_base(), "extra": 1}), encoding="utf-8")
    with pytest.raises(DefinitionError) as caught:
        load_definition(path)
    assert caught.value.source == str(path)
    assert caught.value.key == "extra"


def test_load_rejects_files_that_are_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "study.toml"
    path.write_bytes(tomli_w.dumps(_base()).encode("cp949"))
    with pytest.raises(DefinitionError, match="UTF-8"):
        load_definition(path)


# --------------------------------------------------------------------------------------------------
# Round trip for any valid definition

# Text the rulebook accepts: no control or bidi characters, no Markdown, mentions or links.
_NOT_TEXT = "*`[]<>\\\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_ONE_LINE = st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp"), exclude_characters=_NOT_TEXT)
_MULTI_LINE = st.characters(
    exclude_categories=("Cc", "Cs", "Zl", "Zp"), exclude_characters=_NOT_TEXT, include_characters="\n\t"
)


def _valid_text(text: str, multiline: bool) -> bool:
    try:
        return clean_text(text, field="x", limit=10_000, required=False, multiline=multiline) == text
    except UserError:
        return False


def _text(limit: int, *, required: bool, multiline: bool = False) -> st.SearchStrategy[str]:
    alphabet = _MULTI_LINE if multiline else _ONE_LINE
    stripped = st.text(alphabet, max_size=limit).map(str.strip).filter(lambda s: _valid_text(s, multiline))
    return stripped.filter(bool) if required else stripped


# Links as people paste them, Markdown breakout characters included; the file stores the normalized form.
_URLS = st.builds(
    "{}://{}{}".format,
    st.sampled_from(["http", "https", "HTTPS"]),
    st.from_regex(r"[a-z]([a-z0-9-]{0,11}[a-z0-9])?(\.[a-z]{2,6}){1,2}", fullmatch=True),
    st.one_of(
        st.just(""),
        st.from_regex(r"/[A-Za-z0-9._~%/?=&#()\[\]<>\"'|{}^`@-]{0,30}", fullmatch=True),
        st.just("/강의/1"),
    ),
).map(clean_url)
_OPTIONAL_URLS = st.one_of(st.just(""), _URLS)
_MATERIALS = st.builds(
    MaterialDefinition,
    title=_text(200, required=True),
    title_en=_text(200, required=False),
    url=_URLS,
    kind=st.sampled_from(MaterialKind),
)


@st.composite
def _definitions(draw: st.DrawFn) -> StudyDefinition:
    first_session = draw(st.dates(date(2000, 1, 1), date(2100, 12, 31)))
    names = draw(st.lists(_text(100, required=True), max_size=5, unique_by=str.casefold))
    leader = draw(st.integers(-1, len(names) - 1))
    user_ids = draw(st.lists(st.integers(1, 2**63 - 1), min_size=len(names), max_size=len(names), unique=True))
    members = tuple(
        MemberDefinition(
            name=name,
            role=MemberRole.LEADER if index == leader else MemberRole.MEMBER,
            discord_user_id=draw(st.sampled_from([None, user_ids[index]])),
            github=draw(_OPTIONAL_URLS),
            blog=draw(_OPTIONAL_URLS),
            joined=draw(st.none() | st.dates(date(2000, 1, 1), date(2100, 12, 31))),
        )
        for index, name in enumerate(names)
    )
    week_count = draw(st.integers(0, 4))
    weeks = tuple(
        WeekDefinition(
            number=number,
            title=draw(_text(200, required=True)),
            title_en=draw(_text(200, required=False)),
            notes=draw(_text(1000, required=False, multiline=True)),
            materials=tuple(draw(st.lists(_MATERIALS, max_size=3))),
        )
        for number in range(1, week_count + 1)
    )
    return StudyDefinition(
        name=draw(_text(100, required=True)),
        description=draw(_text(1000, required=False, multiline=True)),
        timezone=draw(st.sampled_from(["Asia/Seoul", "UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"])),
        locale=draw(st.sampled_from(["ko", "en"])),
        weekday=first_session.weekday(),
        start_time=time(draw(st.integers(0, 23)), draw(st.integers(0, 59))),
        duration_minutes=draw(st.integers(1, 1440)),
        first_session=first_session,
        location_name=draw(_text(100, required=True)),
        location_url=draw(_OPTIONAL_URLS),
        reminder_offsets_minutes=tuple(draw(st.lists(st.integers(1, 14 * 24 * 60), max_size=5, unique=True))),
        members=members,
        resources=tuple(draw(st.lists(_MATERIALS, max_size=3))),
        weeks=weeks,
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(_definitions())
def test_dump_then_parse_gives_back_any_valid_definition(defn: StudyDefinition) -> None:
    text = dump_definition(defn)
    assert parse_definition(text) == defn
    assert dump_definition(parse_definition(text)) == text


@given(st.integers(1, 14 * 24 * 60))
def test_offset_spelling_round_trips(minutes: int) -> None:
    assert parse_offset(format_offset(minutes)) == minutes


def test_console_shift_makes_week_one_the_coming_session() -> None:
    """`studybot console` shifts the bundled study so that week 1 has not started yet, whatever today is."""
    import tempfile
    from datetime import UTC, datetime, timedelta
    from pathlib import Path
    from zoneinfo import ZoneInfo

    from bot.offline import BUNDLED_STUDY, shifted_definition

    seoul = ZoneInfo("Asia/Seoul")
    with tempfile.TemporaryDirectory() as tmp:
        for now_local in (
            datetime(2026, 11, 27, 18, 0, tzinfo=seoul),  # Friday → next Thursday
            datetime(2026, 12, 3, 8, 0, tzinfo=seoul),  # Thursday before 09:00 → today
            datetime(2026, 12, 3, 9, 30, tzinfo=seoul),  # Thursday during the session → next week
        ):
            shifted = load_definition(shifted_definition(BUNDLED_STUDY, Path(tmp) / "s.toml", now=now_local))
            start = datetime.combine(shifted.first_session, shifted.start_time, tzinfo=seoul)
            assert shifted.first_session.weekday() == 3
            assert timedelta(0) < start - now_local.astimezone(UTC) <= timedelta(days=7)
