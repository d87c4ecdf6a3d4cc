"""Edits reach the other processes within moments: PostgreSQL NOTIFY on commit, LISTEN in every process.

Every committed edit of a study raises its revision through `Service.audit`, which marks the study's server
on the session (`mark_changed`). Just before that transaction commits, one `pg_notify('studybot_study',
'<guild id>')` per marked server is issued in it — PostgreSQL delivers a notification only when (and if)
its transaction commits, so listeners never hear of an edit that was rolled back, nor before it is visible.

Each serving process keeps one extra connection that LISTENs (`EditListener`): a notification for a server
it owns refreshes that study (one query compares the revision). If that connection is lost it reconnects,
and after every (re)connection compares every owned study's revision once, catching what was published while
it was not listening. The periodic revision poll (`database.reload_seconds`) stays as the fallback. SQLite
has neither NOTIFY nor other processes: nothing is sent or listened for there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.orm import Session

from bot.services.directory import StudyDirectory

log = logging.getLogger(__name__)

CHANNEL = "studybot_study"
_PENDING = "studybot_changed_guilds"


def mark_changed(session: Any, guild_id: int) -> None:
    """Announce this study's server to the other processes when `session`'s transaction commits
    (`session`: an AsyncSession or a Session)."""
    info = session.info
    pending: set[int] = info.setdefault(_PENDING, set())
    pending.add(guild_id)


@event.listens_for(Session, "before_commit")
def _notify_before_commit(session: Session) -> None:
    pending: set[int] | None = session.info.pop(_PENDING, None)
    if not pending:
        return
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for guild_id in sorted(pending):
        session.execute(text("SELECT pg_notify(:channel, :payload)"), {"channel": CHANNEL, "payload": str(guild_id)})


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


def asyncpg_dsn(url: str) -> str | None:
    """The plain DSN asyncpg connects with, or None for databases without NOTIFY (SQLite)."""
    prefix = "postgresql+asyncpg://"
    return "postgresql://" + url[len(prefix) :] if url.startswith(prefix) else None


class EditListener:
    """LISTEN for edits made through other processes and refresh the owned studies they name."""

    def __init__(
        self,
        dsn: str,
        directory: StudyDirectory,
        *,
        retry_seconds: float = 1.0,
        check_seconds: float = 15.0,
    ) -> None:
        self.dsn = dsn
        self.directory = directory
        self.retry_seconds = retry_seconds
        self.check_seconds = check_seconds  # how often an idle connection is checked to be alive
        self.connections = 0  # successful (re)connections, for tests and the logs
        self.received = 0
        self._task: asyncio.Task[None] | None = None
        self._connection: Any = None
        self._lost = asyncio.Event()
        self._refreshing: set[asyncio.Task[None]] = set()
        self.listening = asyncio.Event()

    async def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="studybot:listen")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for pending in list(self._refreshing):
            pending.cancel()
        await asyncio.gather(*self._refreshing, return_exceptions=True)
        await self._close()

    async def _close(self) -> None:
        connection, self._connection = self._connection, None
        self.listening.clear()
        if connection is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), timeout=2)

    async def _run(self) -> None:
        import asyncpg  # type: ignore[import-untyped]

        first = True
        while True:
            try:
                self._lost.clear()
                self._connection = await asyncpg.connect(self.dsn)
                self._connection.add_termination_listener(lambda _conn: self._lost.set())
                await self._connection.add_listener(CHANNEL, self._on_notification)
                self.connections += 1
                self.listening.set()
                if not first:
                    log.info("listening for edits again; comparing every study's revision once")
                    await self.directory.reload_changed()
                first = False
                while not self._lost.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._lost.wait(), timeout=self.check_seconds)
                    if not self._lost.is_set():
                        await asyncio.wait_for(self._connection.execute("SELECT 1"), timeout=self.check_seconds)
                log.warning("the connection listening for edits was lost; reconnecting")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "listening for edits failed (%s); retrying in %.0f s", type(exc).__name__, self.retry_seconds
                )
            await self._close()
            await asyncio.sleep(self.retry_seconds)

    def _on_notification(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            guild_id = int(payload)
        except ValueError:
            return
        self.received += 1
        task = asyncio.get_running_loop().create_task(self._refresh(guild_id))
        self._refreshing.add(task)
        task.add_done_callback(self._refreshing.discard)

    async def _refresh(self, guild_id: int) -> None:
        try:
            await self.directory.changed_guild(guild_id)
        except Exception:
            log.exception("could not refresh the study of server %s after an edit elsewhere", guild_id)
