"""`studybot` command line (`python -m bot` is the same): run, sync, import, export, calendar, console.

Every expected failure (bad config, bad definition, refused token) ends with one clear sentence on
stderr and a non-zero exit code — never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from bot.config import (
    DEFAULT_CONFIG_PATH,
    ConfigError,
    Settings,
    load_settings,
    settings_from_mapping,
    with_shards,
)
from bot.core.definition import DefinitionError, dump_definition, load_definition
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
    mig = sub.add_parser("migrate", help="upgrade the database to the newest migration")
    mig.add_argument("--config", type=Path, default=argparse.SUPPRESS)
    con = sub.add_parser("console", help="try the bot offline against a local Discord stand-in")
    con.add_argument("--db", type=Path, default=None, help="database file to use (default: a temporary one)")
    con.add_argument("--study", type=Path, default=None, help="study definition (default: the bundled one)")
    return parser


def _settings(args: argparse.Namespace, *, require_token: bool) -> Settings:
    path: Path | None = args.config
    if path is None and not DEFAULT_CONFIG_PATH.exists() and not require_token:
        # No config file: defaults plus the environment (STUDYBOT_DATABASE_URL) for offline commands.
        return settings_from_mapping(
            {}, source="(no config file)", base_dir=Path.cwd(), environ=os.environ, require_token=False
        )
    return load_settings(path or DEFAULT_CONFIG_PATH, require_token=require_token)


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
        return asyncio.run(_dispatch(args))
    except ConfigError as exc:
        print(f"studybot: {exc}", file=sys.stderr)
        return 2
    except DefinitionError as exc:
        print(f"studybot: {exc}", file=sys.stderr)
        return 2
    except UserError as exc:
        print(f"studybot: {t('en', exc.key, **exc.params)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from bot.runtime import StartupError
        from bot.sharding import DatabaseInUse

        if isinstance(exc, StartupError | DatabaseInUse):
            print(f"studybot: {exc}", file=sys.stderr)
            return 1
        raise


async def _dispatch(args: argparse.Namespace) -> int:
    command = args.command
    if command == "console":
        from bot.console import run_console

        code: int = await run_console(db=args.db, study=args.study)
        return code
    settings = _shard_settings(args, _settings(args, require_token=command in ("run", "sync")))
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    guard = contextlib.ExitStack()
    if command == "run":  # before migrating: a second process on one SQLite file stops here
        from bot.sharding import single_sqlite_process

        guard.enter_context(single_sqlite_process(settings.database_url))
    with guard:
        return await _serve(args, settings)


async def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from bot import runtime as rt

    command = args.command
    runtime = await rt.open_runtime(settings)
    try:
        if command == "migrate":
            print("database is at the newest migration")
            return 0
        if command == "import":
            definition = load_definition(args.file)
            study_id, changed = await runtime.services.definitions.import_definition(
                guild_id=args.guild, definition=definition, actor=Actor.cli()
            )
            print(f"{'imported' if changed else 'unchanged'}: study {study_id} for server {args.guild}")
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
        await rt.prepare(runtime)
        bot = rt.create_bot(runtime, force_sync=command == "sync", serve=command == "run")
        if command == "sync":
            from bot.endpoints import apply_endpoints

            apply_endpoints(api_base_url=settings.api_base_url, gateway_url=settings.gateway_url)
            async with bot:
                await bot.login(settings.token)  # runs setup_hook, which syncs (forced)
            print("slash commands synced")
            return 0
        await rt.run_bot(runtime, bot)
        return 0
    finally:
        await runtime.close()
