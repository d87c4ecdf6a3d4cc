"""One validated settings object built from a TOML file plus the environment.

A wrong or missing value raises `ConfigError` naming the key, the file and what is allowed, so the command
line can print one clear sentence instead of a traceback.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from bot.core import validation as rules
from bot.core.sharding import ShardPlan, ShardSpecError
from bot.errors import UserError
from bot.i18n.catalogue import t

DEFAULT_CONFIG_PATH = Path("config.toml")
DEFAULT_API_BASE_URL = "https://discord.com/api/v10"
DEFAULT_GATEWAY_URL = "wss://gateway.discord.gg/"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///studybot.db"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# The server id written in config.example.toml: a copy that still holds it was never filled in.
EXAMPLE_GUILD_ID = 123456789012345678


class ConfigError(Exception):
    """A configuration value is missing or wrong; the message says which key, where, and what is allowed."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        self.source = source
        self.key = key
        self.problem = problem
        super().__init__(f"{source}: `{key}` {problem}")


@dataclass(frozen=True, slots=True)
class StudyConfig:
    guild_id: int
    definition: Path | None
    reminder_channel_id: int | None
    ping_role_id: int | None
    admin_role_id: int | None


# `scheme://user:password@host…`: the password is everything between the first `:` of the user part and the
# last `@` before any whitespace, so an unencoded `@` or `/` in a password is masked too.
_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@]*):\S*@")
_QUERY_PASSWORD = re.compile(r"([?&](?:password|passwd|pwd)=)[^&\s]*", re.IGNORECASE)
_TOKENS: set[str] = set()  # bot tokens loaded in this process, masked wherever `redact` is applied


def mask_url(url: str) -> str:
    """`postgresql+asyncpg://bot:secret@db/x` → `postgresql+asyncpg://bot:***@db/x` (also `?password=`)."""
    return _QUERY_PASSWORD.sub(r"\1***", _URL_PASSWORD.sub(r"\1:***@", url))


def redact(text: str) -> str:
    """Mask every URL password and every loaded bot token in `text` (log lines, error messages, tracebacks)."""
    text = mask_url(text)
    for token in _TOKENS:
        text = text.replace(token, "***")
    return text


@dataclass(frozen=True, slots=True)
class WebSettings:
    """The read-only web page: where it listens, and the address readers use (behind a reverse proxy)."""

    host: str
    port: int  # 0: any free port (the console and tests)
    public_url: str | None  # no trailing slash; None: the address it is bound to (http://HOST:PORT)

    @property
    def listen(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True, repr=False)
class Settings:
    token: str
    api_base_url: str = DEFAULT_API_BASE_URL
    gateway_url: str = DEFAULT_GATEWAY_URL
    database_url: str = DEFAULT_DATABASE_URL
    log_level: str = "INFO"
    studies: tuple[StudyConfig, ...] = ()
    source: str = "<defaults>"
    base_dir: Path = field(default_factory=Path.cwd)
    web: WebSettings | None = None  # None: no [web] section, the web page is off
    # Several processes: the shards this one connects (None: one process, every server).
    shards: ShardPlan | None = None
    # How often edits made through other processes are picked up (None: only by the 15-minute sweep).
    reload_seconds: float | None = None

    def __repr__(self) -> str:
        # Never the token or the database password: settings end up in logs and tracebacks.
        return (
            f"Settings(token={'***' if self.token else ''!r}, api_base_url={self.api_base_url!r}, "
            f"gateway_url={self.gateway_url!r}, database_url={mask_url(self.database_url)!r}, "
            f"log_level={self.log_level!r}, studies={self.studies!r}, source={self.source!r}, "
            f"base_dir={self.base_dir!r})"
        )


_ALLOWED = {
    "": {"discord", "database", "study", "logging", "web"},
    "discord": {"token", "api_base_url", "gateway_url", "shard_count", "shard_ids"},
    "database": {"url", "reload_seconds"},
    "logging": {"level"},
    "web": {"listen", "public_url"},
    "study": {"guild_id", "definition", "reminder_channel_id", "ping_role_id", "admin_role_id"},
}


def load_settings(
    path: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    require_token: bool = True,
    require_study: bool = False,
) -> Settings:
    """Read `path` (default ./config.toml), apply the environment (`DISCORD_TOKEN`, `STUDYBOT_DATABASE_URL`).

    `require_study` is for serving: a bot with no [[study]] would connect and then do nothing, silently.
    """
    env = os.environ if environ is None else environ
    path = path or DEFAULT_CONFIG_PATH
    source = str(path)
    if not path.exists():
        raise ConfigError(source, "(file)", "does not exist: copy config.example.toml to config.toml and fill it in")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(source, "(file)", f"is not valid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(source, "(file)", f"cannot be read: {exc.strerror or exc}") from exc
    return settings_from_mapping(
        raw,
        source=source,
        base_dir=path.resolve().parent,
        environ=env,
        require_token=require_token,
        require_study=require_study,
    )


def settings_from_mapping(
    raw: Mapping[str, Any],
    *,
    source: str,
    base_dir: Path,
    environ: Mapping[str, str],
    require_token: bool = True,
    require_study: bool = False,
) -> Settings:
    _check_keys(raw, "", source)
    discord = _table(raw, "discord", source)
    database = _table(raw, "database", source)
    logging_ = _table(raw, "logging", source)
    _check_keys(discord, "discord", source)
    _check_keys(database, "database", source)
    _check_keys(logging_, "logging", source)

    token = environ.get("DISCORD_TOKEN") or _string(discord, "discord.token", source, default="")
    if require_token and not token:
        raise ConfigError(
            source,
            "discord.token",
            "is empty: set DISCORD_TOKEN or discord.token to your bot's token "
            "(Discord Developer Portal → your application → Bot → Reset Token), "
            "or try the bot offline first with `studybot console`",
        )
    api_base_url = _url(discord, "discord.api_base_url", source, DEFAULT_API_BASE_URL, ("http", "https"))
    gateway_url = _url(discord, "discord.gateway_url", source, DEFAULT_GATEWAY_URL, ("ws", "wss"))
    db_url = environ.get("STUDYBOT_DATABASE_URL") or _string(
        database, "database.url", source, default=DEFAULT_DATABASE_URL
    )
    if not (db_url.startswith("sqlite+aiosqlite://") or db_url.startswith("postgresql+asyncpg://")):
        raise ConfigError(
            source,
            "database.url",
            f"is {mask_url(db_url)!r}: allowed are sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER:PASS@HOST/DB",
        )
    level_raw = logging_.get("level", "INFO")
    level = level_raw.upper() if isinstance(level_raw, str) else repr(level_raw)
    if level not in LOG_LEVELS:
        raise ConfigError(source, "logging.level", f"is {level!r}: allowed are {', '.join(LOG_LEVELS)}")

    studies_raw = raw.get("study", [])
    if not isinstance(studies_raw, list):
        raise ConfigError(source, "study", "must be an array of tables ([[study]])")
    if require_study and not studies_raw:
        raise ConfigError(
            source,
            "study",
            "is missing: add one [[study]] table per Discord server with its guild_id "
            "(see config.example.toml); without one the bot would connect and serve no study",
        )
    studies: list[StudyConfig] = []
    seen: set[int] = set()
    for index, item in enumerate(studies_raw):
        key = f"study[{index + 1}]"
        if not isinstance(item, dict):
            raise ConfigError(source, key, "must be a table")
        _check_keys(item, "study", source, shown=key)
        guild_id = _snowflake(item, f"{key}.guild_id", "guild_id", source, required=True)
        assert guild_id is not None
        if guild_id == EXAMPLE_GUILD_ID:
            raise ConfigError(
                source,
                f"{key}.guild_id",
                f"is still the example's placeholder ({EXAMPLE_GUILD_ID}): put your server's id here "
                "(Discord → Settings → Advanced → Developer Mode, then right-click the server → Copy Server ID)",
            )
        if guild_id in seen:
            raise ConfigError(source, f"{key}.guild_id", f"repeats guild {guild_id}: one [[study]] per server")
        seen.add(guild_id)
        definition_raw = item.get("definition", "")
        if not isinstance(definition_raw, str):
            raise ConfigError(source, f"{key}.definition", "must be a path string")
        definition = None
        if definition_raw:
            definition = Path(definition_raw)
            if not definition.is_absolute():
                definition = base_dir / definition
            if not definition.exists():
                raise ConfigError(source, f"{key}.definition", f"names {definition}, which does not exist")
        studies.append(
            StudyConfig(
                guild_id=guild_id,
                definition=definition,
                reminder_channel_id=_snowflake(item, f"{key}.reminder_channel_id", "reminder_channel_id", source),
                ping_role_id=_role(item, f"{key}.ping_role_id", "ping_role_id", source, guild_id),
                admin_role_id=_role(item, f"{key}.admin_role_id", "admin_role_id", source, guild_id),
            )
        )
    if len(token) >= 8:
        _TOKENS.add(token)
    settings = Settings(
        token=token,
        api_base_url=api_base_url.rstrip("/"),
        gateway_url=gateway_url,
        database_url=_resolve_sqlite_path(db_url, base_dir),
        log_level=level,
        studies=tuple(studies),
        source=source,
        base_dir=base_dir,
        web=_web(raw, source),
        reload_seconds=_reload_seconds(database, source),
    )
    return with_shards(settings, _shard_plan(discord, source), key="discord.shard_count")


# --- several processes ------------------------------------------------------------------------------


def _shard_plan(discord: Mapping[str, Any], source: str) -> ShardPlan | None:
    """`shard_count` and `shard_ids` come together; both absent means one process owning every server."""
    count = discord.get("shard_count")
    ids = discord.get("shard_ids")
    if count is None and ids is None:
        return None
    if count is None:
        raise ConfigError(source, "discord.shard_count", "is missing: `shard_ids` needs the total number of shards")
    if not isinstance(count, int) or isinstance(count, bool):
        raise ConfigError(source, "discord.shard_count", "must be a whole number of shards (1 or more)")
    if ids is None:
        raise ConfigError(
            source, "discord.shard_ids", f"is missing: list the shards this process connects, e.g. [0, 1] of {count}"
        )
    if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise ConfigError(source, "discord.shard_ids", "must be a list of whole numbers, e.g. [0, 1, 2, 3]")
    try:
        return ShardPlan(tuple(ids), count)
    except ShardSpecError as exc:
        key = "discord.shard_count" if "count" in str(exc) else "discord.shard_ids"
        raise ConfigError(source, key, f"is wrong: {exc}") from exc


def with_shards(settings: Settings, plan: ShardPlan | None, *, key: str) -> Settings:
    """`settings` running `plan`; several shards in all need PostgreSQL, the state the processes share."""
    if plan is not None and plan.several_processes and not settings.database_url.startswith("postgresql+asyncpg://"):
        raise ConfigError(
            settings.source,
            key,
            f"asks for {plan.shard_count} shards, which means several processes, and they share their state "
            "through PostgreSQL only: set database.url (or STUDYBOT_DATABASE_URL) to "
            "postgresql+asyncpg://USER:PASS@HOST/DB, or run one process without shard settings",
        )
    reload_seconds = settings.reload_seconds
    if reload_seconds is None and plan is not None and plan.several_processes:
        reload_seconds = DEFAULT_SHARED_RELOAD_SECONDS
    return replace(settings, shards=plan, reload_seconds=reload_seconds)


DEFAULT_SHARED_RELOAD_SECONDS = 30.0


def _reload_seconds(database: Mapping[str, Any], source: str) -> float | None:
    value = database.get("reload_seconds")
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool) or not 1 <= value <= 3600:
        raise ConfigError(source, "database.reload_seconds", f"is {value!r}: allowed are 1 to 3600 seconds")
    return float(value)


DEFAULT_WEB_LISTEN = "127.0.0.1:8080"


def _web(raw: Mapping[str, Any], source: str) -> WebSettings | None:
    """`[web]`: absent → the page is off; present → served at `listen`, linked as `public_url`."""
    if "web" not in raw:
        return None
    table = _table(raw, "web", source)
    _check_keys(table, "web", source)
    listen = _string(table, "web.listen", source, default=DEFAULT_WEB_LISTEN)
    host, port = parse_listen(listen, source)
    if "public_url" not in table:
        return WebSettings(host=host, port=port, public_url=None)
    public_url = _url(table, "web.public_url", source, "", ("http", "https"))
    parsed = urlparse(public_url)
    if parsed.query or parsed.fragment:
        raise ConfigError(
            source, "web.public_url", f"is {public_url!r}: allowed is a plain http(s) URL without ?query or #fragment"
        )
    return WebSettings(host=host, port=port, public_url=public_url.rstrip("/"))


def parse_listen(listen: str, source: str) -> tuple[str, int]:
    """`HOST:PORT` (IPv6 as `[::1]:8080`); port 1–65535, or 0 for any free port."""
    allowed = "allowed is HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080, with a port from 0 to 65535"
    host, sep, port_text = listen.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port_text.isdigit() or int(port_text) > 65535 or any(c in host for c in "/ []"):
        raise ConfigError(source, "web.listen", f"is {listen!r}: {allowed}")
    return host, int(port_text)


def _resolve_sqlite_path(url: str, base_dir: Path) -> str:
    """Relative SQLite paths are taken relative to the config file, not the working directory."""
    prefix = "sqlite+aiosqlite:///"
    if url.startswith(prefix):
        rest = url[len(prefix) :]
        if rest and not rest.startswith("/") and rest != ":memory:":
            return prefix + str(base_dir / rest)
    return url


def _table(raw: Mapping[str, Any], name: str, source: str) -> Mapping[str, Any]:
    value = raw.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(source, name, f"must be a table ([{name}])")
    return value


def _check_keys(table: Mapping[str, Any], name: str, source: str, shown: str | None = None) -> None:
    allowed = _ALLOWED[name]
    for key in table:
        if key not in allowed:
            where = f"{shown or name}.{key}" if (shown or name) else key
            raise ConfigError(source, where, f"is not a known key; allowed here: {', '.join(sorted(allowed))}")


def _string(table: Mapping[str, Any], key: str, source: str, *, default: str) -> str:
    value = table.get(key.rsplit(".", 1)[-1], default)
    if not isinstance(value, str):
        raise ConfigError(source, key, f"must be a string, not {type(value).__name__}")
    return value


def _url(table: Mapping[str, Any], key: str, source: str, default: str, schemes: tuple[str, ...]) -> str:
    value = _string(table, key, source, default=default)
    parsed = urlparse(value)
    if parsed.scheme not in schemes or not parsed.netloc:
        raise ConfigError(source, key, f"is {value!r}: must be a {' or '.join(schemes)} URL with a host")
    return value


def _snowflake(table: Mapping[str, Any], key: str, name: str, source: str, *, required: bool = False) -> int | None:
    value = table.get(name, 0)
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0 or value > rules.SNOWFLAKE_MAX:
        raise ConfigError(
            source, key, f"must be a Discord id (a positive whole number up to {rules.SNOWFLAKE_MAX}; 0 means unset)"
        )
    if value == 0:
        if required:
            raise ConfigError(
                source, key, "is missing: right-click the server in Discord (Developer Mode on) → Copy Server ID"
            )
        return None
    return value


def _role(table: Mapping[str, Any], key: str, name: str, source: str, guild_id: int) -> int | None:
    """A role id, checked by the same rule as `/admin settings`: never the @everyone role."""
    role_id = _snowflake(table, key, name, source)
    try:
        return rules.check_ping_role(role_id, guild_id=guild_id, field=key)
    except UserError as exc:
        message = t("en", exc.key, **exc.params)
        raise ConfigError(
            source, key, f"is {role_id}, the server's own id, which is the @everyone role. {message}"
        ) from None
