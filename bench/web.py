"""Web page benchmarks: page latency at N studies, and `/week` while the page is under load.

Run from the repository root::

    .venv/bin/python bench/web.py                  # 1,000 studies (seeding them takes a minute or two)
    .venv/bin/python bench/web.py --studies 50 --requests 200 --week-requests 100    # quick look

What is measured (the real bot started through `bot.offline.start_bot`, i.e. `studybot run`'s own path, with a
`[web]` section listening on a free local port, against the local Discord stand-in):

1. Page latency: every study's page turned on, then `--requests` GETs of pages of random studies, one at a
   time, from a separate client process. "first view" is each study's first request (the page is rendered);
   "all" includes repeats within the same minute (served from the render cache). No request touches the
   database: the server reads the in-memory snapshots.
2. `/week` p99 idle, then `/week` p99 while a separate process keeps 200 page requests in flight all the time
   (a new one starts as soon as one ends), and the ratio. `/week` latency = stand-in dispatch of
   INTERACTION_CREATE → stand-in receiving the callback, as in `bench/run.py`.

Load generators run in their own processes (as real readers are other machines). Only 127.0.0.1 is contacted.
Prints a table and writes JSON to `bench/web-results.json` (`--json PATH`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from sqlalchemy import select  # noqa: E402

from bench.run import (  # noqa: E402
    START_NOW,
    build_world,
    channel_id_of,
    clock_at,
    guild_id_of,
    machine,
    percentile,
    role_id_of,
    summary_ms,
    unpace_events,
    wait_quiet,
)
from bot.db import models as db  # noqa: E402
from bot.offline import BUNDLED_STUDY, start_bot, write_config  # noqa: E402
from bot.web.service import new_token  # noqa: E402
from standin import StandIn  # noqa: E402

CONCURRENT_PAGES = 200


# --- load generators (child processes) ---------------------------------------------------------------------
def _sequential_pages(urls: list[str], out: Any) -> None:
    async def run() -> list[tuple[float, bool]]:
        seen: set[str] = set()
        timings: list[tuple[float, bool]] = []
        async with aiohttp.ClientSession() as http:
            for url in urls:
                started = time.perf_counter()
                async with http.get(url) as response:
                    await response.read()
                    assert response.status == 200, response.status
                timings.append(((time.perf_counter() - started) * 1000, url not in seen))
                seen.add(url)
        return timings

    out.send(asyncio.run(run()))


def _concurrent_pages(urls: list[str], stop: Any, ready: Any, out: Any) -> None:
    async def run() -> dict[str, Any]:
        done = 0
        failed = 0
        timings: list[float] = []
        connector = aiohttp.TCPConnector(limit=CONCURRENT_PAGES)
        async with aiohttp.ClientSession(connector=connector) as http:

            async def worker(offset: int) -> None:
                nonlocal done, failed
                i = offset
                while not stop.is_set():
                    started = time.perf_counter()
                    try:
                        async with http.get(urls[i % len(urls)]) as response:
                            await response.read()
                            if response.status != 200:
                                failed += 1
                    except aiohttp.ClientError:
                        failed += 1
                    timings.append((time.perf_counter() - started) * 1000)
                    done += 1
                    if done == CONCURRENT_PAGES:
                        ready.set()
                    i += CONCURRENT_PAGES

            await asyncio.gather(*(worker(k) for k in range(CONCURRENT_PAGES)))
        return {"requests": done, "failed": failed, "ms": timings}

    out.send(asyncio.run(run()))


# --- the bot side -------------------------------------------------------------------------------------------
async def seed(path: Path, studies: int) -> None:
    from bench.run import scenario_seed

    await scenario_seed(argparse.Namespace(db=str(path), studies=studies))


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="studybot-bench-web-"))
    database = Path(args.db) if args.db else workdir / "web.db"
    if not database.exists():
        print(f"seeding {args.studies} studies into {database} …", flush=True)
        await seed(database, args.studies)
    standin = StandIn(seed=False)
    await standin.start()
    world = build_world(standin, args.studies)
    config = write_config(
        workdir / "config.toml",
        standin=standin,
        database=database,
        definition=BUNDLED_STUDY,
        guild_id=guild_id_of(0),
        channel_id=channel_id_of(0),
        ping_role_id=role_id_of(0),
        web_listen="127.0.0.1:0",
    )
    offline = await start_bot(config, standin=standin, clock=clock_at(START_NOW), ready_within=120)
    result: dict[str, Any] = {"studies": args.studies}
    try:
        unpace_events(offline)
        await wait_quiet(standin, quiet=1.0, within=600)
        web = offline.bot.web
        assert web is not None and web.server is not None
        # Every study's page on (set-up only: written in bulk, then loaded as the bot would at start).
        now = datetime.now(UTC)
        async with offline.runtime.sessionmaker() as session, session.begin():
            ids = list((await session.execute(select(db.Study.id))).scalars())
            existing = set((await session.execute(select(db.WebPage.study_id))).scalars())
            session.add_all(
                db.WebPage(study_id=i, token=new_token(), enabled=True, public=False, created_at=now, updated_at=now)
                for i in ids
                if i not in existing
            )
        await web.reload_pages()  # the page process gets them too
        urls = []
        for study_id in ids:
            links = web.live_links(study_id)
            assert links is not None
            urls.append(links.page)
        rng = random.Random(7)
        sample = [rng.choice(urls) for _ in range(args.requests)]
        ctx = multiprocessing.get_context("spawn")

        receive, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_sequential_pages, args=(sample, send))
        proc.start()
        timings = await asyncio.to_thread(receive.recv)
        proc.join()
        first = [ms for ms, is_first in timings if is_first]
        result["page_ms_all"] = summary_ms([ms for ms, _ in timings])
        result["page_ms_first_view"] = summary_ms(first)

        async def week_run(count: int) -> list[float]:
            values = []
            for i in range(count):
                handle = await standin.invoke(
                    "week", {}, guild_id=world.guilds[i % len(world.guilds)], locale=("ko", "en-US")[i % 2]
                )
                record = await handle.wait_response(timeout=10)
                assert record.accepted and record.latency is not None
                values.append(record.latency * 1000)
            return values

        await week_run(20)  # warm-up
        idle = await week_run(args.week_requests)
        stop, ready = ctx.Event(), ctx.Event()
        receive, send = ctx.Pipe(duplex=False)
        load = ctx.Process(target=_concurrent_pages, args=(urls, stop, ready, send))
        load.start()
        if not await asyncio.to_thread(ready.wait, 60):  # the first 200 pages are served: the load is on
            raise RuntimeError("the page load generator did not get going")
        loaded = await week_run(args.week_requests)
        stop.set()
        pages = await asyncio.to_thread(receive.recv)
        load.join()
        result["week_idle_ms"] = summary_ms(idle)
        result["week_under_page_load_ms"] = summary_ms(loaded)
        result["week_p99_ratio"] = round(percentile(loaded, 99) / percentile(idle, 99), 2)
        result["page_load"] = {
            "concurrent": CONCURRENT_PAGES,
            "requests": pages["requests"],
            "failed": pages["failed"],
            "ms": summary_ms(pages["ms"]),
        }
    finally:
        await offline.stop()
        await standin.stop()
    return result


def table(report: dict[str, Any]) -> str:
    r = report["result"]
    rows = [
        ("page p99, first view (rendered)", f"{r['page_ms_first_view']['p99']:.2f} ms", "≤ 20 ms"),
        ("page p99, all requests", f"{r['page_ms_all']['p99']:.2f} ms", "≤ 20 ms"),
        ("/week p99 idle", f"{r['week_idle_ms']['p99']:.2f} ms", ""),
        (f"/week p99, {CONCURRENT_PAGES} pages in flight", f"{r['week_under_page_load_ms']['p99']:.2f} ms", ""),
        ("/week p99 ratio (load / idle)", f"{r['week_p99_ratio']:.2f}×", "≤ 1.5×"),
        ("pages served during the /week run", f"{r['page_load']['requests']} ({r['page_load']['failed']} failed)", ""),
    ]
    width = max(len(a) for a, _, _ in rows)
    lines = [f"web benchmark — {r['studies']} studies"]
    lines += [f"  {a.ljust(width)}  {b:>14}  {c}" for a, b, c in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=3000, help="sequential page requests")
    parser.add_argument("--week-requests", type=int, default=300, help="/week requests, idle and under load")
    parser.add_argument("--db", default="", help="a seeded SQLite file to reuse (created if missing)")
    parser.add_argument("--json", default=str(ROOT / "bench" / "web-results.json"))
    args = parser.parse_args(argv)
    result = asyncio.run(measure(args))
    report = {"machine": machine(), "result": result}
    Path(args.json).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(table(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
