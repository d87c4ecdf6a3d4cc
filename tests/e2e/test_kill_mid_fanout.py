"""kill -9 in the middle of a fan-out across processes: 200 studies whose reminders fall due in the same minute,
shards of 6 over three processes on one PostgreSQL — plus a fourth process given the same shards as the first (a
rolling restart's overlap). While the reminders are being posted, one process of each kind is killed with SIGKILL
once it has posted some of its share but not all; both are started again. Every reminder is then posted exactly
once: one message per channel, one `sent` row per study.

The processes post from their scheduled wake-ups (the reminders fall due while they run) and the restarted ones
finish what the killed ones left claimed from their catch-up at start. The stand-in runs without a global rate
limit here, so the fan-out is paced by the processes themselves (their shares of the budget).
"""

from __future__ import annotations

import asyncio
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.core.sharding import shard_of
from standin import StandIn
from tests.e2e.procs import READY_LINE, kill, spawn, stopped, wait_for_log
from tests.e2e.test_several_processes import (
    SHARDS,
    due_now_definition,
    many_studies,
    move_sessions,
    sent_by_guild,
    shared_config,
    wait_all_sent,
)

pytestmark = pytest.mark.e2e
STUDIES = 200
# Time for the processes to start before the reminders fall due; one that is not up by then catches up at start.
LEAD = timedelta(seconds=40)


def next_minute_after(moment: datetime) -> datetime:
    return (moment + timedelta(minutes=1)).replace(second=0, microsecond=0)


async def kill_mid_share(
    standin: StandIn, process: asyncio.subprocess.Process, channels: list[int], *, what: str
) -> int:
    """SIGKILL `process` once its servers have some of their reminders but not all; how many they had."""
    total = len(channels)

    def posted() -> int:
        return sum(1 for c in channels if standin.messages(c))

    await standin.wait_until(lambda: posted() >= 3, timeout=240, what=f"{what}: the first posts of its share")
    process.send_signal(signal.SIGKILL)
    await process.wait()
    seen = posted()
    assert seen < total, f"{what} posted its whole share before the kill ({seen}/{total}): nothing was cut short"
    return seen


@pytest.mark.timeout(600)
async def test_kill_9_mid_fan_out_then_restart_posts_every_reminder_once(
    tmp_path: Path, standin: StandIn, pg_url: str
) -> None:
    # The sessions start an hour (and the lead) after the studies are in, on a whole minute: every 1h reminder
    # falls due at that same instant, while the processes run.
    channels = await many_studies(standin, pg_url, count=STUDIES, definition=due_now_definition(), practice_off=False)
    due = next_minute_after(datetime.now(UTC) + LEAD)
    await move_sessions(pg_url, due + timedelta(hours=1))
    config = shared_config(tmp_path / "config.toml", standin, pg_url, channels, level="INFO")
    by_shards: dict[str, list[int]] = {
        spec: [c for g, c in channels.items() if shard_of(g, SHARDS) in (first, first + 1)]
        for spec, first in (("0-1/6", 0), ("2-3/6", 2), ("4-5/6", 4))
    }
    logs = {name: tmp_path / f"{name}.log" for name in ("a", "a-twin", "b", "c")}
    specs = {"a": "0-1/6", "a-twin": "0-1/6", "b": "2-3/6", "c": "4-5/6"}
    processes = {name: await spawn(config, log=logs[name], shards=specs[name]) for name in specs}
    try:
        for name in processes:
            await wait_for_log(logs[name], READY_LINE, timeout=240)
        # All four are up before the reminders fall due (on a loaded machine a late one catches up at start).
        up_before_due = datetime.now(UTC) < due
        if up_before_due:
            assert sum(len(standin.messages(c)) for c in channels.values()) == 0

        # Mid fan-out: b (alone on its shards) and a (sharing its shards with a-twin) are killed part-way.
        seen_b, seen_a = await asyncio.gather(
            kill_mid_share(standin, processes["b"], by_shards["2-3/6"], what="b"),
            kill_mid_share(standin, processes["a"], by_shards["0-1/6"], what="a"),
        )
        ledger = await sent_by_guild(pg_url)
        unfinished = sum(rows.count("claimed") for rows in ledger.values()) + (STUDIES - len(ledger))
        # b's servers it had not posted to are nobody else's: the restart has them to finish.
        assert unfinished >= len(by_shards["2-3/6"]) - seen_b > 0
        # Both restart (as systemd's Restart= would): each finishes from its catch-up what the kill cut short.
        processes["b"] = await spawn(config, log=logs["b"], shards=specs["b"])
        processes["a"] = await spawn(config, log=logs["a"], shards=specs["a"])
        ledger = await wait_all_sent(pg_url, set(channels), timeout=300)
        assert {g: rows for g, rows in ledger.items() if rows != ["sent"]} == {}

        # Every process is stopped (SIGTERM: a send in flight gets its grace), so the channels are final.
        for process in processes.values():
            if process.returncode is None:
                await stopped(process, signal.SIGTERM, timeout=30)
    finally:
        for process in processes.values():
            await kill(process)
    per_channel = {g: len(standin.messages(c)) for g, c in channels.items()}
    assert {g: n for g, n in per_channel.items() if n != 1} == {}, "a reminder was lost or posted twice"
    ledger = await sent_by_guild(pg_url)
    assert len(ledger) == STUDIES and all(rows == ["sent"] for rows in ledger.values())
    print(
        f"killed b at {seen_b}/{len(by_shards['2-3/6'])} and a at {seen_a}/{len(by_shards['0-1/6'])} posted;"
        f" {unfinished} unfinished; all up before due: {up_before_due}"
    )
