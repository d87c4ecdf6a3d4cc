"""Running as one of several processes: the sharded client, and the guard that keeps SQLite to one process.

Which servers a process owns is the pure rule in `bot.core.sharding`; the snapshot directory holds only
owned studies, so everything the bot posts on its own (reminders, notices, server events) comes from the
owner alone. The delivery ledger's claim still makes each post exactly once when two processes overlap
(a rolling restart).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from discord.ext import commands
from sqlalchemy.engine import make_url

from bot.app import StudyBot
from bot.config import Settings


class ShardedStudyBot(StudyBot, commands.AutoShardedBot):
    """The same bot on discord.py's AutoShardedClient: one gateway connection per shard it was given."""

    def __init__(self, *, shard_ids: list[int], shard_count: int, **kwargs: Any) -> None:
        super().__init__(shard_ids=shard_ids, shard_count=shard_count, **kwargs)


def bot_class_options(settings: Settings) -> tuple[type[StudyBot], dict[str, Any]]:
    """The client class and its shard arguments: a plain `commands.Bot` (no shard fields) without a plan."""
    plan = settings.shards
    if plan is None:
        return StudyBot, {}
    return ShardedStudyBot, {"shard_ids": list(plan.shard_ids), "shard_count": plan.shard_count}


class DatabaseInUse(Exception):
    """Another `studybot run` already serves this SQLite file."""


def sqlite_path(database_url: str) -> Path | None:
    """The file behind a SQLite URL (None for PostgreSQL and in-memory databases)."""
    url = make_url(database_url)
    if not url.drivername.startswith("sqlite") or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


@contextlib.contextmanager
def single_sqlite_process(database_url: str) -> Iterator[None]:
    """Hold an exclusive lock on `<database>.lock` while serving: SQLite is one process's database.

    PostgreSQL URLs pass through (processes share it safely). The lock is the operating system's
    (`flock`), so it goes away with the process, even after kill -9.
    """
    path = sqlite_path(database_url)
    if path is None:
        yield
        return
    lock_path = path.with_name(path.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise DatabaseInUse(
                f"another `studybot run` (pid {holder}) is already serving the SQLite database {path}: SQLite "
                "holds one process's state, so stop that one first — or, to run several processes, move to "
                "PostgreSQL (database.url = postgresql+asyncpg://…) and give each process its shards"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock
