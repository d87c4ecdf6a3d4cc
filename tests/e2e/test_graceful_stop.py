"""`studybot run` as a service manager stops it: SIGTERM or SIGINT, as a separate process against the stand-in.

The study is shaped (as in test_crash_restart) so that a reminder is due the moment the process starts; the
stand-in holds that send in flight by answering it with a 429 and a Retry-After, which discord.py waits out
before trying again. A stop must start nothing new, let the send in flight finish and be marked (or leave it
`claimed` for the next start), close the database and exit 0 within a bounded time; a second signal exits at
once.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from bot.runtime import SHUTDOWN_GRACE, SHUTDOWN_LIMIT
from standin import StandIn
from tests.conftest import POSTGRES_URL
from tests.e2e import procs
from tests.e2e.procs import MESSAGES, spawn, text_of, wait_for_log
from tests.e2e.test_crash_restart import ledger, prepare_study

# The bounded time a stop may take, measured from the signal: the limit plus Python's own exit.
STOP_BOUND = SHUTDOWN_LIMIT + 4.0


async def stopped(process: asyncio.subprocess.Process, signum: int) -> tuple[int, float]:
    """Send `signum`; return the exit code and the seconds it took."""
    return await procs.stopped(process, signum, timeout=STOP_BOUND + 10)


async def held_send(tmp_path: Path, standin: StandIn, retry_after: float) -> tuple[Path, str]:
    """A study with a reminder due now, whose first send the stand-in holds for `retry_after` seconds."""
    world = standin.defaults
    assert world is not None
    config = await prepare_study(tmp_path, standin)
    config.write_text(config.read_text(encoding="utf-8").replace('"WARNING"', '"INFO"'), encoding="utf-8")
    standin.faults.rate_limit("POST", MESSAGES, count=1, retry_after=retry_after)
    return config, f"/channels/{world.channel_id}/messages"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_a_send_in_flight_finishes_is_marked_and_the_process_exits_0(
    tmp_path: Path, standin: StandIn, signum: int
) -> None:
    config, path = await held_send(tmp_path, standin, retry_after=1.5)
    log = tmp_path / "bot.log"
    process = await spawn(config, log=log)
    try:
        await standin.wait_until(lambda: len(standin.requests_to("POST", path)) >= 1, timeout=30)
        code, took = await stopped(process, signum)
    finally:
        await procs.kill(process)
    assert code == 0, text_of(log)[-3000:]
    assert took < SHUTDOWN_GRACE + 4.0
    assert len(standin.messages()) == 1  # the held send went out once, after the signal
    [row] = await ledger(tmp_path)
    assert row.status == "sent" and row.message_id == standin.messages()[0].id
    assert not (tmp_path / "studybot.db-wal").exists()  # the database was closed (SQLite folds its log in)
    text = text_of(log)
    assert "stopping" in text and "stopped" in text and "Traceback" not in text


async def test_a_send_still_held_after_the_grace_stays_claimed_and_the_next_start_sends_it_once(
    tmp_path: Path, standin: StandIn
) -> None:
    config, path = await held_send(tmp_path, standin, retry_after=60.0)
    log = tmp_path / "bot.log"
    process = await spawn(config, log=log)
    try:
        await standin.wait_until(lambda: len(standin.requests_to("POST", path)) >= 1, timeout=30)
        code, took = await stopped(process, signal.SIGTERM)
    finally:
        await procs.kill(process)
    assert code == 0, text_of(log)[-3000:]
    assert SHUTDOWN_GRACE - 0.5 < took < STOP_BOUND
    [row] = await ledger(tmp_path)
    assert row.status == "claimed"  # released, not lost: the next start resumes it
    assert standin.messages() == []
    standin.faults.clear()
    again = await spawn(config, log=tmp_path / "bot2.log")
    try:
        await standin.wait_until(lambda: len(standin.messages()) == 1, timeout=30)
        code, _ = await stopped(again, signal.SIGTERM)
    finally:
        await procs.kill(again)
    assert code == 0
    [row] = await ledger(tmp_path)
    assert row.status == "sent" and len(standin.messages()) == 1


async def test_a_second_signal_exits_at_once(tmp_path: Path, standin: StandIn) -> None:
    config, path = await held_send(tmp_path, standin, retry_after=60.0)
    log = tmp_path / "bot.log"
    process = await spawn(config, log=log)
    try:
        await standin.wait_until(lambda: len(standin.requests_to("POST", path)) >= 1, timeout=30)
        process.send_signal(signal.SIGTERM)
        await wait_for_log(log, "SIGTERM: stopping")
        code, took = await stopped(process, signal.SIGINT)
    finally:
        await procs.kill(process)
    assert code == 128 + signal.SIGINT
    assert took < 2.0  # not the grace: at once
    [row] = await ledger(tmp_path)
    assert row.status == "claimed"


async def test_a_stop_while_logging_in_exits_0_not_with_an_unreachable_api_sentence(tmp_path: Path) -> None:
    """A REST endpoint that accepts the connection and never answers: the signal comes during login."""
    connected = asyncio.Event()
    held: list[asyncio.StreamWriter] = []

    async def silent(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        connected.set()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    config = tmp_path / "config.toml"
    config.write_text(
        f'[discord]\ntoken = "a-token-of-some-length"\napi_base_url = "http://127.0.0.1:{port}/api/v10"\n\n'
        '[logging]\nlevel = "INFO"\n\n[[study]]\nguild_id = 5\n',
        encoding="utf-8",
    )
    log = tmp_path / "bot.log"
    process = await spawn(config, log=log)
    try:
        await asyncio.wait_for(connected.wait(), timeout=30)  # the login request is in flight
        code, took = await stopped(process, signal.SIGTERM)
    finally:
        await procs.kill(process)
        for writer in held:
            writer.close()
        server.close()
    assert code == 0, text_of(log)[-3000:]
    assert took < STOP_BOUND
    assert "cannot be reached" not in text_of(log) and "stopped" in text_of(log)


@pytest.mark.skipif(not POSTGRES_URL, reason="PostgreSQL not configured: set STUDYBOT_TEST_POSTGRES_URL")
async def test_a_stop_while_migrating_lets_the_migration_finish_and_exits_0(tmp_path: Path) -> None:
    """The migration waits on the advisory lock this test holds: a deterministic window to send SIGTERM in."""
    import asyncpg

    from bot.db.migrate import MIGRATION_LOCK_KEY

    async with procs.throwaway_database(POSTGRES_URL) as url:
        holder = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        await holder.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
        config = tmp_path / "config.toml"
        config.write_text(
            '[discord]\ntoken = "a-token-of-some-length"\napi_base_url = "http://127.0.0.1:9/api/v10"\n\n'
            f'[database]\nurl = "{url}"\n\n'
            '[logging]\nlevel = "INFO"\n\n[[study]]\nguild_id = 5\n',
            encoding="utf-8",
        )
        log = tmp_path / "bot.log"
        process = await spawn(config, log=log)
        try:
            for _ in range(600):  # the process is waiting for the lock: the positive signal to stop it
                waiting = await holder.fetchval(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                )
                if waiting:
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the process never waited for the migration lock:\n" + text_of(log)[-3000:])
            process.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.2)  # the signal is recorded while the migration still waits
            await holder.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
            code = await asyncio.wait_for(process.wait(), timeout=60)
            at_head = await holder.fetchval("SELECT version_num FROM alembic_version")
        finally:
            await procs.kill(process)
            await holder.close()
    assert code == 0, text_of(log)[-3000:]
    assert "stopped before connecting" in text_of(log)
    assert at_head is not None  # the migration was not cut short: the database is at a version
