"""Two studies in two servers on one bot, end to end through the stand-in: what each server asks, edits and
is reminded of stays in that server, and an admin of one server is a plain member in the other."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from sqlalchemy import func, select

from bot.clock import ShiftedClock
from bot.core.definition import dump_definition, load_definition
from bot.db import models as db
from bot.offline import BUNDLED_STUDY, OfflineBot, start_bot
from standin import MessageRecord, StandIn
from tests.e2e.test_commands import text_of

pytestmark = pytest.mark.e2e

WEEK1 = datetime(2026, 12, 3, 0, 0, tzinfo=UTC)  # Thursday 09:00 KST, both studies
DAY_BEFORE = WEEK1 - timedelta(days=1)  # the "1d" reminder
B_TOPIC = "B반 텐서 첫걸음"


@dataclass
class Server:
    guild_id: int
    channel_id: int
    study_role_id: int
    admin_id: int
    member_id: int


@dataclass
class TwoServers:
    offline: OfflineBot
    clock: ShiftedClock
    a: Server
    b: Server

    @property
    def standin(self) -> StandIn:
        return self.offline.standin

    async def ask(
        self, server: Server, command: str, options: dict[str, Any] | None = None, *, user: int, locale: str = "ko"
    ) -> MessageRecord:
        handle = await self.standin.invoke(
            command, options or {}, user_id=user, guild_id=server.guild_id, locale=locale
        )
        reply = await handle.wait_reply(timeout=10)
        assert reply.pings.nobody
        return reply

    async def study_id(self, server: Server) -> int:
        snap = self.offline.runtime.directory.by_guild(server.guild_id)
        assert snap is not None
        return snap.id

    async def rows(self, model: type[db.Base], server: Server) -> int:
        study_id = await self.study_id(server)
        async with self.offline.runtime.sessionmaker() as session:
            query = select(func.count()).select_from(model).filter_by(study_id=study_id)
            return int((await session.execute(query)).scalar_one())


def second_study(path: Path) -> Path:
    """The bundled study with its own week 1 topic, so the two servers' answers can be told apart."""
    definition = load_definition(BUNDLED_STUDY)
    weeks = (replace(definition.weeks[0], title=B_TOPIC, title_en="B class: first steps"), *definition.weeks[1:])
    path.write_text(dump_definition(replace(definition, name="B반 스터디", weeks=weeks)), encoding="utf-8")
    return path


@pytest.fixture
async def two(tmp_path: Path, standin: StandIn) -> AsyncIterator[TwoServers]:
    world = standin.defaults
    assert world is not None
    a = Server(world.guild_id, world.channel_id, world.study_role_id, world.admin_user_id, world.member_user_id)
    owner_b = standin.add_user("owner-b")
    guild_b = standin.add_guild(name="Study Group B", owner_id=owner_b, locale="ko")
    channel_b = standin.add_channel(guild_b, "study-b")
    role_b = standin.add_role(guild_b, "Study B")
    b = Server(
        guild_id=guild_b,
        channel_id=channel_b,
        study_role_id=role_b,
        admin_id=standin.add_member(guild_b, name="admin-b", admin=True, roles=[role_b]),
        member_id=standin.add_member(guild_b, name="member-b", roles=[role_b]),
    )
    # A's admin is also in B, as a plain member of that study.
    standin.add_member(guild_b, a.admin_id, roles=[role_b])
    studies = [
        {
            "guild_id": server.guild_id,
            "definition": str(definition),
            "reminder_channel_id": server.channel_id,
            "ping_role_id": server.study_role_id,
        }
        for server, definition in ((a, BUNDLED_STUDY), (b, second_study(tmp_path / "b.toml")))
    ]
    config = tmp_path / "config.toml"
    config.write_text(
        tomli_w.dumps(
            {
                "discord": {
                    "token": standin.app.token,
                    "api_base_url": standin.api_base_url,
                    "gateway_url": standin.gateway_url,
                },
                "database": {"url": f"sqlite+aiosqlite:///{tmp_path / 'studybot.db'}"},
                "logging": {"level": "WARNING"},
                "study": studies,
            }
        ),
        encoding="utf-8",
    )
    clock = ShiftedClock()
    clock.set(DAY_BEFORE - timedelta(hours=3))
    offline = await start_bot(config, standin=standin, clock=clock, backoff_base=0.05)
    try:
        yield TwoServers(offline, clock, a, b)
    finally:
        await offline.stop()


async def test_each_server_reads_its_own_study(two: TwoServers) -> None:
    week_a = text_of(await two.ask(two.a, "week", user=two.a.member_id))
    week_b = text_of(await two.ask(two.b, "week", user=two.b.member_id))
    assert "1주차 · 파이토치(PyTorch) 기본 익히기" in week_a and B_TOPIC not in week_a
    assert B_TOPIC in week_b and "1주차 · 파이토치" not in week_b
    schedule_b = text_of(await two.ask(two.b, "schedule", user=two.b.member_id))
    assert B_TOPIC in schedule_b


async def test_edits_in_one_server_never_reach_the_other(two: TwoServers) -> None:
    a, b = two.a, two.b
    audits_b = await two.rows(db.AuditEntry, b)
    await two.ask(a, "admin roster add", {"name": "에이반신입"}, user=a.admin_id)
    await two.ask(a, "admin curriculum set-topic", {"week": 2, "title": "에이반 2주차"}, user=a.admin_id)
    await two.ask(a, "admin reminders pause", user=a.admin_id)
    await two.ask(b, "admin roster add", {"name": "비반신입"}, user=b.admin_id)
    roster_a = text_of(await two.ask(a, "roster", user=a.member_id))
    roster_b = text_of(await two.ask(b, "roster", user=b.member_id))
    assert "에이반신입" in roster_a and "비반신입" not in roster_a
    assert "비반신입" in roster_b and "에이반신입" not in roster_b
    assert "에이반 2주차" in text_of(await two.ask(a, "week", {"number": 2}, user=a.member_id))
    assert "에이반 2주차" not in text_of(await two.ask(b, "week", {"number": 2}, user=b.member_id))
    snap_a = two.offline.runtime.directory.by_guild(a.guild_id)
    snap_b = two.offline.runtime.directory.by_guild(b.guild_id)
    assert snap_a is not None and snap_a.paused
    assert snap_b is not None and not snap_b.paused
    assert await two.rows(db.AuditEntry, b) == audits_b + 1
    audit_b = text_of(await two.ask(b, "admin audit", {"count": 10}, user=b.admin_id, locale="en-US"))
    assert "비반신입" in audit_b and "에이반" not in audit_b and "reminders.pause" not in audit_b


async def test_an_admin_of_one_server_cannot_change_the_other(two: TwoServers) -> None:
    a, b = two.a, two.b
    before = {model: await two.rows(model, b) for model in (db.Member, db.AuditEntry, db.SessionChange)}
    attempts: list[tuple[str, dict[str, Any]]] = [
        ("admin roster add", {"name": "침입자"}),
        ("admin roster remove", {"name": "강동연"}),
        ("admin session cancel", {"date": "2026-12-03"}),
        ("admin settings", {"time": "20:00"}),
        ("admin reminders pause", {}),
        ("admin audit", {}),
    ]
    for command, options in attempts:
        reply = await two.ask(b, command, options, user=a.admin_id)
        assert reply.ephemeral and "관리자만" in reply.content, (command, reply.content)
    assert {model: await two.rows(model, b) for model in before} == before
    snap_b = two.offline.runtime.directory.by_guild(b.guild_id)
    assert snap_b is not None and not snap_b.paused and snap_b.recurrence.start_time.hour == 9
    # The same person still administers their own server.
    reply = await two.ask(a, "admin roster add", {"name": "에이반신입"}, user=a.admin_id)
    assert not reply.content.startswith("⚠️"), reply.content


async def test_reminders_and_cancellations_go_to_their_own_server(two: TwoServers) -> None:
    a, b = two.a, two.b
    standin = two.standin
    # B cancels week 1; A keeps it. When the 1-day reminder falls due, A is reminded and B told it is off.
    await two.ask(b, "admin session cancel", {"date": "2026-12-03", "reason": "비반 휴강"}, user=b.admin_id)
    two.clock.set(DAY_BEFORE - timedelta(seconds=1))
    await two.offline.bot.reminders.rearm_all()
    await standin.wait_until(
        lambda: len(standin.messages(a.channel_id)) >= 1 and len(standin.messages(b.channel_id)) >= 1, timeout=15
    )
    await two.offline.bot.reminders.drain()
    async with two.offline.runtime.sessionmaker() as session:
        rows = list((await session.execute(select(db.Delivery).order_by(db.Delivery.study_id))).scalars())
    by_study = {(r.study_id, r.kind, r.status) for r in rows}
    assert by_study == {(await two.study_id(a), "remind:1440", "sent"), (await two.study_id(b), "cancelled", "sent")}
    [to_a] = standin.messages(a.channel_id)
    [to_b] = standin.messages(b.channel_id)
    assert to_a.pings.roles == frozenset({a.study_role_id}) and to_b.pings.roles == frozenset({b.study_role_id})
    assert "1주차 · 파이토치(PyTorch) 기본 익히기" in text_of(to_a) and "취소" not in text_of(to_a)
    assert "취소되었습니다" in text_of(to_b) and "비반 휴강" in text_of(to_b)
    assert {r.message_id for r in rows} == {to_a.id, to_b.id}


async def test_server_events_follow_each_servers_own_sessions(two: TwoServers) -> None:
    a, b = two.a, two.b
    standin = two.standin
    await standin.wait_until(
        lambda: len(standin.scheduled_events(a.guild_id)) == 4 and len(standin.scheduled_events(b.guild_id)) == 4,
        timeout=20,
    )

    def by_start(guild_id: int) -> list[tuple[str, str, str]]:
        events = standin.scheduled_events(guild_id)
        return sorted((e["scheduled_start_time"][:16], e["name"], e["id"]) for e in events)

    events_a = by_start(a.guild_id)
    assert B_TOPIC in by_start(b.guild_id)[0][1] and all(B_TOPIC not in name for _, name, _ in events_a)
    await two.ask(b, "admin session cancel", {"date": "2026-12-10"}, user=b.admin_id)
    await standin.wait_until(
        lambda: all(not start.startswith("2026-12-10") for start, _, _ in by_start(b.guild_id)), timeout=20
    )
    assert by_start(a.guild_id) == events_a  # A's session on 2026-12-10 and its event are untouched
    assert any(start.startswith("2026-12-10") for start, _, _ in events_a)
