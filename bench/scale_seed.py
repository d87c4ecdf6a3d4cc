"""Seeding for `bench/scale.py`: a throwaway PostgreSQL database with N *distinct* studies, fast.

The bundled study is imported once through the bot's own services (so every column holds what the bot
writes), then its rows are copied N times with asyncpg's COPY — each copy with its own name, place, member
names and links, week topics and material titles and links, so no two studies share their text.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy import delete, select

from bot.clock import FrozenClock
from bot.config import Settings
from bot.core.definition import load_definition
from bot.db import models as db
from bot.offline import BUNDLED_STUDY
from bot.runtime import open_runtime
from bot.services.base import Actor

SEED_NOW = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)  # studies are created on Monday
TEMPLATE_GUILD = 1  # a server id no shard plan in the bench gives to a process with studies (deleted after)
TOPICS = (
    "파이토치",
    "PyTorch",
    "CS231n",
    "알고리즘",
    "Rust",
    "선형대수",
    "통계",
    "React",
    "Kubernetes",
    "논문 읽기",
    "NLP",
    "강화학습",
)
TABLES = ("study", "member", "curriculum_week", "material", "session_change")


def asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def create_database(server_url: str) -> str:
    """A new empty database on the server of `server_url`; its SQLAlchemy URL."""
    name = f"studybot_scale_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(asyncpg_dsn(server_url))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return server_url.rsplit("/", 1)[0] + "/" + name


async def drop_database(server_url: str, url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(asyncpg_dsn(server_url))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def template_rows(url: str) -> dict[str, list[dict[str, Any]]]:
    """Migrate the database, import the bundled study once, read its rows, delete it again."""
    runtime = await open_runtime(Settings(token="", database_url=url), clock=FrozenClock(SEED_NOW))
    try:
        await runtime.services.definitions.import_definition(
            guild_id=TEMPLATE_GUILD, definition=load_definition(BUNDLED_STUDY), actor=Actor.cli()
        )
        out: dict[str, list[dict[str, Any]]] = {}
        async with runtime.sessionmaker() as session, session.begin():
            for name in TABLES:
                table = db.Base.metadata.tables[name]
                order = table.c.id
                out[name] = [dict(row._mapping) for row in (await session.execute(select(table).order_by(order))).all()]
            await session.execute(delete(db.Study.__table__))
            await session.execute(delete(db.AuditEntry.__table__))
    finally:
        await runtime.close()
    return out


def _vary(text: str, i: int, salt: str) -> str:
    return f"{text} {salt}{i}" if text else text


def study_copies(
    template: dict[str, list[dict[str, Any]]], servers: Sequence[tuple[int, int]]
) -> dict[str, list[dict[str, Any]]]:
    """Rows of one study per (guild id, reminder channel id), all distinct. Ids are assigned here."""
    (study,) = template["study"]
    out: dict[str, list[dict[str, Any]]] = {name: [] for name in TABLES}
    counters = dict.fromkeys(TABLES, 0)

    def next_id(name: str) -> int:
        counters[name] += 1
        return counters[name]

    for i, (guild_id, channel_id) in enumerate(servers):
        topic = TOPICS[i % len(TOPICS)]
        sid = next_id("study")
        out["study"].append(
            {
                **study,
                "id": sid,
                "guild_id": guild_id,
                "name": f"{topic} 스터디 #{i}",
                "description": f"{topic} 함께 공부하는 모임 {i}",
                "reminder_channel_id": channel_id,
                "location_url": f"https://app.gather.town/app/s{i}/room",
                "public_id": secrets.token_hex(8),
                # This benchmark measures reminders: the practice posts (nudge at the same minute) are off.
                "nudge_offset_minutes": 0,
                "recap_enabled": False,
                "checkin_post_enabled": False,
                # One study in ten carries a study guide (the bundled one, retitled).
                "guide": study["guide"].replace("파이토치", topic) if i % 10 == 0 else "",
            }
        )
        for m in template["member"]:
            out["member"].append(
                {
                    **m,
                    "id": next_id("member"),
                    "study_id": sid,
                    "name": f"{m['name']}{i}",
                    "github": f"https://github.com/m{m['id']}s{i}" if (i + m["id"]) % 3 == 0 else "",
                    "blog": f"https://blog.example.org/@m{m['id']}s{i}" if (i + m["id"]) % 5 == 0 else "",
                }
            )
        week_ids: dict[int, int] = {}
        for w in template["curriculum_week"]:
            wid = next_id("curriculum_week")
            week_ids[w["id"]] = wid
            out["curriculum_week"].append(
                {
                    **w,
                    "id": wid,
                    "study_id": sid,
                    "title": _vary(w["title"], i, "· "),
                    "title_en": _vary(w["title_en"], i, "· "),
                }
            )
        for mat in template["material"]:
            out["material"].append(
                {
                    **mat,
                    "id": next_id("material"),
                    "study_id": sid,
                    "week_id": None if mat["week_id"] is None else week_ids[mat["week_id"]],
                    "title": _vary(mat["title"], i, "#"),
                    "title_en": _vary(mat["title_en"], i, "#"),
                    "url": f"{mat['url']}{'&' if '?' in mat['url'] else '?'}s={i}",
                }
            )
    return out


def _naive(value: Any) -> Any:
    # UTCDateTime stores UTC without an offset; COPY writes the value as given.
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


async def copy_rows(url: str, rows: dict[str, list[dict[str, Any]]]) -> dict[str, int]:
    """COPY every table's rows, then move the id sequences past them."""
    conn = await asyncpg.connect(asyncpg_dsn(url))
    counts: dict[str, int] = {}
    try:
        async with conn.transaction():
            for name in TABLES:
                table_rows = rows[name]
                counts[name] = len(table_rows)
                if not table_rows:
                    continue
                columns = list(table_rows[0])
                records = [tuple(_naive(r[c]) for c in columns) for r in table_rows]
                await conn.copy_records_to_table(name, records=records, columns=columns)
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))"
                )
    finally:
        await conn.close()
    return counts


def reminder_time(template: dict[str, list[dict[str, Any]]]) -> datetime:
    """When every seeded study's first "1 day before" reminder is due (the bundled study: Wednesday 09:00 KST)."""
    (study,) = template["study"]
    hours, minutes = (int(part) for part in study["start_time"].split(":"))
    from zoneinfo import ZoneInfo

    first = datetime.combine(study["first_session"], datetime.min.time(), ZoneInfo(study["timezone"]))
    first = first.replace(hour=hours, minute=minutes).astimezone(UTC)
    return first - timedelta(days=1)
