"""/log, /progress and /guide end to end: the real bot through real discord.py and the stand-in, in ko and en."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select

from bot.db import models as db
from bot.offline import OfflineBot
from standin import StandIn
from tests.e2e.test_commands import ask, text_of


async def counts(offline: OfflineBot) -> dict[str, Any]:
    async with offline.runtime.sessionmaker() as session:
        logs = (await session.execute(select(func.count()).select_from(db.StudyLog))).scalar_one()
        audit = (await session.execute(select(func.count()).select_from(db.AuditEntry))).scalar_one()
        nudges = (await session.execute(select(db.Member.name).where(db.Member.nudge_opt_in))).scalars().all()
    return {"logs": logs, "audit": audit, "nudges": sorted(nudges)}


async def link_member(standin: StandIn, name: str = "강동연") -> None:
    world = standin.defaults
    assert world is not None
    reply = await ask(standin, "admin roster link", {"name": name, "user": world.member_user_id}, user="admin")
    assert not reply.content.startswith("⚠️"), reply.content


async def test_log_add_board_mine_and_remove_in_korean_and_english(running: OfflineBot) -> None:
    standin = running.standin
    await link_member(standin)
    before = await counts(running)
    added = await ask(standin, "log add", {"link": "https://github.com/kang/pytorch-study", "note": "텐서 정리"})
    assert added.ephemeral and "1주차(2026-12-03)" in added.content  # the default week is this week
    added2 = await ask(standin, "log add", {"link": "https://kang.tistory.com/12", "week": 2}, locale="en-US")
    assert added2.ephemeral and "week 2 (2026-12-10)" in added2.content
    after = await counts(running)
    assert after["logs"] == before["logs"] + 2 and after["audit"] == before["audit"] + 2

    board = await ask(standin, "log board", {"week": 1})
    text = text_of(board)
    assert "1주차 스터디로그" in text and "**강동연**" in text
    assert "(https://github.com/kang/pytorch-study)" in text and "텐서 정리" in text
    assert "아직 안 올린 사람 (9/10명)" in text and "차수연" in text
    board_en = text_of(await ask(standin, "log board", locale="en-US"))  # this week = week 1
    assert "Week 1 study log" in board_en and "Not posted yet (9/10)" in board_en

    mine = await ask(standin, "log mine", locale="en-US")
    assert mine.ephemeral
    mine_text = text_of(mine)
    assert "Week 1 (2026-12-03)" in mine_text and "Week 2 (2026-12-10)" in mine_text

    world = standin.defaults
    assert world is not None
    handle = await standin.invoke("log remove", {"log": ""}, user_id=world.member_user_id, locale="ko", focused="log")
    choices = ((await handle.wait_response(timeout=10)).data or {})["choices"]
    assert [c["name"].split(" · ")[1] for c in choices] == ["2주차", "1주차"]  # newest first
    removed = await ask(standin, "log remove", {"log": choices[0]["value"]})
    assert removed.ephemeral and "kang.tistory.com/12" in removed.content
    assert (await counts(running))["logs"] == before["logs"] + 1
    async with running.runtime.sessionmaker() as session:
        latest = (await session.execute(select(db.AuditEntry).order_by(db.AuditEntry.id.desc()))).scalars().first()
    assert latest is not None and latest.action == "log.remove" and latest.actor_id == world.member_user_id


async def test_logs_stay_with_their_session_when_an_earlier_one_is_cancelled(running: OfflineBot) -> None:
    standin = running.standin
    await link_member(standin)
    await ask(standin, "log add", {"link": "https://github.com/kang/week2", "week": 2})  # the 2026-12-10 session
    cancel = await ask(standin, "admin session cancel", {"date": "2026-12-03"}, user="admin")
    assert not cancel.content.startswith("⚠️")
    # Week 1 is now the 2026-12-10 session: the log written for that session moved with it.
    board = text_of(await ask(standin, "log board", {"week": 1}))
    assert "github.com/kang/week2" in board and "2026-12-10" in board
    assert "github.com/kang/week2" not in text_of(await ask(standin, "log board", {"week": 2}))


@pytest.mark.parametrize(
    ("command", "options", "link_first", "ko", "en"),
    [
        ("log add", {"link": "https://github.com/x"}, False, "/roster claim", "/roster claim"),
        ("log mine", {}, False, "/roster claim", "/roster claim"),
        ("log nudge", {"setting": "on"}, False, "/roster claim", "/roster claim"),
        ("log add", {"link": "javascript:alert(1)"}, True, "https://", "https://"),
        ("log add", {"link": "ftp://files.example/notes"}, True, "https://", "https://"),
        ("log add", {"link": "https://github.com/x", "week": 10}, True, "1부터 9주차까지", "from 1 to 9"),
        ("log add", {"link": "https://github.com/x", "week": 0}, True, "1부터 9주차까지", "from 1 to 9"),
        ("log add", {"link": "https://github.com/x", "note": "@everyone 보세요"}, True, "everyone", "everyone"),
        ("log board", {"week": 42}, False, "1부터 9주차까지", "from 1 to 9"),
        ("log remove", {"log": "id:999"}, True, "/log mine", "/log mine"),
        ("log remove", {"log": "지난주"}, True, "/log mine", "/log mine"),
        ("progress", {"member": "없는사람"}, False, "없는사람", "없는사람"),
    ],
)
async def test_bad_log_input_is_answered_clearly_and_ephemerally_and_nothing_is_written(
    running: OfflineBot, command: str, options: dict[str, Any], link_first: bool, ko: str, en: str
) -> None:
    if link_first:
        await link_member(running.standin)
    before = await counts(running)
    for locale, fragment in (("ko", ko), ("en-US", en)):
        reply = await ask(running.standin, command, options, locale=locale)
        assert reply.ephemeral, reply.content
        assert reply.content.startswith("⚠️") and fragment in reply.content, reply.content
    assert await counts(running) == before


async def test_a_duplicate_link_for_the_same_week_is_refused(running: OfflineBot) -> None:
    await link_member(running.standin)
    await ask(running.standin, "log add", {"link": "https://github.com/kang/a", "week": 3})
    before = await counts(running)
    again = await ask(running.standin, "log add", {"link": "https://github.com/kang/a", "week": 3}, locale="en-US")
    assert again.ephemeral and "already in the week 3 study log" in again.content
    assert await counts(running) == before


async def test_log_nudge_on_and_off_sets_the_members_opt_in(running: OfflineBot) -> None:
    standin = running.standin
    await link_member(standin)
    on = await ask(standin, "log nudge", {"setting": "on"})
    assert on.ephemeral and "호출합니다" in on.content
    assert (await counts(running))["nudges"] == ["강동연"]
    assert running.runtime.directory.all()[0].members[0].nudge_opt_in is True  # the snapshot knows at once
    off = await ask(standin, "log nudge", {"setting": "off"}, locale="en-US")
    assert off.ephemeral and "will not ping you" in off.content
    assert (await counts(running))["nudges"] == []


async def test_progress_answers_with_a_png_drawn_off_the_event_loop(running: OfflineBot) -> None:
    standin = running.standin
    await link_member(standin)
    await ask(standin, "log add", {"link": "https://github.com/kang/a"})
    world = standin.defaults
    assert world is not None
    for locale, words in (("ko", "진행 현황"), ("en-US", "progress")):
        handle = await standin.invoke("progress", {}, user_id=world.member_user_id, locale=locale)
        first = await handle.wait_response(timeout=10)
        assert first.type == 5  # deferred ("thinking…") before the picture is drawn
        reply = await handle.wait_reply(timeout=30)
        assert not handle.late and reply.pings.nobody
        assert words in reply.content and not reply.ephemeral
        [picture] = reply.files
        assert picture.filename == "progress.png"
        image = Image.open(io.BytesIO(picture.content))
        assert image.format == "PNG" and image.width >= 600
    one = await ask(standin, "progress", {"member": "강동연"}, locale="en-US")
    assert "강동연" in one.content and one.files[0].content[:4] == b"\x89PNG"


async def test_guide_in_korean_and_english(running: OfflineBot) -> None:
    ko = text_of(await ask(running.standin, "guide"))
    assert "스터디 안내" in ko and "GitHub" in ko and "2~5주차" in ko and "모두를 위한 딥러닝 시즌2" in ko
    assert "TensorFlow" in ko and "Keras" in ko and "Define-by-Run" in ko
    en = text_of(await ask(running.standin, "guide", locale="en-US"))
    assert "study guide" in en and "Weeks 6–9" in en and "Pseudo-Lab Tutorial-Book" in en and "define-by-run" in en
