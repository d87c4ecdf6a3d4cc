"""`studybot console`: try the real bot offline, before creating a Discord application.

Starts the local Discord stand-in and the real bot (same start-up path as `studybot run`) with the bundled
study, then reads slash commands from the prompt, sends them as a member or an admin in Korean or English,
and prints the replies — embeds as text, Discord timestamps as dates. Reminders the bot posts appear as
they happen; `:ff 1d` fast-forwards the bot's clock to make them come.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import re
import shlex
import shutil
import signal
import sys
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.clock import ShiftedClock
from bot.core.validation import parse_offsets
from bot.errors import UserError
from bot.i18n import language_for, t
from bot.offline import BUNDLED_STUDY, OfflineBot, start_offline
from bot.runtime import StartupError
from bot.services.base import Actor
from standin import MessageRecord, StandIn

Json = dict[str, Any]

HELP = """\
Type a slash command as you would in Discord, options as name:value (quote values with spaces):
  /week                 /week number:3          /materials           /materials week:2
  /schedule             /next                   /roster              /calendar
  /admin roster add name:홍길동 github:https://github.com/hong
  /admin session cancel date:2026-12-24 reason:"크리스마스 이브"
  /admin settings offsets:"1d, 1h"              /admin reminders status
  /checkin              /attendance             /attendance member:홍길동    /roster claim:홍길동
  /admin attendance mark member:홍길동 week:1    /admin practice nudge:off    /admin roster confirm name:홍길동
User/channel/role options take: me, member, admin, here, study (the study role) or an id.
Console commands:
  :as member | :as admin    who sends the next commands (now: {who})
  :lang ko | :lang en       the Discord language of that user (now: {lang})
  :ff 1d | :ff 2h30m        fast-forward the bot's clock; due reminders are posted
  :ff next                  fast-forward to the next reminder (or session-start post, nudge, recap)
  :click checkin            press the check-in button of the latest session-start post
  :pick 홍길동              choose a name in the last menu the bot showed you (claiming your roster name)
  :now                      show the bot's clock
  :help                     this text
  :quit                     leave (Ctrl-D works too; Ctrl-C clears the line, twice leaves)
Korean names work too: /주차 번호:3, /자료, /일정, /다음모임, /명단, /캘린더, /관리 명단 추가 이름:홍길동
"""

TIMESTAMP = re.compile(r"<t:(-?\d+)(?::([tTdDfFR]))?>")
MENTION = re.compile(r"<(@&|@!?|#)(\d+)>")
WEEKDAYS_KO = "월화수목금토일"
REPLY_WITHIN = 15.0  # seconds to wait for the bot's answer to a command


def _named(nodes: list[Json], name: str) -> Json | None:
    """The command/option/choice called `name` in English or in any of its localized names."""
    wanted = name.strip().casefold()
    for node in nodes:
        names = [str(node["name"]), *(node.get("name_localizations") or {}).values()]
        if wanted in (n.casefold() for n in names):
            return node
    return None


ATTACHMENTS = Path("studybot-console-files")  # in the folder the console was started from


def save_attachment(filename: str, content: bytes) -> Path:
    """Keep a file the bot sent (a progress picture, a calendar) where it outlives the console's own
    temporary folder, so it can be opened after the console ends; the name is made safe for a path."""
    folder = ATTACHMENTS.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^\w.\-]", "_", Path(filename).name) or "attachment"
    target = folder / safe
    target.write_bytes(content)
    return target


class Console:
    def __init__(self, offline: OfflineBot, clock: ShiftedClock, *, out: Any = None) -> None:
        self.offline = offline
        self.standin: StandIn = offline.standin
        self.clock = clock
        self.as_admin = False
        self.locale = "ko"
        self.out = out or sys.stdout
        world = self.standin.defaults
        assert world is not None
        self.world = world
        self._seen = len(self.standin.messages(world.channel_id))
        self._replies: list[MessageRecord] = []  # our own ephemeral replies (they may carry a menu)
        self.timezone = ZoneInfo(offline.runtime.directory.all()[0].recurrence.timezone)

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    # --- rendering ------------------------------------------------------------------------------------
    def when(self, match: re.Match[str]) -> str:
        moment = datetime.fromtimestamp(int(match.group(1)), UTC)
        style = match.group(2) or "f"
        local = moment.astimezone(self.timezone)
        if style == "R":
            return self.relative(moment)
        weekday = WEEKDAYS_KO[local.weekday()] if self.locale == "ko" else local.strftime("%a")
        day = local.strftime("%Y-%m-%d")
        clock = local.strftime("%H:%M %Z")
        if style in ("d", "D"):
            return f"{day} ({weekday})"
        if style in ("t", "T"):
            return clock
        return f"{day} ({weekday}) {clock}"

    def relative(self, moment: datetime) -> str:
        delta = (moment - self.clock.now()).total_seconds()
        seconds = abs(delta)
        units = ((86400, "일", "day"), (3600, "시간", "hour"), (60, "분", "minute"), (1, "초", "second"))
        size, ko, en = next((u for u in units if seconds >= u[0]), units[-1])
        amount = int(seconds // size)
        if self.locale == "ko":
            return f"{amount}{ko} {'후' if delta >= 0 else '전'}"
        plural = "" if amount == 1 else "s"
        return f"in {amount} {en}{plural}" if delta >= 0 else f"{amount} {en}{plural} ago"

    def mention(self, match: re.Match[str]) -> str:
        kind, ident = match.group(1), int(match.group(2))
        world = self.standin.world
        if kind == "@&":
            for guild in world.guilds.values():
                if ident in guild.roles:
                    return f"@{guild.roles[ident].name}"
            return "@role"
        if kind == "#":
            channel = world.channels.get(ident)
            return f"#{channel.name}" if channel else "#channel"
        user = world.users.get(ident)
        return f"@{user.username}" if user else "@user"

    def readable(self, text: str) -> str:
        return MENTION.sub(self.mention, TIMESTAMP.sub(self.when, text))

    def show(self, message: MessageRecord, *, header: str = "") -> None:
        if header:
            self.say(header)
        if message.content:
            self.say(self.readable(message.content))
        for embed in message.embeds:
            self.say("┌" + "─" * 60)
            if embed.get("title"):
                self.say("│ " + self.readable(embed["title"]))
            for line in self.readable(embed.get("description", "")).splitlines():
                self.say("│ " + line)
            for field in embed.get("fields", []):
                self.say("│")
                self.say("│ ▸ " + self.readable(field["name"]))
                for line in self.readable(field["value"]).splitlines():
                    self.say("│   " + line)
            footer = (embed.get("footer") or {}).get("text")
            if footer:
                self.say("│ — " + self.readable(footer))
            self.say("└" + "─" * 60)
        for file in message.files:
            saved = save_attachment(file.filename, file.content)
            self.say(f"📎 {file.filename} ({len(file.content)} bytes) → {saved}")
        for row in message.components:
            for component in row.get("components") or []:
                if component.get("type") == 2:
                    emoji = (component.get("emoji") or {}).get("name") or ""
                    action = str(component.get("custom_id", "")).split(":")[1:2] or [""]
                    self.say(f"[ {emoji} {component.get('label', '')} ]   ← :click {action[0]}")
                elif component.get("type") == 3:
                    names = " | ".join(str(o.get("label")) for o in component.get("options") or [])
                    self.say(f"▾ {component.get('placeholder', '')}: {names}   ← :pick NAME")
        if message.ephemeral:
            self.say("(only you can see this)" if self.locale != "ko" else "(나에게만 보이는 메시지)")

    # --- commands ---------------------------------------------------------------------------------------
    def language(self) -> str:
        """The reader's language, as the bot picks it: their Discord language, else the study's."""
        return language_for(self.locale, self.offline.runtime.directory.all()[0].locale)

    def shown(self, node: Json) -> str:
        """A command, subcommand, option or choice name as the reader's Discord client shows it."""
        localized: dict[str, str] = node.get("name_localizations") or {}
        return localized.get(self.language(), str(node["name"]))

    def listing(self, nodes: list[Json], prefix: str = "") -> str:
        return ", ".join(prefix + self.shown(n) for n in nodes)

    def parse(self, line: str) -> tuple[str, dict[str, Any]]:
        """`/주차 번호:3` or `/week number:3` → ("week", {"number": 3}); raises UserError with what is wrong.

        Accepts the English and every localized name of commands, subcommands, options and choices, as a
        Discord client would offer them, and converts values the way the client would before sending."""
        try:
            tokens = shlex.split(line.strip().lstrip("/"))
        except ValueError:
            raise UserError("console.bad_quotes") from None
        words = [t for t in tokens if ":" not in t]
        given = [tuple(t.split(":", 1)) for t in tokens if ":" in t]
        if not words:
            words = [given.pop(0)[0]] if given else [""]
        commands = [c for c in self.standin.commands() if int(c.get("type", 1)) == 1]
        node = _named(commands, words[0])
        if node is None:
            raise UserError("console.unknown_command", name=words[0], names=self.listing(commands, "/"))
        path = [str(node["name"])]
        shown = "/" + self.shown(node)
        rest = words[1:]
        while True:
            children = [o for o in node.get("options", []) if int(o["type"]) in (1, 2)]
            if not children:
                break
            if not rest:
                raise UserError("console.needs_subcommand", command=shown, names=self.listing(children))
            child = _named(children, rest[0])
            if child is None:
                raise UserError("console.unknown_subcommand", command=shown, name=rest[0], names=self.listing(children))
            node, rest = child, rest[1:]
            path.append(str(node["name"]))
            shown += " " + self.shown(node)
        schema = [o for o in node.get("options", []) if int(o["type"]) > 2]
        given += [(word, "") for word in rest]  # `/week 3`: a stray word is an option without a value
        options: dict[str, Any] = {}
        for name, raw in given:
            option = _named(schema, name)
            if option is None:
                if not schema:
                    raise UserError("console.no_options", command=shown, name=name)
                raise UserError("console.unknown_option", command=shown, name=name, names=self.listing(schema))
            options[str(option["name"])] = self.value(option, raw)
        for option in schema:
            if option.get("required") and option["name"] not in options:
                raise UserError("console.missing_option", command=shown, name=self.shown(option))
        return " ".join(path), options

    def value(self, option: Json, raw: str) -> Any:
        kind, field = int(option["type"]), self.shown(option)
        choices: list[Json] = option.get("choices") or []
        if choices:
            choice = _named(choices, raw) or next((c for c in choices if str(c["value"]) == raw), None)
            if choice is None:
                raise UserError("console.bad_choice", field=field, value=raw, names=self.listing(choices))
            return choice["value"]
        aliases = {
            "me": self.world.admin_user_id if self.as_admin else self.world.member_user_id,
            "member": self.world.member_user_id,
            "admin": self.world.admin_user_id,
            "here": self.world.channel_id,
            "study": self.world.study_role_id,
        }
        if kind in (6, 7, 8, 9):
            target = raw.lstrip("@#<&!").rstrip(">")
            if target in aliases:
                return aliases[target]
            if target.isdigit():
                return int(target)
            raise UserError("console.bad_target", field=field, value=raw)
        if kind == 4:
            try:
                return int(raw)
            except ValueError:
                raise UserError("console.not_integer", field=field, value=raw) from None
        if kind == 10:
            try:
                return float(raw)
            except ValueError:
                raise UserError("console.not_number", field=field, value=raw) from None
        if kind == 5:
            return raw.lower() in ("1", "true", "yes", "y", "on", "예", "네")
        return raw

    async def slash(self, line: str) -> None:
        try:
            command, options = self.parse(line)
        except UserError as exc:
            self.say("⚠️ " + t(self.language(), exc.key, **exc.params))
            return
        user = self.world.admin_user_id if self.as_admin else self.world.member_user_id
        try:
            handle = await self.standin.invoke(command, options, user_id=user, locale=self.locale)
            reply = await handle.wait_reply(timeout=REPLY_WITHIN)
        except TimeoutError:
            self.say("⚠️ " + t(self.language(), "console.no_answer", seconds=int(REPLY_WITHIN)))
            return
        except (ValueError, LookupError) as exc:  # the stand-in refused the interaction as Discord would
            self.say(f"⚠️ could not send that: {exc}")
            return
        self._replies.append(reply)
        self.show(reply)
        if handle.followups:  # pages after the first (a big attendance sheet)
            await asyncio.sleep(0.3)
            for extra in handle.followups:
                if extra.id != reply.id:
                    self.show(extra)
        if handle.late:
            self.say("⚠️ the bot answered after Discord's 3-second deadline")

    async def fast_forward(self, text: str) -> None:
        if text.strip() == "next":
            snap = self.offline.runtime.directory.all()[0]
            upcoming = await self.offline.bot.reminders.upcoming(snap, 1)
            if not upcoming:
                self.say("no reminder is planned")
                return
            self.clock.set(upcoming[0].due + timedelta(seconds=1))
            self.say(f"⏩ {self.when_now()}")
            await self.offline.bot.reminders.rearm_all()
            await asyncio.sleep(0.3)
            await self.offline.bot.reminders.drain()
            return
        try:
            offsets = parse_offsets(text)
        except UserError:
            self.say("usage: :ff 1d | :ff 2h30m | :ff 45m | :ff next")
            return
        self.clock.advance(sum(offsets, timedelta()))
        self.say(f"⏩ {self.when_now()}")
        await self.offline.bot.reminders.rearm_all()
        await asyncio.sleep(0.3)
        await self.offline.bot.reminders.drain()

    def user_id(self) -> int:
        return self.world.admin_user_id if self.as_admin else self.world.member_user_id

    def find_component(self, wanted: str, kind: int) -> tuple[MessageRecord, dict[str, Any]] | None:
        """The newest message (channel posts and the replies we saw) with a component whose id has `wanted`."""
        candidates = list(self.standin.messages(self.world.channel_id)) + self._replies
        for message in reversed(candidates):
            for row in message.components:
                for component in row.get("components") or []:
                    if component.get("type") == kind and wanted in str(component.get("custom_id", "")):
                        return message, component
        return None

    async def click(self, wanted: str) -> None:
        found = self.find_component(wanted.strip() or "checkin", 2)
        if found is None:
            self.say("no such button yet (the session-start post appears when check-in opens: try :ff next)")
            return
        message, component = found
        handle = await self.standin.click(
            message, str(component["custom_id"]), user_id=self.user_id(), locale=self.locale
        )
        reply = await handle.wait_reply(timeout=15)
        self._replies.append(reply)
        self.show(reply)

    async def pick(self, value: str) -> None:
        found = self.find_component("", 3)
        if found is None:
            self.say("no menu to pick from")
            return
        message, component = found
        handle = await self.standin.click(
            message, str(component["custom_id"]), values=[value.strip()], user_id=self.user_id(), locale=self.locale
        )
        reply = await handle.wait_reply(timeout=15)
        self._replies.append(reply)
        self.show(reply)

    def when_now(self) -> str:
        return self.clock.now().astimezone(self.timezone).strftime("%Y-%m-%d (%a) %H:%M %Z")

    async def watch_channel(self) -> None:
        """Print what the bot posts in the study channel (reminders, notices) as it happens."""
        while True:
            messages = self.standin.messages(self.world.channel_id)
            for message in messages[self._seen :]:
                if message.source == "channel":  # not the replies to our own commands
                    self.show(message, header="\n📣 #general (posted by the bot):")
            self._seen = len(messages)
            await asyncio.sleep(0.2)

    async def handle(self, line: str) -> bool:
        line = line.strip()
        if not line:
            return True
        if line in (":quit", ":q", ":exit", "exit", "quit"):
            return False
        if line == ":help":
            self.say(HELP.format(who="admin" if self.as_admin else "member", lang=self.locale))
        elif line.startswith(":as"):
            self.as_admin = line.split()[-1] == "admin"
            self.say(f"now acting as {'admin (Manage Server)' if self.as_admin else 'member'}")
        elif line.startswith(":lang"):
            choice = line.split()[-1]
            self.locale = "en-US" if choice.startswith("en") else "ko"
            self.say(f"Discord language: {self.locale}")
        elif line.startswith(":ff"):
            await self.fast_forward(line[3:])
        elif line.startswith(":click"):
            await self.click(line[len(":click") :])
        elif line.startswith(":pick"):
            await self.pick(line[len(":pick") :])
        elif line == ":now":
            self.say(self.when_now())
        elif line.startswith("/"):
            await self.slash(line)
        else:
            self.say("commands start with / (try /week), console commands with : (try :help)")
        return True


class Interrupted:
    """Ctrl-C, delivered through the same queue as the lines typed."""


INTERRUPTED = Interrupted()


class LineReader:
    """Reads standard input on a daemon thread (raw file descriptor: no lock is left held at exit) and hands
    lines to the event loop; `None` marks the end of input (Ctrl-D or the end of a pipe)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int = 0) -> None:
        self.loop = loop
        self.fd = fd
        self.queue: asyncio.Queue[str | Interrupted | None] = asyncio.Queue()
        self.thread = threading.Thread(target=self._run, name="console-stdin", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _put(self, item: str | None) -> None:
        self.loop.call_soon_threadsafe(self.queue.put_nowait, item)

    def _run(self) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        buffer = ""
        while True:
            try:
                chunk = os.read(self.fd, 4096)
            except InterruptedError:
                continue
            except OSError:
                chunk = b""
            buffer += decoder.decode(chunk, final=not chunk)
            while "\n" in buffer:
                line, buffer = buffer.split("\n", 1)
                self._put(line.rstrip("\r"))
            if not chunk:
                if buffer:
                    self._put(buffer)
                self._put(None)
                return


def check_arguments(*, db: Path | None, study: Path | None) -> None:
    """Refuse a missing --study file or a --db in a folder that does not exist, in one sentence."""
    if study is not None and not study.is_file():
        raise StartupError(
            f"--study {study}: no such file. Pass a study definition file, e.g. {BUNDLED_STUDY.name} "
            f"from {BUNDLED_STUDY.parent}"
        )
    if db is not None and not db.parent.is_dir():
        raise StartupError(f"--db {db}: the folder {db.parent} does not exist")


async def run_console(*, db: Path | None = None, study: Path | None = None) -> int:
    """The try-out loop. Ctrl-C cancels the command being answered or clears the line typed; a second
    Ctrl-C in a row (or any Ctrl-C when input is piped) leaves. The temporary folder is always removed."""
    check_arguments(db=db, study=study)
    clock = ShiftedClock()
    workdir = Path(tempfile.mkdtemp(prefix="studybot-console-"))
    offline: OfflineBot | None = None
    loop = asyncio.get_running_loop()
    reader = LineReader(loop)
    interactive = os.isatty(0)
    current: asyncio.Task[bool] | None = None

    def interrupt() -> None:
        if current is not None and not current.done():
            current.cancel()
        else:
            reader.queue.put_nowait(INTERRUPTED)

    catching = threading.current_thread() is threading.main_thread()
    if catching:
        loop.add_signal_handler(signal.SIGINT, interrupt)
    try:
        print("Starting a local Discord stand-in and the real bot…", flush=True)
        offline = await start_offline(
            workdir,
            definition=study or BUNDLED_STUDY,
            database=db,
            clock=clock,
            # A fresh try-out always shows a live week: week 1 becomes the coming session day.
            shift_to_now=None if db is not None else clock.now(),
            web_listen="127.0.0.1:0",  # the study's web page, on a free local port
        )
        console = Console(offline, clock)
        snap = offline.runtime.directory.all()[0]
        console.say(
            f"✅ {snap.name}: {len(snap.members)} members, {snap.week_count} weeks. Bot clock: {console.when_now()}"
        )
        web = offline.bot.web
        if web is not None:
            await web.service.set_enabled(guild_id=snap.guild_id, actor=Actor.cli(), enabled=True)
            links = web.live_links(snap.id)
            if links is not None:
                console.say(f"🌐 web page: {links.page}\n📅 calendar feed: {links.feed}")
        console.say(HELP.format(who="member", lang="ko"))
        watcher = asyncio.create_task(console.watch_channel())
        reader.start()
        interrupted_last = False
        try:
            while True:
                if interactive:
                    console.out.write("studybot> ")
                    console.out.flush()
                line = await reader.queue.get()
                if isinstance(line, Interrupted):
                    if not interactive or interrupted_last:
                        console.say()
                        break
                    interrupted_last = True
                    console.say("\n(Ctrl-C again, Ctrl-D or :quit to leave)")
                    continue
                interrupted_last = False
                if line is None:
                    if interactive:
                        console.say()
                    break
                if not interactive:
                    console.say(f"studybot> {line}")
                current = asyncio.create_task(console.handle(line))
                await asyncio.wait({current})
                if current.cancelled():
                    console.say("\n(cancelled)")
                    continue
                failure = current.exception()
                if failure is not None:  # the console's own fault: say it and keep going
                    console.say(f"⚠️ {type(failure).__name__}: {failure}")
                    continue
                if not current.result():
                    break
            await asyncio.sleep(0.3)  # let a last reminder print
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
    finally:
        if catching:
            loop.remove_signal_handler(signal.SIGINT)
        try:
            if offline is not None:
                await offline.stop()
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0
