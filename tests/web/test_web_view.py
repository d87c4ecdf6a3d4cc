"""What the page shows, as plain values: pure, with `now` passed in."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.core.definition import load_definition
from bot.core.model import SessionChange, StudySnapshot
from bot.web.extras import LogEntry, LogWeek, PageExtras, Stage
from bot.web.page import build_view
from bot.web.server import choose_language, safe_href
from bot.web.state import PageState
from tests.conftest import BEFORE_WEEK_1, SEED_STUDY
from tests.unit.test_render import snapshot_of

STATE = PageState(study_id=1, token="t" * 24, enabled=True, public=False)
SEOUL = ZoneInfo("Asia/Seoul")


@pytest.fixture(scope="module")
def snap() -> StudySnapshot:
    return snapshot_of(load_definition(SEED_STUDY))


def test_next_session_in_seoul_and_the_readers_zone(snap: StudySnapshot) -> None:
    view = build_view(snap, STATE, PageExtras(), now=BEFORE_WEEK_1, lang="ko", reader_zone="America/New_York")
    assert view.next is not None and view.next.week == 1 and view.next.topic == "파이토치(PyTorch) 기본 익히기"
    assert view.next.when.study == "2026-12-03 (목) 09:00–10:00"
    assert view.next.when.reader == "2026-12-02 (수) 19:00–20:00"
    assert len(view.next.materials) == 9 and view.cancelled_now is None
    assert [s.status for s in view.schedule[:2]] == ["current", "upcoming"]


def test_this_weeks_cancelled_session_is_said_and_the_next_one_shown(snap: StudySnapshot) -> None:
    cancelled = replace(snap, changes=(SessionChange(date(2026, 12, 3), cancelled=True, reason="휴강"),))
    view = build_view(cancelled, STATE, PageExtras(), now=BEFORE_WEEK_1, lang="en")
    assert view.cancelled_now is not None and view.cancelled_now.reason == "휴강"
    assert view.next is not None and view.next.week == 1 and view.next.when.study == "Thu 2026-12-10 09:00–10:00"
    assert [s.status for s in view.schedule[:2]] == ["cancelled", "upcoming"]


def test_a_moved_session_shows_its_new_time_and_usual_date(snap: StudySnapshot) -> None:
    moved_to = datetime(2026, 12, 4, 20, 0, tzinfo=SEOUL)
    moved = replace(snap, changes=(SessionChange(date(2026, 12, 3), cancelled=False, moved_to=moved_to),))
    view = build_view(moved, STATE, PageExtras(), now=BEFORE_WEEK_1, lang="ko")
    first = view.schedule[0]
    assert first.moved and first.when.study.startswith("2026-12-04 (금) 20:00") and first.original == "2026-12-03 (목)"
    assert view.next is not None and view.next.moved


def test_after_the_last_week_the_curriculum_is_finished(snap: StudySnapshot) -> None:
    view = build_view(snap, STATE, PageExtras(), now=datetime(2027, 6, 1, tzinfo=UTC), lang="ko")
    assert view.finished and view.next is None and all(s.status == "done" for s in view.schedule)


def test_curriculum_grouped_by_stage_when_stages_are_given(snap: StudySnapshot) -> None:
    stages = (Stage("입문", 1, 1), Stage("모두를 위한 딥러닝", 2, 5))
    view = build_view(snap, STATE, PageExtras(stages=stages), now=BEFORE_WEEK_1, lang="ko")
    assert [(s.label, [w.number for w in s.weeks]) for s in view.stages] == [
        ("입문", [1]),
        ("모두를 위한 딥러닝", [2, 3, 4, 5]),
        ("그 밖의 주차", [6, 7, 8, 9]),
    ]
    plain = build_view(snap, STATE, PageExtras(), now=BEFORE_WEEK_1, lang="ko")
    assert [s.label for s in plain.stages] == [""] and len(plain.stages[0].weeks) == 9


def test_hidden_members_keep_their_name_but_not_their_links(snap: StudySnapshot) -> None:
    member = replace(snap.members[0], github="https://github.com/a", blog="https://a.dev")
    with_links = replace(snap, members=(member, *snap.members[1:]))
    logs = (LogWeek(1, (LogEntry(member.id, member.name, "https://a.dev/w1"),)),)
    state = replace(STATE, hidden_member_ids=frozenset({member.id}))
    view = build_view(with_links, state, PageExtras(logs=logs), now=BEFORE_WEEK_1, lang="ko")
    shown = next(m for m in view.members if m.name == member.name)
    assert shown.hidden and shown.github == "" and shown.blog == ""
    assert view.logs is not None and view.logs[0].entries[0].url == "" and view.logs[0].entries[0].name == member.name
    visible = build_view(with_links, STATE, PageExtras(logs=logs), now=BEFORE_WEEK_1, lang="ko")
    assert next(m for m in visible.members if m.name == member.name).github == "https://github.com/a"


def test_leaders_come_first(snap: StudySnapshot) -> None:
    view = build_view(snap, STATE, PageExtras(), now=BEFORE_WEEK_1, lang="ko")
    assert view.members[0].name == "차수연" and view.members[0].leader


@pytest.mark.parametrize(
    ("query", "header", "expected"),
    [
        ("en", "ko", "en"),
        (None, "en-US,en;q=0.9", "en"),
        (None, "ko-KR,ko;q=0.9,en;q=0.8", "ko"),
        (None, "fr-FR, en;q=0.5, ko;q=0.7", "ko"),
        (None, "fr", "ko"),
        (None, None, "ko"),
        ("de", "en;q=0", "ko"),
    ],
)
def test_language_choice(query: str | None, header: str | None, expected: str) -> None:
    assert choose_language(query, header, "ko") == expected


def test_only_web_links_become_links() -> None:
    assert safe_href("https://x.org") == "https://x.org"
    assert safe_href("javascript:alert(1)") == "" and safe_href("data:text/html,x") == ""


async def test_the_pacer_caps_throughput_and_turns_away_a_flood() -> None:
    import asyncio

    from bot.web.server import Pacer

    pacer = Pacer(rate=100.0, burst=5.0, max_waiting=10)
    loop = asyncio.get_running_loop()
    started = loop.time()
    admitted = await asyncio.gather(*(pacer.admit() for _ in range(15)))
    # 5 go at once (the burst), the other 10 wait their turn at 100 a second.
    assert admitted == [True] * 15
    assert loop.time() - started >= 10 / 100.0 * 0.9
    # A flood: at most 10 may wait, the rest are turned away at once.
    results = await asyncio.gather(*(pacer.admit() for _ in range(30)))
    assert results.count(False) >= 30 - 10 - 1
