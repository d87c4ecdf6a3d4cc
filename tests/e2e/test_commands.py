"""Every slash command through real discord.py and the stand-in, as a member and as an admin, in ko and en."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from icalendar import Calendar
from sqlalchemy import func, select

from bot.db import models as db
from bot.offline import OfflineBot
from standin import MessageRecord, StandIn

WEEK1_START = int(datetime(2026, 12, 3, 0, 0, tzinfo=UTC).timestamp())  # Thursday 09:00 KST


def text_of(message: MessageRecord) -> str:
    parts = [message.content]
    for embed in message.embeds:
        parts += [embed.get("title", ""), embed.get("description", ""), (embed.get("footer") or {}).get("text", "")]
        parts += [f"{f['name']}\n{f['value']}" for f in embed.get("fields", [])]
    return "\n".join(p for p in parts if p)


async def ask(
    standin: StandIn, command: str, options: dict[str, Any] | None = None, *, user: str = "member", locale: str = "ko"
) -> MessageRecord:
    world = standin.defaults
    assert world is not None
    user_id = {"member": world.member_user_id, "admin": world.admin_user_id}[user]
    handle = await standin.invoke(command, options or {}, user_id=user_id, locale=locale)
    reply = await handle.wait_reply(timeout=10)
    assert not handle.late, f"/{command} answered after Discord's 3 s deadline"
    assert reply.pings.nobody, f"/{command} pinged someone: {reply.pings}"
    return reply


async def snapshot_tables(offline: OfflineBot) -> dict[str, int]:
    counts = {}
    async with offline.runtime.sessionmaker() as session:
        for model in (db.Study, db.Member, db.CurriculumWeek, db.Material, db.SessionChange, db.AuditEntry):
            counts[model.__tablename__] = (await session.execute(select(func.count()).select_from(model))).scalar_one()
        study = (await session.execute(select(db.Study))).scalar_one()
        counts["study.updated"] = int(study.updated_at.timestamp())
        counts["study.paused"] = int(study.paused)
    return counts


async def test_week_in_korean_and_english(running: OfflineBot) -> None:
    ko = await ask(running.standin, "week")
    text = text_of(ko)
    assert "1주차 · 파이토치(PyTorch) 기본 익히기" in text
    assert f"<t:{WEEK1_START}:F>" in text and f"<t:{WEEK1_START}:R>" in text
    assert "[Gather Town](https://app.gather.town/)" in text
    assert "https://tutorials.pytorch.kr/beginner/basics/quickstart_tutorial.html" in text
    en = await ask(running.standin, "week", locale="en-US")
    assert "Week 1 · Learn the Basics" in text_of(en)
    three = await ask(running.standin, "week", {"number": 3})
    assert "3주차" in text_of(three) and "PART 2" in text_of(three)


async def test_materials_schedule_next_roster(running: OfflineBot) -> None:
    standin = running.standin
    resources = text_of(await ask(standin, "materials"))
    assert "https://www.boostcourse.org/ai214" in resources and "https://wikidocs.net/book/2788" in resources
    week2 = text_of(await ask(standin, "materials", {"week": 2}, locale="en-US"))
    assert "Week 2 materials" in week2 and "lab-01_tensor_manipulation.ipynb" in week2
    schedule = text_of(await ask(standin, "schedule"))
    assert schedule.count("주차 ·") == 9 and "▶️" in schedule
    upcoming = text_of(await ask(standin, "next", locale="en-US"))
    assert f"<t:{WEEK1_START}:R>" in upcoming and "Week 1" in upcoming
    roster = await ask(standin, "roster")
    body = roster.embeds[0]["description"]
    assert body.splitlines()[0].startswith("👑 **차수연**")
    assert all(
        name in body
        for name in ["강동연", "김동영", "김정은", "노지민", "박설현", "박성돈", "박장호", "이재준", "장혜선"]
    )


async def test_calendar_attaches_an_ics_file(running: OfflineBot) -> None:
    reply = await ask(running.standin, "calendar", locale="en-US")
    assert reply.ephemeral
    assert reply.files and reply.files[0].filename.endswith(".ics")
    calendar = Calendar.from_ical(reply.files[0].content)
    events = [c for c in calendar.walk("VEVENT")]
    assert len(events) == 9
    first = min(events, key=lambda e: e.decoded("dtstart"))
    assert first.decoded("dtstart").astimezone(UTC) == datetime(2026, 12, 3, 0, 0, tzinfo=UTC)
    assert str(first["summary"]).startswith("Week 1")


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("admin roster add", {"name": "홍길동"}),
        ("admin roster remove", {"name": "강동연"}),
        ("admin roster edit", {"name": "강동연", "github": "https://github.com/kang"}),
        ("admin roster link", {"name": "강동연", "user": "member"}),
        ("admin curriculum set-topic", {"week": 2, "title": "새 주제"}),
        ("admin curriculum add-material", {"title": "자료", "url": "https://example.com"}),
        ("admin curriculum remove-material", {"item": "1"}),
        ("admin session cancel", {"date": "2026-12-03"}),
        ("admin session move", {"date": "2026-12-03", "new_date": "2026-12-04"}),
        ("admin session restore", {"date": "2026-12-03"}),
        ("admin settings", {"time": "20:00"}),
        ("admin audit", {}),
        ("admin reminders status", {}),
        ("admin reminders pause", {}),
        ("admin reminders resume", {}),
        ("admin reminders preview", {}),
    ],
)
async def test_admin_commands_refused_to_members_and_nothing_written(
    running: OfflineBot, command: str, options: dict[str, Any]
) -> None:
    world = running.standin.defaults
    assert world is not None
    opts = {k: (world.member_user_id if v == "member" else v) for k, v in options.items()}
    before = await snapshot_tables(running)
    for locale, expected in (("ko", "관리자만"), ("en-US", "Only study admins")):
        reply = await ask(running.standin, command, opts, locale=locale)
        assert reply.ephemeral and expected in reply.content
    assert await snapshot_tables(running) == before


async def test_admin_edits_apply_with_an_audit_row_each(running: OfflineBot) -> None:
    standin = running.standin
    world = standin.defaults
    assert world is not None
    steps: list[tuple[str, dict[str, Any], str]] = [
        ("admin roster add", {"name": "홍길동", "github": "https://github.com/hong"}, "roster.add"),
        ("admin roster edit", {"name": "홍길동", "blog": "https://hong.blog"}, "roster.edit"),
        ("admin roster link", {"name": "홍길동", "user": world.member_user_id}, "roster.link"),
        ("admin curriculum set-topic", {"week": 2, "title": "선형 회귀 집중"}, "curriculum.set_topic"),
        (
            "admin curriculum add-material",
            {"title": "추가 읽을거리", "url": "https://example.com/a", "week": 2, "kind": "article"},
            "curriculum.add_material",
        ),
        ("admin curriculum remove-material", {"item": "1", "week": 2}, "curriculum.remove_material"),
        ("admin session cancel", {"date": "2026-12-24", "reason": "크리스마스 이브"}, "session.cancel"),
        ("admin session move", {"date": "2026-12-10", "new_date": "2026-12-11", "new_time": "20:00"}, "session.move"),
        ("admin session restore", {"date": "2026-12-24"}, "session.restore"),
        (
            "admin settings",
            {"place_url": "https://app.gather.town/app/abc/pytorch", "offsets": "1d, 2h"},
            "settings.update",
        ),
        ("admin reminders pause", {}, "reminders.pause"),
        ("admin reminders resume", {}, "reminders.resume"),
        ("admin roster remove", {"name": "홍길동"}, "roster.remove"),
    ]
    for command, options, action in steps:
        before = (await snapshot_tables(running))["audit"]
        reply = await ask(standin, command, options, user="admin")
        assert reply.ephemeral, command
        assert not reply.content.startswith("⚠️"), f"{command}: {reply.content}"
        async with running.runtime.sessionmaker() as session:
            latest = (await session.execute(select(db.AuditEntry).order_by(db.AuditEntry.id.desc()))).scalars().first()
        assert latest is not None and latest.action == action and latest.actor_id == world.admin_user_id
        assert (await snapshot_tables(running))["audit"] == before + 1
    week2 = text_of(await ask(standin, "week", {"number": 2}))
    assert "선형 회귀 집중" in week2 and "https://app.gather.town/app/abc/pytorch" in week2
    audit = await ask(standin, "admin audit", {"count": 5}, user="admin", locale="en-US")
    assert "roster.remove" in text_of(audit)
    status = text_of(await ask(standin, "admin reminders status", user="admin", locale="en-US"))
    assert "Next reminders" in status and "1d before" in status


@pytest.mark.parametrize(
    ("command", "options", "fragment"),
    [
        ("week", {"number": 42}, "1부터 9주차까지"),
        ("materials", {"week": 0}, "1부터 9주차까지"),
        ("admin roster add", {"name": "차수연"}, "이미 있습니다"),
        ("admin roster add", {"name": "가" * 101}, "최대 100자"),
        ("admin roster add", {"name": "@everyone 파티"}, "everyone"),
        ("admin roster add", {"name": "**굵게**"}, "쓸 수 없는 문자"),
        ("admin roster remove", {"name": "없는사람"}, "없습니다"),
        ("admin roster edit", {"name": "강동연", "github": "javascript:alert(1)"}, "https://"),
        ("admin curriculum add-material", {"title": "x", "url": "ftp://files.example"}, "https://"),
        ("admin curriculum set-topic", {"week": 3, "title": "<@&123> 주제"}, "쓸 수 없는 문자"),
        ("admin session cancel", {"date": "2026-12-04"}, "모임 날짜가 아닙니다"),
        ("admin session cancel", {"date": "next week"}, "YYYY-MM-DD"),
        ("admin session move", {"date": "2026-12-03", "new_date": "2026-11-30"}, "지난 시간"),
        ("admin session move", {"date": "2026-12-03", "new_date": "2020-01-01"}, "너무 멉니다"),
        ("admin settings", {"first_session": "9999-12-23"}, "너무 멉니다"),
        ("admin settings", {"offsets": ","}, "1d, 1h"),
        ("admin settings", {"offsets": "99999999999d"}, "1d, 1h"),
        ("admin settings", {"role": "everyone"}, "everyone"),
        ("admin curriculum set-topic", {"week": 3000000000, "title": "x"}, "주차까지"),
        ("admin settings", {"offsets": "every day"}, "1d, 1h"),
        ("admin settings", {"time": "25:00"}, "HH:MM"),
    ],
)
async def test_bad_input_gets_a_clear_ephemeral_answer_and_changes_nothing(
    running: OfflineBot, command: str, options: dict[str, Any], fragment: str
) -> None:
    world = running.standin.defaults
    assert world is not None
    if options.get("role") == "everyone":
        options = {**options, "role": world.everyone_role_id}
    before = await snapshot_tables(running)
    reply = await ask(running.standin, command, options, user="admin")
    assert reply.ephemeral
    assert reply.content.startswith("⚠️") and fragment in reply.content, reply.content
    assert await snapshot_tables(running) == before


async def test_commands_sync_once_then_only_when_changed(running: OfflineBot, tmp_path: Any) -> None:
    from bot.offline import start_bot

    standin = running.standin
    assert standin.sync_count() == 1
    names = {c["name"] for c in standin.commands()}
    assert names == {
        "week",
        "materials",
        "schedule",
        "next",
        "roster",
        "calendar",
        "admin",
        "log",
        "progress",
        "guide",
        "web",
        "privacy",
    }
    admin = next(c for c in standin.commands() if c["name"] == "admin")
    assert int(admin["default_member_permissions"]) == 1 << 5
    assert next(c for c in standin.commands() if c["name"] == "week")["name_localizations"]["ko"] == "주차"
    await running.bot.close()
    await running.runtime.close()
    again = await start_bot(running.config_path, standin=standin, clock=running.runtime.clock)
    try:
        assert standin.sync_count() == 1
        assert "1주차" in text_of(await ask(standin, "week"))
    finally:
        await again.stop()


async def test_commands_answered_after_a_gateway_drop(running: OfflineBot) -> None:
    standin = running.standin
    await standin.drop_gateway(mode="close", code=4000)
    await standin.wait_for_session(resumes=1, timeout=15)
    assert "1주차" in text_of(await ask(standin, "week"))
    await standin.drop_gateway(mode="abort")
    await standin.wait_for_session(resumes=2, timeout=20)
    assert "Week 1" in text_of(await ask(standin, "week", locale="en-US"))


async def test_session_date_autocomplete_offers_upcoming_sessions_in_the_readers_language(running: OfflineBot) -> None:
    world = running.standin.defaults
    assert world is not None
    for locale, label in (("ko", "2026-12-03 (1주차)"), ("en-US", "2026-12-03 (week 1)")):
        handle = await running.standin.invoke(
            "admin session cancel", {"date": "2026-12"}, user_id=world.admin_user_id, locale=locale, focused="date"
        )
        response = await handle.wait_response(timeout=10)
        choices = (response.data or {})["choices"]
        assert choices[0] == {"name": label, "value": "2026-12-03"}
        assert [c["value"] for c in choices] == ["2026-12-03", "2026-12-10", "2026-12-17", "2026-12-24", "2026-12-31"]
