"""The stand-in's Gateway v10: HELLO/IDENTIFY/READY, heartbeats, RESUME with replay, dispatch, dropped connections."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from .payloads import guild_payload, member_payload
from .state import Application, Json, World

_log = logging.getLogger(__name__)

# Which intent bit an event needs (events not listed are always sent).
INTENT_OF_EVENT = {
    "GUILD_CREATE": 1 << 0,
    "GUILD_UPDATE": 1 << 0,
    "GUILD_DELETE": 1 << 0,
    "GUILD_ROLE_CREATE": 1 << 0,
    "GUILD_ROLE_UPDATE": 1 << 0,
    "GUILD_ROLE_DELETE": 1 << 0,
    "CHANNEL_CREATE": 1 << 0,
    "CHANNEL_UPDATE": 1 << 0,
    "CHANNEL_DELETE": 1 << 0,
    "GUILD_MEMBER_ADD": 1 << 1,
    "GUILD_MEMBER_UPDATE": 1 << 1,
    "GUILD_MEMBER_REMOVE": 1 << 1,
    "MESSAGE_CREATE": 1 << 9,
    "MESSAGE_UPDATE": 1 << 9,
    "MESSAGE_DELETE": 1 << 9,
    "GUILD_SCHEDULED_EVENT_CREATE": 1 << 16,
    "GUILD_SCHEDULED_EVENT_UPDATE": 1 << 16,
    "GUILD_SCHEDULED_EVENT_DELETE": 1 << 16,
}
GUILD_MEMBERS_INTENT = 1 << 1
REPLAY_BUFFER = 10_000


def _frame(op: int, d: Any, *, t: str | None = None, s: int | None = None) -> str:
    return json.dumps({"op": op, "d": d, "s": s, "t": t}, separators=(",", ":"), ensure_ascii=False)


@dataclass
class DispatchRecord:
    """One event the gateway dispatched (before fan-out to sessions)."""

    name: str
    data: Json
    at: float
    sessions: list[str]


class Connection:
    """One WebSocket; frames go through a queue so sequence numbers reach the wire in order."""

    def __init__(self, ws: web.WebSocketResponse, request: web.Request) -> None:
        self.ws = ws
        self.request = request
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.session: Session | None = None
        self.writer: asyncio.Task[None] = asyncio.get_running_loop().create_task(self._write())

    def send(self, frame: str) -> None:
        self.queue.put_nowait(frame)

    async def _write(self) -> None:
        while True:
            frame = await self.queue.get()
            if frame is None or self.ws.closed:
                return
            try:
                await self.ws.send_str(frame)
            except (ConnectionError, RuntimeError):
                return


@dataclass
class Session:
    id: str
    app: Application
    intents: int
    shard: tuple[int, int] | None
    seq: int = 0
    buffer: deque[tuple[int, str]] = field(default_factory=lambda: deque(maxlen=REPLAY_BUFFER))
    connection: Connection | None = None

    def dispatch(self, name: str, data: Any) -> int:
        self.seq += 1
        frame = _frame(0, data, t=name, s=self.seq)
        self.buffer.append((self.seq, frame))
        if self.connection is not None:
            self.connection.send(frame)
        return self.seq

    def wants(self, name: str, guild_id: int | None) -> bool:
        bit = INTENT_OF_EVENT.get(name)
        if bit is not None and not self.intents & bit:
            return False
        if guild_id is not None and self.shard is not None:
            shard_id, count = self.shard
            return (guild_id >> 22) % count == shard_id
        return True


@dataclass
class GatewayStats:
    connections: int = 0
    identifies: int = 0
    resumes: int = 0
    invalid_sessions: int = 0
    heartbeats: int = 0
    drops: int = 0


class Gateway:
    """Speaks Gateway v10 in plain-text JSON frames (no compression, whatever the client asks for)."""

    def __init__(
        self,
        world: World,
        *,
        url: Callable[[], str],
        heartbeat_interval_ms: int,
        on_change: Callable[[], None],
    ) -> None:
        self.world = world
        self._url = url
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self._on_change = on_change
        self.sessions: dict[str, Session] = {}
        self.connections: set[Connection] = set()
        self.stats = GatewayStats()
        self.events: list[DispatchRecord] = []

    # -- dispatching ---------------------------------------------------------------------------------

    def dispatch(self, name: str, data: Json, *, guild_id: int | None = None, app_id: int | None = None) -> int:
        """Send an event to every session that should get it (guild members, intents, app); returns how many."""
        targets: list[str] = []
        for session in self.sessions.values():
            if app_id is not None and session.app.id != app_id:
                continue
            if guild_id is not None:
                guild = self.world.guilds.get(guild_id)
                if guild is None or session.app.bot.id not in guild.members:
                    continue
            if not session.wants(name, guild_id):
                continue
            session.dispatch(name, data)
            targets.append(session.id)
        if targets:
            self.events.append(DispatchRecord(name, data, time.perf_counter(), targets))
        self._on_change()
        return len(targets)

    def _send(self, session: Session, name: str, data: Json) -> None:
        """Dispatch to one session (READY and friends) and record it."""
        session.dispatch(name, data)
        self.events.append(DispatchRecord(name, data, time.perf_counter(), [session.id]))

    def live_sessions(self) -> list[Session]:
        return [s for s in self.sessions.values() if s.connection is not None]

    # -- faults --------------------------------------------------------------------------------------

    async def drop(self, *, mode: str = "close", code: int = 4000) -> int:
        """Drop every live connection: `close` with a (resumable) close code, or `abort` the TCP connection."""
        dropped = 0
        for conn in list(self.connections):
            if conn.ws.closed:
                continue
            dropped += 1
            self._detach(conn)
            if mode == "abort":
                transport = conn.request.transport
                if transport is not None:
                    transport.abort()
            else:
                conn.queue.put_nowait(None)
                with contextlib.suppress(Exception):
                    await conn.ws.close(code=code, message=b"stand-in dropped the connection")
        self.stats.drops += dropped
        self._on_change()
        return dropped

    def request_reconnect(self) -> None:
        """Send op 7 RECONNECT to every live connection (the client closes and resumes)."""
        for conn in self.connections:
            conn.send(_frame(7, None))

    def invalidate_sessions(self, *, resumable: bool = False) -> None:
        """Send op 9 INVALID_SESSION; with resumable=False the sessions are forgotten and clients re-IDENTIFY."""
        for conn in list(self.connections):
            conn.send(_frame(9, resumable))
            if not resumable and conn.session is not None:
                self.sessions.pop(conn.session.id, None)
        self.stats.invalid_sessions += 1

    async def close_all(self, code: int = 1001) -> None:
        for conn in list(self.connections):
            conn.queue.put_nowait(None)
            with contextlib.suppress(Exception):
                await conn.ws.close(code=code)
        for conn in list(self.connections):
            with contextlib.suppress(Exception):
                await conn.writer

    # -- the connection ------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=0, autoping=True)
        await ws.prepare(request)
        conn = Connection(ws, request)
        self.connections.add(conn)
        self.stats.connections += 1
        conn.send(_frame(10, {"heartbeat_interval": self.heartbeat_interval_ms, "_trace": ["standin"]}))
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    if msg.type is WSMsgType.BINARY:
                        await ws.close(code=4002, message=b"Error while decoding payload.")
                    continue
                try:
                    payload = json.loads(msg.data)
                except ValueError:
                    await ws.close(code=4002, message=b"Error while decoding payload.")
                    break
                await self._on_message(conn, payload)
        finally:
            self._detach(conn)
            self.connections.discard(conn)
            conn.queue.put_nowait(None)
            self._on_change()
        return ws

    def _detach(self, conn: Connection) -> None:
        if conn.session is not None and conn.session.connection is conn:
            conn.session.connection = None

    async def _on_message(self, conn: Connection, payload: Json) -> None:
        op = payload.get("op")
        data = payload.get("d")
        if op == 1:
            self.stats.heartbeats += 1
            conn.send(_frame(11, None))
        elif op == 2:
            await self._identify(conn, data or {})
        elif op == 6:
            await self._resume(conn, data or {})
        elif op == 8:
            self._request_members(conn, data or {})
        elif op in (3, 4):
            return
        else:
            await conn.ws.close(code=4001, message=b"Unknown opcode.")

    async def _identify(self, conn: Connection, data: Json) -> None:
        if conn.session is not None:
            await conn.ws.close(code=4005, message=b"Already authenticated.")
            return
        app = self.world.tokens.get(str(data.get("token", "")).removeprefix("Bot "))
        if app is None:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        if "intents" not in data:
            await conn.ws.close(code=4013, message=b"Invalid intent(s).")
            return
        shard_raw = data.get("shard")
        shard = (int(shard_raw[0]), int(shard_raw[1])) if shard_raw else None
        session = Session(id=secrets.token_hex(16), app=app, intents=int(data["intents"]), shard=shard)
        self.sessions[session.id] = session
        session.connection = conn
        conn.session = session
        self.stats.identifies += 1
        guilds = [
            g for g in self.world.guilds.values() if app.bot.id in g.members and session.wants("GUILD_CREATE", g.id)
        ]
        user = {**app.bot.payload(), "verified": True, "mfa_enabled": False, "email": None}
        ready: Json = {
            "v": 10,
            "user": user,
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self._url(),
            "application": {"id": str(app.id), "flags": app.flags},
            "private_channels": [],
            "presences": [],
            "relationships": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "user_settings": {},
            "_trace": ["standin"],
        }
        if shard is not None:
            ready["shard"] = list(shard)
        self._send(session, "READY", ready)
        with_members = bool(session.intents & GUILD_MEMBERS_INTENT)
        for guild in guilds:
            data_g = guild_payload(self.world, guild, full=True, include_members=with_members)
            if not with_members:
                data_g["members"] = [member_payload(self.world, guild.members[app.bot.id])]
            self._send(session, "GUILD_CREATE", data_g)
        self._on_change()

    async def _resume(self, conn: Connection, data: Json) -> None:
        session = self.sessions.get(str(data.get("session_id")))
        token = str(data.get("token", "")).removeprefix("Bot ")
        seq = data.get("seq") or 0
        oldest = session.buffer[0][0] if session is not None and session.buffer else 1
        if session is None or session.app.token != token or seq < oldest - 1 or seq > session.seq:
            self.stats.invalid_sessions += 1
            conn.send(_frame(9, False))
            self._on_change()
            return
        old = session.connection
        if old is not None and old is not conn:
            old.session = None
            old.queue.put_nowait(None)
            asyncio.get_running_loop().create_task(old.ws.close(code=4000))
        for s, frame in session.buffer:
            if s > seq:
                conn.send(frame)
        session.connection = conn
        conn.session = session
        self.stats.resumes += 1
        self._send(session, "RESUMED", {"_trace": ["standin"]})
        self._on_change()

    def _request_members(self, conn: Connection, data: Json) -> None:
        session = conn.session
        guild = self.world.guilds.get(int(data.get("guild_id", 0)))
        if session is None or guild is None:
            return
        query = str(data.get("query") or "").lower()
        user_ids = {int(u) for u in data.get("user_ids") or []}
        limit = int(data.get("limit") or 0)
        members = [
            m
            for m in guild.members.values()
            if (not user_ids or m.user.id in user_ids) and m.user.username.lower().startswith(query)
        ]
        if limit:
            members = members[:limit]
        chunk: Json = {
            "guild_id": str(guild.id),
            "members": [member_payload(self.world, m) for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        self._send(session, "GUILD_MEMBERS_CHUNK", chunk)
