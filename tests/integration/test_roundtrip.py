"""Every state the commands can produce exports to a file that imports back unchanged, and the commands,
the definition file and the config refuse the same values with the same message (on SQLite and PostgreSQL).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.clock import FrozenClock
from bot.config import Settings
from bot.core.definition import DefinitionError, StudyDefinition, dump_definition, parse_definition
from bot.core.model import MemberRole
from bot.core.schedule import build_schedule
from bot.errors import UserError
from bot.i18n import t
from bot.runtime import Runtime, open_runtime
from bot.services.base import Actor
from bot.services.settings import SettingsChange
from tests.conftest import ADMIN, BEFORE_WEEK_1, GUILD_ID

OTHER_GUILD = 900000000000000077


async def file_round_trip(rt: Runtime, guild_id: int = GUILD_ID) -> tuple[StudyDefinition, StudyDefinition]:
    """Export, write the file, read it back: (exported, parsed)."""
    exported = await rt.services.definitions.export_definition(guild_id=guild_id)
    return exported, parse_definition(dump_definition(exported), source="exported.toml")


async def assert_lossless(rt: Runtime, guild_id: int, target: int) -> None:
    exported, parsed = await file_round_trip(rt, guild_id)
    assert parsed == exported
    _, changed = await rt.services.definitions.import_definition(guild_id=guild_id, definition=parsed, actor=ADMIN)
    assert changed is False, "re-importing the exported file changed the study it came from"
    await rt.services.definitions.import_definition(guild_id=target, definition=parsed, actor=Actor.cli())
    assert await rt.services.definitions.export_definition(guild_id=target) == exported


# --------------------------------------------------------------------------------------------------
# Item: a second leader (and everything else a leader does in Discord) survives export → import


async def test_a_second_leader_added_in_discord_exports_and_imports(runtime: Runtime) -> None:
    await runtime.services.roster.add(guild_id=GUILD_ID, actor=ADMIN, name="김철수", role="leader")

    _, parsed = await file_round_trip(runtime)

    assert [m.name for m in parsed.members if m.role is MemberRole.LEADER] == ["차수연", "김철수"]
    await assert_lossless(runtime, GUILD_ID, OTHER_GUILD)


async def test_every_kind_of_command_edit_round_trips_through_the_file(runtime: Runtime) -> None:
    services = runtime.services
    await services.roster.add(guild_id=GUILD_ID, actor=ADMIN, name="김철수", role="leader", user_id=41)
    await services.roster.add(
        guild_id=GUILD_ID,
        actor=ADMIN,
        name="Lee_dev",
        github="https://github.com/lee_(dev)",
        blog="HTTPS://Blog.Example/@lee",
    )
    await services.roster.link(guild_id=GUILD_ID, actor=ADMIN, name="강동연", user_id=42)
    await services.roster.edit(guild_id=GUILD_ID, actor=ADMIN, name="김동영", github="https://github.com/kim", blog="")
    await services.roster.edit(guild_id=GUILD_ID, actor=ADMIN, name="Lee_dev", github="")
    await services.curriculum.set_topic(guild_id=GUILD_ID, actor=ADMIN, week=10, title="10주차 02~05장 | 복습")
    await services.curriculum.set_topic(guild_id=GUILD_ID, actor=ADMIN, week=2, title="새 주제", title_en="New topic")
    await services.curriculum.add_material(
        guild_id=GUILD_ID, actor=ADMIN, week=10, title="위키 (언어)", url="https://en.wikipedia.org/wiki/Python_(x)"
    )
    await services.curriculum.add_material(
        guild_id=GUILD_ID, actor=ADMIN, week=10, title="영문 제목", url="https://a.example/x", title_en="English"
    )
    await services.curriculum.add_material(
        guild_id=GUILD_ID, actor=ADMIN, week=0, title="스터디 전체 자료", url="https://b.example/", kind="book"
    )
    await services.settings.update(
        guild_id=GUILD_ID,
        actor=ADMIN,
        change=SettingsChange(
            weekday=4,
            start_time=time(20, 30),
            duration_minutes=90,
            place_name="게더 타운 #2",
            place_url="https://app.gather.town/app/x(1)",
            offsets=(timedelta(days=2), timedelta(minutes=90)),
            locale="en",
        ),
    )
    await services.sessions.cancel(guild_id=GUILD_ID, actor=ADMIN, day=date(2026, 12, 11), reason="휴식")

    exported, parsed = await file_round_trip(runtime)

    assert exported.weekday == 4 and exported.first_session == date(2026, 12, 4)
    assert exported.location_url == "https://app.gather.town/app/x%281%29"
    assert {m.name: (m.github, m.blog) for m in parsed.members}["Lee_dev"] == ("", "https://blog.example/@lee")
    assert parsed.weeks[9].materials[1].title_en == "English"
    await assert_lossless(runtime, GUILD_ID, OTHER_GUILD)


async def test_the_shipped_file_imports_exports_and_imports_again_unchanged(runtime: Runtime) -> None:
    await assert_lossless(runtime, GUILD_ID, OTHER_GUILD)


async def test_links_stored_before_normalization_export_in_their_normalized_form(runtime: Runtime) -> None:
    from sqlalchemy import update

    from bot.db import models as db

    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(db.Material).where(db.Material.position == 0).values(url="https://a.example/x)[y](https://p.example")
        )
        await session.execute(update(db.Study).values(location_url="https://App.Gather.town/(room)"))

    exported, parsed = await file_round_trip(runtime)

    assert parsed == exported
    assert exported.location_url == "https://app.gather.town/%28room%29"
    assert exported.resources[0].url == "https://a.example/x%29%5By%5D%28https://p.example"


# --------------------------------------------------------------------------------------------------
# Item: first_session on the wrong weekday — one rule, one message, both ways in


def _file_with(*extra_members: str, **study: Any) -> str:
    document: dict[str, Any] = {
        "study": {
            "name": "스터디",
            "timezone": "Asia/Seoul",
            "locale": "ko",
            "weekday": "thursday",
            "start_time": "09:00",
            "duration_minutes": 60,
            "first_session": date(2026, 12, 3),
            "location_name": "Gather Town",
            "reminder_offsets": ["1d"],
        },
        "member": [{"name": "차수연", "role": "leader"}, *({"name": name} for name in extra_members)],
    }
    document["study"].update(study)
    return tomli_w.dumps(document)


def _english(error: UserError) -> str:
    return t("en", error.key, **error.params)


async def test_a_first_session_off_the_weekday_is_refused_by_settings_and_by_the_file_alike(
    runtime: Runtime,
) -> None:
    with pytest.raises(UserError) as command:
        await runtime.services.settings.update(
            guild_id=GUILD_ID, actor=ADMIN, change=SettingsChange(first_session=date(2027, 1, 8))
        )
    with pytest.raises(DefinitionError) as file:
        parse_definition(_file_with(first_session=date(2027, 1, 8)))

    assert command.value.key == "error.first_session_weekday"
    assert file.value.key == "study.first_session"
    # The same sentence, each naming its own field.
    assert _english(command.value) == f"`first_session` {file.value.message}"
    snap = runtime.directory.by_guild(GUILD_ID)
    assert snap is not None and snap.recurrence.first_date == date(2026, 12, 3)


async def test_changing_the_weekday_stores_the_date_the_schedule_really_starts_on(runtime: Runtime) -> None:
    await runtime.services.settings.update(guild_id=GUILD_ID, actor=ADMIN, change=SettingsChange(weekday=4))

    snap = runtime.directory.by_guild(GUILD_ID)
    assert snap is not None
    schedule = build_schedule(snap.recurrence, snap.changes, snap.week_count)
    assert snap.recurrence.first_date == date(2026, 12, 4) == schedule[0].original_date
    await runtime.services.settings.update(
        guild_id=GUILD_ID, actor=ADMIN, change=SettingsChange(weekday=3, first_session=date(2026, 12, 10))
    )
    snap = runtime.directory.by_guild(GUILD_ID)
    assert snap is not None and snap.recurrence.first_date == date(2026, 12, 10)


# --------------------------------------------------------------------------------------------------
# Item: the file refuses what the commands refuse, with the same message


@pytest.mark.parametrize(
    "name", ["@here", "<@&123>", "**bold**", "[x](https://phish.example)", "see https://phish.example", "~~x~~"]
)
async def test_names_the_commands_refuse_the_file_refuses_with_the_same_message(runtime: Runtime, name: str) -> None:
    with pytest.raises(UserError) as command:
        await runtime.services.roster.add(guild_id=GUILD_ID, actor=ADMIN, name=name)
    with pytest.raises(DefinitionError) as file:
        parse_definition(_file_with(name))

    assert file.value.key == "member[2].name"
    assert _english(command.value) == f"`name` {file.value.message}"


@pytest.mark.parametrize(
    "url",
    [
        "https://docs.pytorch.org/x)[Claim Nitro](https://phish.example/login",
        "https://docs.pytorch.org@phish.example/",
        "javascript:alert(1)",
        "https://localhost/",
    ],
)
async def test_links_the_commands_refuse_the_file_refuses_with_the_same_message(runtime: Runtime, url: str) -> None:
    with pytest.raises(UserError) as command:
        await runtime.services.curriculum.add_material(guild_id=GUILD_ID, actor=ADMIN, week=1, title="t", url=url)
    with pytest.raises(DefinitionError) as file:
        parse_definition(_file_with(location_url=url))

    assert _english(command.value) == f"`url` {file.value.message}"


async def test_the_everyone_role_is_refused_by_settings(runtime: Runtime) -> None:
    with pytest.raises(UserError) as caught:
        await runtime.services.settings.update(
            guild_id=GUILD_ID, actor=ADMIN, change=SettingsChange(ping_role_id=GUILD_ID)
        )
    assert caught.value.key == "settings.bad_role"


async def test_names_differing_only_in_case_are_one_name_everywhere(runtime: Runtime) -> None:
    await runtime.services.roster.add(guild_id=GUILD_ID, actor=ADMIN, name="Kim")
    with pytest.raises(UserError) as caught:
        await runtime.services.roster.add(guild_id=GUILD_ID, actor=ADMIN, name="KIM")
    assert caught.value.key == "roster.duplicate"


# --------------------------------------------------------------------------------------------------
# Any sequence of commands (SQLite; one database, a fresh server per example)

BASE = parse_definition(
    _file_with()
    + '\n[[week]]\nnumber = 1\ntitle = "기초"\n\n  [[week.material]]\n  title = "A"\n  url = "https://a.example/"\n'
)
NAMES = ["김철수", "Kim", "KIM", "차수연", "Lee_dev", "박 영희"]
URLS = ["", "https://github.com/x", "https://en.wikipedia.org/wiki/A_(b)", "HTTPS://Blog.Example/@me", "ftp://x.y"]
TITLES = ["자료", "02~05장 | 보충", "lab_01 #1", "**bold**", "Docs (EN)"]

_ops = st.one_of(
    st.tuples(
        st.just("add"),
        st.sampled_from(NAMES),
        st.sampled_from(["leader", "member"]),
        st.sampled_from(URLS),
        st.sampled_from(URLS),
        st.sampled_from([None, 41, 42]),
    ),
    st.tuples(st.just("edit"), st.sampled_from(NAMES), st.sampled_from(NAMES), st.sampled_from(URLS)),
    st.tuples(st.just("link"), st.sampled_from(NAMES), st.sampled_from([41, 42, 43])),
    st.tuples(st.just("remove"), st.sampled_from(NAMES)),
    st.tuples(st.just("topic"), st.integers(1, 3), st.sampled_from(TITLES), st.sampled_from([None, "", "Topic"])),
    st.tuples(
        st.just("material"),
        st.integers(0, 2),
        st.sampled_from(TITLES),
        st.sampled_from(URLS),
        st.sampled_from([None, "", "English"]),
    ),
    st.tuples(
        st.just("settings"),
        st.sampled_from([None, 3, 4]),
        st.sampled_from([None, date(2026, 12, 10), date(2026, 12, 11)]),
        st.sampled_from([None, "1d, 1h", "off", "90m"]),
        st.sampled_from([None, "https://app.gather.town/(x)", "장소 #2"]),
    ),
)


async def _apply(rt: Runtime, guild_id: int, op: tuple[Any, ...]) -> None:
    services, kind = rt.services, op[0]
    if kind == "add":
        _, name, role, github, blog, user = op
        await services.roster.add(
            guild_id=guild_id, actor=ADMIN, name=name, role=role, github=github, blog=blog, user_id=user
        )
    elif kind == "edit":
        await services.roster.edit(guild_id=guild_id, actor=ADMIN, name=op[1], new_name=op[2], blog=op[3])
    elif kind == "link":
        await services.roster.link(guild_id=guild_id, actor=ADMIN, name=op[1], user_id=op[2])
    elif kind == "remove":
        await services.roster.remove(guild_id=guild_id, actor=ADMIN, name=op[1])
    elif kind == "topic":
        await services.curriculum.set_topic(guild_id=guild_id, actor=ADMIN, week=op[1], title=op[2], title_en=op[3])
    elif kind == "material":
        await services.curriculum.add_material(
            guild_id=guild_id, actor=ADMIN, week=op[1], title=op[2], url=op[3], title_en=op[4]
        )
    else:
        _, weekday, first, offsets, place = op
        from bot.core.validation import parse_offsets

        change = SettingsChange(
            weekday=weekday,
            first_session=first,
            offsets=parse_offsets(offsets) if offsets else None,
            place_url=place if place and place.startswith("https") else None,
            place_name=place if place and not place.startswith("https") else None,
        )
        if not change.empty():
            await services.settings.update(guild_id=guild_id, actor=ADMIN, change=change)


@pytest.fixture(scope="module")
def shared_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[asyncio.AbstractEventLoop, Runtime]]:
    loop = asyncio.new_event_loop()
    path: Path = tmp_path_factory.mktemp("roundtrip") / "studybot.db"
    settings_ = Settings(token="", database_url=f"sqlite+aiosqlite:///{path}")
    rt = loop.run_until_complete(open_runtime(settings_, clock=FrozenClock(BEFORE_WEEK_1)))
    try:
        yield loop, rt
    finally:
        loop.run_until_complete(rt.close())
        loop.close()


_guilds = itertools.count(910000000000000000)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(_ops, max_size=12))
def test_any_sequence_of_commands_exports_a_file_that_imports_back_unchanged(
    shared_runtime: tuple[asyncio.AbstractEventLoop, Runtime], ops: list[tuple[Any, ...]]
) -> None:
    loop, rt = shared_runtime

    async def scenario() -> None:
        guild, copy = next(_guilds), next(_guilds)
        await rt.services.definitions.import_definition(guild_id=guild, definition=BASE, actor=Actor.cli())
        await rt.directory.load_all()
        for op in ops:
            try:
                await _apply(rt, guild, op)
            except UserError:
                pass  # refused: writes nothing, which the round trip below also checks
        await assert_lossless(rt, guild, copy)

    loop.run_until_complete(scenario())
