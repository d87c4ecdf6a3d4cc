"""The web page served by a process of its own, so the bot's event loop never runs page code.

A server thread inside the bot process shares the interpreter lock with the bot's loop: 200 readers at once
made `/week` several times slower. Here `studybot run` binds the listening socket itself (a port that cannot
be opened still stops the start-up) and hands it to a spawned child process of lower CPU priority, which
holds its own copy of what the page shows — the study snapshots, the pages' states and the practice records —
and serves from it with the same `WebServer` code. The bot feeds the copy over a pipe: everything at start,
then each change as it is published (plain frozen dataclasses, pickled by a sender thread, so the loop never
waits on the pipe). A change of a page's state (turned off, address rotated) is acknowledged by the child
before the command that made it answers, so an old address is dead by the time anyone is told the new one.

The child dies with the bot: the kernel signals it when its parent goes (Linux), and it exits when the pipe
closes (elsewhere, or if the signal was missed). A crash of the child does not touch the bot: it is logged
and the child started again with backoff; meanwhile connections wait in the socket's backlog.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ctypes
import itertools
import logging
import multiprocessing
import os
import pickle
import queue
import signal
import socket
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

from bot.clock import Clock, SystemClock
from bot.config import ConfigError, WebSettings
from bot.core.model import StudySnapshot
from bot.services.directory import StudyDirectory
from bot.web.practice import PracticeCache, PracticeExtras, PracticeRecords
from bot.web.server import BACKLOG, WebServer
from bot.web.state import WebRegistry

log = logging.getLogger(__name__)

CHILD_NICE = 10  # the page yields the CPU to the bot when both want it
ACK_TIMEOUT = 1.0  # how long a page-state change waits for the child to have applied it
START_TIMEOUT = 60.0
RESTART_BACKOFF = (0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
STABLE_AFTER = 60.0  # a child that lived this long starts the backoff over
CLOCK_POLL = 0.25  # how often a test clock (fast-forwarded by hand) is checked for a change
PR_SET_PDEATHSIG = 1


# --- the child -------------------------------------------------------------------------------------------


class MirrorDirectory:
    """The snapshots as the child holds them: what `WebRegistry` reads (`by_id`)."""

    def __init__(self) -> None:
        self.by_study: dict[int, StudySnapshot] = {}

    def by_id(self, study_id: int) -> StudySnapshot | None:
        return self.by_study.get(study_id)


class ClockMirror:
    """The bot's clock as last sent (a test clock may be moved by hand; the system clock never is)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def now(self) -> Any:
        return self.clock.now()

    def to_real(self, moment: Any) -> Any:
        return self.clock.to_real(moment)


def _die_with_parent() -> None:
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def child_main(settings: WebSettings, sock: socket.socket, conn: Connection, clock: Clock, parent: int) -> None:
    """The child process: serve `sock` from the copy the parent sends over `conn`."""
    _die_with_parent()
    if os.getppid() != parent:  # the parent went before the signal was armed
        os._exit(0)
    with contextlib.suppress(OSError):
        os.nice(CHILD_NICE)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent stops us
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s web-page: %(message)s")
    mirror = MirrorDirectory()
    registry = WebRegistry(None, mirror)  # type: ignore[arg-type]  # reads only: never touches a database
    records: dict[int, PracticeRecords] = {}
    shown_clock = ClockMirror(clock)
    server = WebServer(
        settings=settings, registry=registry, clock=shown_clock, extras=PracticeExtras(records.get, shown_clock)
    )
    server.port = int(sock.getsockname()[1])
    loop = asyncio.new_event_loop()
    server._loop = loop

    def apply(kind: str, payload: Any) -> None:
        if kind == "snapshots":
            mirror.by_study = {snap.id: snap for snap in payload}
        elif kind == "snapshot":
            study_id, snap = payload
            changed = dict(mirror.by_study)
            if snap is None:
                changed.pop(study_id, None)
            else:
                changed[study_id] = snap
            mirror.by_study = changed
        elif kind == "states":
            registry._publish(dict(payload))
        elif kind == "state":
            study_id, state = payload
            states = dict(registry._by_study)
            if state is None:
                states.pop(study_id, None)
            else:
                states[study_id] = state
            registry._publish(states)
        elif kind == "records_all":
            records.clear()
            records.update({r.study_id: r for r in payload})
        elif kind == "records":
            records[payload.study_id] = payload

    def read() -> None:
        while True:
            try:
                seq, kind, payload, sent_clock = conn.recv()
            except (EOFError, OSError):
                os._exit(0)  # the bot is gone
            if sent_clock is not None:
                shown_clock.clock = sent_clock
            if kind == "stop":
                stop = server._stop
                if stop is not None:
                    loop.call_soon_threadsafe(stop.set)
                return
            try:
                apply(kind, payload)
            except Exception:
                log.exception("could not apply %s", kind)
            with contextlib.suppress(OSError):
                conn.send(seq)

    threading.Thread(target=read, name="web-page-feed", daemon=True).start()
    ready: concurrent.futures.Future[int] = concurrent.futures.Future()
    try:
        loop.run_until_complete(server._serve(ready, sock))
    finally:
        with contextlib.suppress(Exception):
            from bot.web import pictures

            pictures.shutdown()
        loop.close()


# --- the bot's side --------------------------------------------------------------------------------------


class ProcessWebServer(WebServer):
    """`WebServer`'s addresses and life cycle, with the serving done by a child process (see the module)."""

    def __init__(
        self,
        *,
        settings: WebSettings,
        registry: WebRegistry,
        clock: Clock,
        directory: StudyDirectory,
        practice: PracticeCache,
        source: str = "<config>",
    ) -> None:
        super().__init__(settings=settings, registry=registry, clock=clock, source=source)
        self.directory = directory
        self.practice = practice
        self.process: multiprocessing.process.BaseProcess | None = None
        self.restarts = 0
        self._sock: socket.socket | None = None
        self._conn: Connection | None = None
        self._outbox: queue.SimpleQueue[tuple[int, str, Any] | None] = queue.SimpleQueue()
        self._seq = itertools.count(1)
        self._acks: dict[int, asyncio.Future[None]] = {}
        self._parent_loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self._threads: list[threading.Thread] = []
        self._send_clock = not isinstance(clock, SystemClock)
        self._restart_task: asyncio.Task[None] | None = None

    # --- life cycle ---------------------------------------------------------------------------------------
    async def start(self) -> None:
        self._parent_loop = asyncio.get_running_loop()
        try:
            sock = socket.create_server(
                (self.settings.host, self.settings.port),
                family=socket.AF_INET6 if ":" in self.settings.host else socket.AF_INET,
                backlog=BACKLOG,
            )
        except OSError as exc:
            raise ConfigError(
                self.source, "web.listen", f"({self.settings.listen}) cannot be opened: {exc.strerror or exc}"
            ) from exc
        self._sock = sock
        self.port = int(sock.getsockname()[1])
        self.directory.subscribe(self.on_study_changed)
        self.practice.subscribe(self.on_records)
        sender = threading.Thread(target=self._send_loop, name="web-page-sender", daemon=True)
        sender.start()
        self._threads.append(sender)
        await self._spawn()
        log.info("web page served at %s (by process %s)", self.base_url, self.pid)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    async def _spawn(self) -> None:
        assert self._sock is not None
        context = multiprocessing.get_context("spawn")
        mine, theirs = context.Pipe(duplex=True)
        process = context.Process(
            target=child_main,
            args=(self.settings, self._sock, theirs, self.clock, os.getpid()),
            name="studybot-web",
            daemon=True,
        )
        await asyncio.to_thread(process.start)
        theirs.close()
        self._conn = mine
        self.process = process
        self._fail_pending()
        started = time.monotonic()
        reader = threading.Thread(target=self._read_loop, args=(mine, process, started), daemon=True)
        reader.start()
        self._threads.append(reader)
        # Everything the page shows, and a wait for the child to have it: the page answers once start() returns.
        done = self.resync()
        try:
            await asyncio.wait_for(done, START_TIMEOUT)
        except TimeoutError:
            log.error("the web page process did not start within %s s", START_TIMEOUT)

    def resync(self) -> asyncio.Future[None]:
        """Send the child everything: the snapshots, the pages' states, the practice records."""
        self._post("snapshots", self.directory.all())
        self._post("states", dict(self.registry._by_study))
        self._post("records_all", self.practice.all())
        return self._post("sync", None, ack=True)

    async def stop(self) -> None:
        self._stopping = True
        if self._restart_task is not None:
            self._restart_task.cancel()
        process = self.process
        if process is not None and process.is_alive():
            self._post("stop", None)
            await asyncio.to_thread(process.join, 5)
            if process.is_alive():
                process.terminate()
                await asyncio.to_thread(process.join, 2)
            if process.is_alive():
                process.kill()
                await asyncio.to_thread(process.join, 2)
        self._outbox.put(None)
        for thread in self._threads:
            await asyncio.to_thread(thread.join, 2)
        self._threads.clear()
        if self._conn is not None:
            self._conn.close()
        if self._sock is not None:
            self._sock.close()
        self._fail_pending()

    # --- feeding the child --------------------------------------------------------------------------------
    async def on_study_changed(self, study_id: int, timing_changed: bool) -> None:
        """Directory listener (after the page registry's own): the study's snapshot and page state; a change of
        the page's state waits until the child has applied it."""
        if self._stopping:
            return
        self._post("snapshot", (study_id, self.directory.by_id(study_id)))
        done = self._post("state", (study_id, self.registry.for_study(study_id)), ack=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done, ACK_TIMEOUT)

    def on_records(self, records: PracticeRecords) -> None:
        if not self._stopping:
            self._post("records", records)

    def _post(self, kind: str, payload: Any, *, ack: bool = False) -> asyncio.Future[None]:
        seq = next(self._seq)
        loop = self._parent_loop or asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        if ack:
            self._acks[seq] = done
        else:
            done.set_result(None)
        self._outbox.put((seq, kind, payload))
        return done

    def _send_loop(self) -> None:
        last_clock = b""
        while True:
            try:
                item = self._outbox.get(timeout=CLOCK_POLL)
            except queue.Empty:
                item = (0, "clock", None) if self._send_clock else None
                if item is None:
                    continue
            if item is None:
                return
            seq, kind, payload = item
            clock = None
            if self._send_clock:
                pickled = pickle.dumps(self.clock)
                if pickled != last_clock or kind != "clock":
                    clock, last_clock = self.clock, pickled
                elif kind == "clock":
                    continue
            conn = self._conn
            if conn is None:
                continue
            try:
                conn.send((seq, kind, payload, clock))
            except (OSError, ValueError):
                pass  # the child is gone: it gets everything again when it is started anew

    def _read_loop(self, conn: Connection, process: multiprocessing.process.BaseProcess, started: float) -> None:
        while True:
            try:
                seq = conn.recv()
            except (EOFError, OSError):
                break
            loop = self._parent_loop
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(self._acked, seq)
        process.join()
        loop = self._parent_loop
        if self._stopping or loop is None or loop.is_closed():
            return
        lived = time.monotonic() - started
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._child_exited, process.exitcode, lived)

    def _acked(self, seq: int) -> None:
        done = self._acks.pop(seq, None)
        if done is not None and not done.done():
            done.set_result(None)

    def _fail_pending(self) -> None:
        """Nobody waits for a child that is gone."""
        for done in self._acks.values():
            if not done.done():
                done.set_result(None)
        self._acks.clear()

    def _child_exited(self, code: int | None, lived: float) -> None:
        if self._stopping:
            return
        self._fail_pending()
        if lived >= STABLE_AFTER:
            self.restarts = 0
        delay = RESTART_BACKOFF[min(self.restarts, len(RESTART_BACKOFF) - 1)]
        self.restarts += 1
        log.error("the web page process exited (code %s) after %.1f s; starting it again in %.1f s", code, lived, delay)
        self._restart_task = asyncio.get_running_loop().create_task(self._restart(delay), name="web-page-restart")

    async def _restart(self, delay: float) -> None:
        await asyncio.sleep(delay)
        if not self._stopping:
            try:
                await self._spawn()
            except Exception:
                log.exception("could not start the web page process again")
                self._child_exited(None, 0.0)
