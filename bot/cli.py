"""`studybot` command line (`python -m bot` is the same): run, sync, import, export, calendar, records, console.

Every expected failure (bad config, bad definition, refused token) ends with one clear sentence on
stderr and a non-zero exit code — never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys
import traceback
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from bot import loop as event_loop
from bot.config import (
    DEFAULT_CONFIG_PATH,
    ConfigError,
    Settings,
    load_settings,
    mask_url,
    redact,
    settings_from_mapping,
    with_shards,
)
from bot.core.definition import DefinitionError, StudyDefinition, dump_definition, load_definition
from bot.core.sharding import ShardSpecError, parse_shard_spec
from bot.errors import UserError
from bot.i18n import t
from bot.services.base import Actor


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="studybot", description="A Discord bot that runs a weekly study group.")
    parser.add_argument("--config", type=Path, default=None, help="config file (default: ./config.toml)")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="migrate the database, connect to Discord and serve")
    run.add_argument("--config", type=Path, default=argparse.SUPPRESS)
    run.add_argument(
        "--shards",
        default=None,
        metavar="FIRST-LAST/COUNT",
        help="connect these shards only (e.g. 0-3/8), as one of several processes; overrides the config",
    )
    sync = sub.add_parser("sync", help="register the slash commands with Discord now, then exit")
    sync.add_argument("--config", type=Path, default=argparse.SUPPRESS)
    imp = sub.add_parser("import", help="create or update a server's study from a definition file")
    imp.add_argument("file", type=Path)
    imp.add_argument("--guild", type=int, required=True, help="Discord server id")
    imp.add_argument("--config", type=Path, default=argparse.SUPPRESS)
    exp = sub.add_parser("export", help="write a server's study as a definition file")
    exp.add_argument("--guild", type=int, required=True)
    exp.add_argument("--output", "-o", type=Path, default=None, help="file to write (default: stdout)")
    exp.add_argument("--config", type=Path, default=argparse.SUPPRESS)
    cal = sub.add_parser("calendar", help="write a server's sessions as an .ics calendar file")
    cal.add_argument("--guild", type=int, required=True)
    cal.add_argument("--output", "-o", type=Path, default=None, help="file to write (default: study-ID.ics)")
    cal.add_argument("--config", type=Path, default=argparse.SUPPRESS)
    rec = sub.add_parser("records", help="write a server's attendance and study logs as CSV files (for Excel)")
    rec.add_argument("--guild", type=int, required=True)
    rec.add_argument("--output", "-o", type=Path, default=Path("."), help="directory to write into (default: .)")
    rec.add_argument("--config", type=Path, default=argparse.SUPPRESS)
    mig = sub.add_parser("migrate", help="upgrade the database to the newest migration")
    mig.add_argument("--config", type=Path, default=argparse.SUPPRESS)
    con = sub.add_parser("console", help="try the bot offline against a local Discord stand-in")
    con.add_argument("--db", type=Path, default=None, help="database file to use (default: a temporary one)")
    con.add_argument("--study", type=Path, default=None, help="study definition (default: the bundled one)")
    return parser


NO_CONFIG = "(no config file)"


def _settings(args: argparse.Namespace, *, require_token: bool) -> Settings:
    path: Path | None = args.config
    if path is None and not DEFAULT_CONFIG_PATH.exists() and not require_token:
        # No config file: defaults plus the environment (STUDYBOT_DATABASE_URL) for offline commands.
        return settings_from_mapping({}, source=NO_CONFIG, base_dir=Path.cwd(), environ=os.environ, require_token=False)
    return load_settings(path or DEFAULT_CONFIG_PATH, require_token=require_token, require_study=args.command == "run")


def _catch_stop_signals() -> list[int]:
    """Until `serve` installs its own handlers: a SIGTERM or SIGINT during the migration or the loading of
    studies lets that step finish (a migration is never cut in half) and then stops with exit code 0."""
    received: list[int] = []
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, received.append, signum)
    return received


def _shard_settings(args: argparse.Namespace, settings: Settings) -> Settings:
    """`run --shards` overrides the config; the other commands serve every server, shards or not."""
    if args.command != "run":
        return replace(settings, shards=None)
    if getattr(args, "shards", None) is None:
        return settings
    try:
        plan = parse_shard_spec(args.shards)
    except ShardSpecError as exc:
        raise ConfigError("--shards", "--shards", f"is wrong: {exc}") from exc
    return with_shards(settings, plan, key="--shards")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return event_loop.run(_dispatch(args))
    except (ConfigError, DefinitionError, CommandLineError) as exc:
        return _fail(str(exc), 2)
    except UserError as exc:
        return _fail(t("en", exc.key, **exc.params), 2)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from bot.runtime import StartupError
        from bot.sharding import DatabaseInUse

        if isinstance(exc, StartupError | DatabaseInUse):
            return _fail(str(exc), 1)
        # A bug: the traceback helps, but never with a password or token in it.
        sys.stderr.write(redact(traceback.format_exc()))
        return 1


class CommandLineError(Exception):
    """A command-line argument names something that is not there; the message says what and where."""


def _fail(message: str, code: int) -> int:
    print(f"studybot: {redact(message)}", file=sys.stderr)
    return code


class _Redacting(logging.Filter):
    """Masks URL passwords and the bot token in every log record, its arguments and its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, _Redacting) for f in handler.filters):
            handler.addFilter(_Redacting())


def _read_definition(path: Path) -> StudyDefinition:
    """The definition to import, or one sentence: read before any database is opened or created."""
    if not path.exists():
        raise CommandLineError(f"{path}: no such file (the study definition to import)")
    if path.is_dir():
        raise CommandLineError(f"{path} is a folder; give the study definition file (.toml)")
    try:
        return load_definition(path)
    except OSError as exc:
        raise CommandLineError(f"{path} cannot be read: {exc.strerror or exc}") from None


def _require_database(settings: Settings, args: argparse.Namespace) -> None:
    """`export` and `calendar` read an existing database: they never create an empty one."""
    prefix = "sqlite+aiosqlite:///"
    url = settings.database_url
    if not url.startswith(prefix) or url[len(prefix) :] in ("", ":memory:"):
        return
    database = Path(url[len(prefix) :])
    if database.exists():
        return
    if os.environ.get("STUDYBOT_DATABASE_URL"):
        where = "from STUDYBOT_DATABASE_URL"
    elif settings.source == NO_CONFIG:
        where = (
            f"there is no config file (looked for {(args.config or DEFAULT_CONFIG_PATH).resolve()}) and "
            "STUDYBOT_DATABASE_URL is not set, so the default database was used"
        )
    else:
        where = f"database.url from {settings.source}"
    nothing = "nothing to export" if args.command == "export" else "no sessions to write"
    raise CommandLineError(
        f"no database at {database} ({where}); {nothing}. Pass --config with your bot's "
        "config file, set STUDYBOT_DATABASE_URL, or create the study first with `studybot import FILE --guild ID`"
    )


async def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "run":
        # No cyclic collections while start-up imports and loads long-lived objects: `prepare` freezes
        # them and turns the collector back on (each full collection here walked the whole import heap).
        gc.disable()
    command = args.command
    if command == "console":
        from bot.console import run_console

        code: int = await run_console(db=args.db, study=args.study)
        return code
    definition = _read_definition(args.file) if command == "import" else None
    settings = _shard_settings(args, _settings(args, require_token=command in ("run", "sync")))
    _setup_logging(settings.log_level)
    if command in ("export", "calendar"):
        _require_database(settings, args)
    guard = contextlib.ExitStack()
    if command == "run":  # before migrating: a second process on one SQLite file stops here
        from bot.sharding import single_sqlite_process

        guard.enter_context(single_sqlite_process(settings.database_url))
    with guard:
        return await _serve(args, settings, definition)


async def _serve(args: argparse.Namespace, settings: Settings, definition: StudyDefinition | None) -> int:
    from bot import runtime as rt

    command = args.command
    early_stop = _catch_stop_signals() if command == "run" else []
    runtime = await rt.open_runtime(settings)
    try:
        if command == "migrate":
            print(f"database is at the newest migration ({mask_url(settings.database_url)})")
            return 0
        if command == "import":
            assert definition is not None
            study_id, changed = await runtime.services.definitions.import_definition(
                guild_id=args.guild, definition=definition, actor=Actor.cli()
            )
            print(
                f"{'imported' if changed else 'unchanged'}: study {study_id} for server {args.guild} "
                f"(database: {mask_url(settings.database_url)})"
            )
            return 0
        if command == "export":
            text = dump_definition(await runtime.services.definitions.export_definition(guild_id=args.guild))
            if args.output:
                args.output.write_text(text, encoding="utf-8")
            else:
                sys.stdout.write(text)
            return 0
        if command == "calendar":
            from bot.render.calendar import calendar_file_name, study_calendar

            await runtime.directory.load_all()
            snap = runtime.directory.by_guild(args.guild)
            if snap is None:
                raise UserError("error.no_study")
            out = args.output or Path(calendar_file_name(snap))
            out.write_bytes(study_calendar(snap, now=runtime.clock.now()))
            print(f"wrote {out}")
            return 0
        if command == "records":
            await runtime.directory.load_all()
            files = await runtime.services.attendance.export_records(guild_id=args.guild)
            args.output.mkdir(parents=True, exist_ok=True)
            for name, text in files.items():
                # UTF-8 with a byte-order mark: Excel then reads Korean names correctly.
                (args.output / name).write_text(text, encoding="utf-8-sig", newline="")
                print(f"wrote {args.output / name}")
            return 0
        await rt.prepare(runtime)
        if early_stop:  # stopped while migrating or loading: that step finished, nothing was sent yet
            logging.getLogger("bot").info("stopped before connecting")
            return 0
        bot = rt.create_bot(runtime, force_sync=command == "sync", serve=command == "run")
        if command == "sync":
            async with bot:
                await rt.login(runtime, bot)  # runs setup_hook, which syncs (forced)
            print("slash commands synced")
            return 0
        return await rt.serve(runtime, bot)
    finally:
        await runtime.close()
