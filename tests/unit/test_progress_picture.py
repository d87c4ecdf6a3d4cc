"""The progress picture: its data (marks, rates, stages, pages) and the PNG, with Korean drawn as glyphs.

matplotlib only *warns* when a font lacks a glyph (and draws a box): these tests turn that warning into an
error, so a picture that would show boxes instead of Hangul fails here.
"""

from __future__ import annotations

import io
import struct
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.core.schedule import Session
from bot.render.progress import (
    MEMBERS_PER_IMAGE,
    Mark,
    ProgressData,
    ProgressLabels,
    build_progress,
    render_progress,
    split_progress,
    week_rate,
)

NO_MISSING_GLYPHS = pytest.mark.filterwarnings("error:Glyph:UserWarning")
START = datetime(2026, 12, 3, 0, 0, tzinfo=UTC)  # Thursday 09:00 KST
LABELS = ProgressLabels(
    title="죽되밥되 파이토치 스터디 — 진행 현황",
    subtitle="2026-12-31 기준 · 출석률 = (출석+지각) / (전체−공결)",
    rate="출석률",
    stage="단계",
    log="스터디로그 올림",
    marks={"present": "출석", "late": "지각", "excused": "공결", "absent": "결석", "none": "아직"},
)


def sessions(count: int, cancelled: tuple[int, ...] = ()) -> list[Session]:
    out = []
    week = 0
    for index in range(count):
        day = date(2026, 12, 3) + timedelta(days=7 * index)
        start = START + timedelta(days=7 * index)
        if index in cancelled:
            out.append(Session(day, start, start + timedelta(hours=1), None, cancelled=True))
            continue
        week += 1
        out.append(Session(day, start, start + timedelta(hours=1), week))
    return out


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def sample(members: int = 10, weeks: int = 9) -> ProgressData:
    names = ["강동연", "김동영", "김정은", "노지민", "박설현", "박성돈", "박장호", "이재준", "장혜선", "차수연"]
    plan = sessions(weeks)
    attendance = {}
    for member in range(members):
        for index, session in enumerate(plan[:3]):
            attendance[(member, session.original_date)] = ("present", "late", "excused", "absent")[(member + index) % 4]
    logs = {(member, plan[0].original_date) for member in range(0, members, 2)}
    return build_progress(
        labels=LABELS,
        sessions=plan,
        members=[(i, names[i % 10] + (str(i // 10) if i >= 10 else "")) for i in range(members)],
        attendance=attendance,
        logs=logs,
        stages={1: "파이토치 공식 튜토리얼", 2: "모두를 위한 딥러닝 시즌2", 3: "모두를 위한 딥러닝 시즌2"},
        now=START + timedelta(days=7 * 3),
        timezone="Asia/Seoul",
    )


def test_marks_rates_and_stages_follow_the_records_and_the_clock() -> None:
    plan = sessions(4, cancelled=(1,))  # the second slot is cancelled: three curriculum weeks
    now = plan[2].end + timedelta(minutes=1)  # weeks 1 and 2 are over, week 3 is not
    data = build_progress(
        labels=LABELS,
        sessions=plan,
        members=[(1, "강동연"), (2, "김동영"), (3, "김정은")],
        attendance={
            (1, plan[0].original_date): "present",
            (2, plan[0].original_date): "excused",
            (1, plan[2].original_date): "late",
        },
        logs={(3, plan[3].original_date)},
        stages={1: "기초", 2: "기초"},
        now=now,
        timezone="Asia/Seoul",
    )
    assert [w.number for w in data.weeks] == [1, 2, 3]  # the cancelled slot counts for nothing
    assert [w.day for w in data.weeks] == [date(2026, 12, 3), date(2026, 12, 17), date(2026, 12, 24)]
    assert [w.stage for w in data.weeks] == ["기초", "기초", ""]
    rows = {row.name: row for row in data.rows}
    assert rows["강동연"].marks == (Mark.PRESENT, Mark.LATE, Mark.NONE)
    assert rows["김동영"].marks == (Mark.EXCUSED, Mark.ABSENT, Mark.NONE)  # no record after the end: absent
    assert rows["김정은"].logs == (False, False, True)  # a log keyed by the session's original date
    # Week 1: 강동연 present, 김동영 excused (not expected), 김정은 absent → 1 of 2.
    assert data.weeks[0].rate == pytest.approx(0.5)
    assert data.weeks[1].rate == pytest.approx(1 / 3)
    assert data.weeks[2].rate is None  # not held yet
    only = build_progress(
        labels=LABELS,
        sessions=plan,
        members=[(1, "강동연"), (2, "김동영")],
        attendance={},
        logs=set(),
        stages={},
        now=now,
        timezone="Asia/Seoul",
        only=2,
    )
    assert [row.name for row in only.rows] == ["김동영"]
    assert only.weeks[0].rate == 0.0  # the rate is still the whole study's


def test_week_rate_leaves_excused_members_out() -> None:
    assert week_rate([Mark.PRESENT, Mark.LATE, Mark.ABSENT, Mark.EXCUSED]) == pytest.approx(2 / 3)
    assert week_rate([Mark.EXCUSED, Mark.NONE]) is None


@NO_MISSING_GLYPHS
def test_picture_is_a_png_with_korean_drawn_in_a_hangul_font() -> None:
    picture = render_progress(sample())
    width, height = png_size(picture)
    assert 600 <= width <= 1600 and 500 <= height <= 1200
    from PIL import Image

    image = Image.open(io.BytesIO(picture)).convert("RGB")
    colours = {image.getpixel((x, y)) for x in range(0, width, 7) for y in range(0, height, 7)}
    assert (0x2E, 0x9E, 0x5B) in colours and (0xDA, 0x37, 0x3C) in colours  # present and absent cells


def test_a_glyph_no_font_has_fails_the_picture_tests() -> None:
    data = sample(2, 2)
    from dataclasses import replace

    broken = replace(data, labels=replace(data.labels, title="\ue000 private use"))
    with pytest.warns(UserWarning, match="Glyph"):
        render_progress(broken)


@NO_MISSING_GLYPHS
def test_two_hundred_members_by_fifty_two_weeks_are_split_into_readable_pages() -> None:
    data = sample(200, 52)
    pages = split_progress(data, page_label="참여자 {first}–{last} / {total}명")
    assert len(pages) == 200 // MEMBERS_PER_IMAGE
    assert pages[1].labels.page == "참여자 101–200 / 200명"
    assert [len(page.rows) for page in pages] == [MEMBERS_PER_IMAGE] * len(pages)
    assert all(page.weeks == data.weeks for page in pages)  # every page has every week and the study's rate
    width, height = png_size(render_progress(pages[0]))
    # 22 px per member row and per week column at 100 dpi: names and marks stay readable.
    assert height >= MEMBERS_PER_IMAGE * 22 and width >= 52 * 22
    assert split_progress(sample(10, 9)) == [sample(10, 9)]


@NO_MISSING_GLYPHS
def test_a_study_with_no_weeks_or_members_still_draws() -> None:
    empty = build_progress(
        labels=LABELS, sessions=[], members=[], attendance={}, logs=set(), stages={}, now=START, timezone="Asia/Seoul"
    )
    png_size(render_progress(empty))


def test_without_the_hangul_font_korean_names_would_fail_these_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.render.progress as progress

    monkeypatch.setattr(progress, "font_family", lambda: ["DejaVu Sans"])
    monkeypatch.setattr(progress, "_hangul_charmap", lambda: frozenset(range(128)))
    with pytest.warns(UserWarning, match="Glyph .* missing from font"):
        render_progress(sample(2, 2))


@NO_MISSING_GLYPHS
def test_the_recap_draws_from_statuses_and_log_dates_by_member() -> None:
    from pathlib import Path

    from bot.core.definition import load_definition
    from bot.core.guide import guide_to_data
    from bot.core.model import Guide
    from bot.core.schedule import build_schedule
    from bot.render.progress import render_for_recap
    from tests.unit.test_render import snapshot_of

    definition = load_definition(Path(__file__).resolve().parents[2] / "studies" / "pytorch-study.toml")
    snap = snapshot_of(definition, guide=Guide(by_locale=guide_to_data(definition.guide)))
    schedule = build_schedule(snap.recurrence, snap.changes, snap.week_count)
    first = schedule[0].original_date
    picture = render_for_recap(snap, schedule, {1: {first: "present"}, 2: {first: "late"}}, {1: {first}}, lang="ko")
    assert png_size(picture)[0] >= 600
