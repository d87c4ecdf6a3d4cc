"""Specification of bot/config.py: one validated `Settings` from a TOML file plus the environment.

Every wrong or missing value must stop the bot with a `ConfigError` that names the key, the file and what
is allowed, so an operator can fix the file from the message alone.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import (
    DEFAULT_API_BASE_URL,
    DEFAULT_GATEWAY_URL,
    ConfigError,
    Settings,
    StudyConfig,
    load_settings,
    mask_url,
    redact,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_CONFIG = ROOT / "config.example.toml"
SEED_STUDY = ROOT / "studies" / "pytorch-study.toml"

VALID = f"""
[discord]
token = "file-token"
api_base_url = "http://127.0.0.1:8080/api/v10"
gateway_url = "ws://127.0.0.1:8080/gateway"

[database]
url = "postgresql+asyncpg://bot:secret@db.example/studybot"

[logging]
level = "debug"

[[study]]
guild_id = 900000000000000001
definition = "{SEED_STUDY.as_posix()}"
reminder_channel_id = 900000000000000002
ping_role_id = 900000000000000003
admin_role_id = 900000000000000004

[[study]]
guild_id = 900000000000000005
"""


def write(folder: Path, text: str, name: str = "config.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def load(path: Path, **kwargs: object) -> Settings:
    """Load with an empty environment unless the test passes one: the real environment must not leak in."""
    kwargs.setdefault("environ", {})
    return load_settings(path, **kwargs)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------
# A valid file


def test_valid_file_loads_every_contract_key(tmp_path: Path) -> None:
    settings = load(write(tmp_path, VALID))

    assert settings.token == "file-token"
    assert settings.api_base_url == "http://127.0.0.1:8080/api/v10"
    assert settings.gateway_url == "ws://127.0.0.1:8080/gateway"
    assert settings.database_url == "postgresql+asyncpg://bot:secret@db.example/studybot"
    assert settings.log_level == "DEBUG"
    assert settings.studies == (
        StudyConfig(
            guild_id=900000000000000001,
            definition=SEED_STUDY,
            reminder_channel_id=900000000000000002,
            ping_role_id=900000000000000003,
            admin_role_id=900000000000000004,
        ),
        StudyConfig(
            guild_id=900000000000000005,
            definition=None,
            reminder_channel_id=None,
            ping_role_id=None,
            admin_role_id=None,
        ),
    )
    assert settings.source == str(tmp_path / "config.toml")


def test_file_with_only_a_token_gets_discords_real_endpoints(tmp_path: Path) -> None:
    settings = load(write(tmp_path, '[discord]\ntoken = "t"\n'))

    assert settings.api_base_url == DEFAULT_API_BASE_URL.rstrip("/")
    assert settings.gateway_url == DEFAULT_GATEWAY_URL
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path.resolve() / 'studybot.db'}"
    assert settings.studies == ()


def test_discord_token_in_environment_overrides_the_file(tmp_path: Path) -> None:
    settings = load(write(tmp_path, VALID), environ={"DISCORD_TOKEN": "env-token"})

    assert settings.token == "env-token"


def test_empty_discord_token_in_environment_does_not_blank_the_files_token(tmp_path: Path) -> None:
    settings = load(write(tmp_path, VALID), environ={"DISCORD_TOKEN": ""})

    assert settings.token == "file-token"


def test_token_from_environment_satisfies_require_token_when_the_file_has_none(tmp_path: Path) -> None:
    settings = load(write(tmp_path, "[discord]\n"), environ={"DISCORD_TOKEN": "env-token"})

    assert settings.token == "env-token"


def test_token_may_be_missing_when_not_required(tmp_path: Path) -> None:
    settings = load(write(tmp_path, ""), require_token=False)

    assert settings.token == ""


def test_relative_sqlite_path_is_resolved_against_the_config_files_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_dir = tmp_path / "etc" / "studybot"
    config_dir.mkdir(parents=True)
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    path = write(config_dir, '[discord]\ntoken = "t"\n[database]\nurl = "sqlite+aiosqlite:///data/bot.db"\n')

    settings = load(path)

    assert settings.database_url == f"sqlite+aiosqlite:///{config_dir.resolve() / 'data' / 'bot.db'}"


def test_absolute_sqlite_path_is_kept_as_written(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path.resolve() / 'bot.db'}"
    settings = load(write(tmp_path, f'[discord]\ntoken = "t"\n[database]\nurl = "{url}"\n'))

    assert settings.database_url == url


def test_relative_definition_path_is_resolved_against_the_config_files_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "studies").mkdir()
    definition = tmp_path / "studies" / "mine.toml"
    definition.write_text("", encoding="utf-8")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    path = write(tmp_path, '[discord]\ntoken = "t"\n[[study]]\nguild_id = 1\ndefinition = "studies/mine.toml"\n')

    settings = load(path)

    assert settings.studies[0].definition is not None
    assert settings.studies[0].definition.resolve() == definition.resolve()


def test_example_config_is_refused_until_its_placeholder_server_id_is_replaced(tmp_path: Path) -> None:
    """A copy of the example that was never filled in must not start silently against a made-up server."""
    with pytest.raises(ConfigError) as caught:
        load_settings(EXAMPLE_CONFIG, environ={}, require_token=False)

    assert caught.value.key == "study[1].guild_id"
    assert str(EXAMPLE_CONFIG) in str(caught.value) and "placeholder" in str(caught.value)
    assert "Copy Server ID" in str(caught.value)
    filled = EXAMPLE_CONFIG.read_text(encoding="utf-8").replace("123456789012345678", "900000000000000009")
    filled = filled.replace('"studies/pytorch-study.toml"', f'"{SEED_STUDY.as_posix()}"')
    settings = load(write(tmp_path, filled), require_token=False)
    assert settings.studies[0].guild_id == 900000000000000009


def test_serving_without_any_study_is_refused_naming_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, TOKEN)

    with pytest.raises(ConfigError) as caught:
        load(path, require_study=True)

    assert caught.value.key == "study"
    assert str(path) in str(caught.value) and "[[study]]" in str(caught.value)
    assert load(path).studies == ()  # offline commands (import, export) need no [[study]]


@pytest.mark.parametrize("name", ["ping_role_id", "admin_role_id"])
def test_the_everyone_role_is_refused_as_in_admin_settings(tmp_path: Path, name: str) -> None:
    """The @everyone role's id is the server's id; `/admin settings` refuses it, and so does the config."""
    path = write(tmp_path, TOKEN + f"[[study]]\nguild_id = 900000000000000001\n{name} = 900000000000000001\n")

    with pytest.raises(ConfigError) as caught:
        load(path)

    assert caught.value.key == f"study[1].{name}"
    assert "@everyone" in str(caught.value) and str(path) in str(caught.value)


def test_discord_ids_share_the_databases_limit(tmp_path: Path) -> None:
    path = write(tmp_path, TOKEN + "[[study]]\nguild_id = 9223372036854775808\n")

    with pytest.raises(ConfigError) as caught:
        load(path)

    assert "9223372036854775807" in str(caught.value)


# --------------------------------------------------------------------------------------------------
# Every wrong or missing value: the message names the key, the file, and what is allowed

TOKEN = '[discord]\ntoken = "t"\n'

BAD_FILES = [
    pytest.param("invalid = toml = here", "(file)", "not valid TOML", id="invalid-toml"),
    pytest.param("[discord]\ntoken = ''\n", "discord.token", "DISCORD_TOKEN", id="empty-token"),
    pytest.param("", "discord.token", "DISCORD_TOKEN", id="missing-token"),
    pytest.param(
        TOKEN + 'api_base_url = "ftp://discord.com/api"\n', "discord.api_base_url", "http or https", id="api-ftp"
    ),
    pytest.param(
        TOKEN + 'api_base_url = "discord.com/api"\n', "discord.api_base_url", "http or https", id="api-no-scheme"
    ),
    pytest.param(
        TOKEN + 'gateway_url = "https://gateway.discord.gg"\n', "discord.gateway_url", "ws or wss", id="gateway-https"
    ),
    pytest.param(TOKEN + 'gateway_url = "http://127.0.0.1:1"\n', "discord.gateway_url", "ws or wss", id="gateway-http"),
    pytest.param(
        TOKEN + '[database]\nurl = "mysql://u:p@h/db"\n', "database.url", "sqlite+aiosqlite", id="database-mysql"
    ),
    pytest.param(
        TOKEN + '[database]\nurl = "sqlite:///bot.db"\n',
        "database.url",
        "postgresql+asyncpg",
        id="database-sync-sqlite",
    ),
    pytest.param(TOKEN + 'colour = "red"\n', "discord.colour", "token", id="unknown-key-in-discord"),
    pytest.param("verbose = true\n" + TOKEN, "verbose", "discord", id="unknown-top-level-key"),
    pytest.param(TOKEN + '[database]\npath = "x.db"\n', "database.path", "url", id="unknown-key-in-database"),
    pytest.param(TOKEN + '[logging]\nfile = "x.log"\n', "logging.file", "level", id="unknown-key-in-logging"),
    pytest.param(
        TOKEN + "[[study]]\nguild_id = 1\nchannel_id = 2\n",
        "study[1].channel_id",
        "reminder_channel_id",
        id="unknown-key-in-study",
    ),
    pytest.param(
        TOKEN + '[logging]\nlevel = "verbose"\n', "logging.level", "DEBUG, INFO, WARNING, ERROR", id="bad-log-level"
    ),
    pytest.param(TOKEN + "[[study]]\nguild_id = 0\n", "study[1].guild_id", "Server ID", id="guild-id-zero"),
    pytest.param(TOKEN + "[[study]]\nping_role_id = 3\n", "study[1].guild_id", "Server ID", id="guild-id-missing"),
    pytest.param(
        TOKEN + "[[study]]\nguild_id = -5\n", "study[1].guild_id", "positive whole number", id="guild-id-negative"
    ),
    pytest.param(
        TOKEN + '[[study]]\nguild_id = "my server"\n',
        "study[1].guild_id",
        "positive whole number",
        id="guild-id-string",
    ),
    pytest.param(
        TOKEN + "[[study]]\nguild_id = 1.5\n", "study[1].guild_id", "positive whole number", id="guild-id-float"
    ),
    pytest.param(
        TOKEN + "[[study]]\nguild_id = true\n", "study[1].guild_id", "positive whole number", id="guild-id-bool"
    ),
    pytest.param(
        TOKEN + "[[study]]\nguild_id = 1\nping_role_id = -3\n",
        "study[1].ping_role_id",
        "positive whole number",
        id="role-id-negative",
    ),
    pytest.param(
        TOKEN + "[[study]]\nguild_id = 7\n[[study]]\nguild_id = 7\n",
        "study[2].guild_id",
        "one [[study]] per server",
        id="duplicate-guild",
    ),
    pytest.param(
        TOKEN + '[[study]]\nguild_id = 1\ndefinition = "studies/nope.toml"\n',
        "study[1].definition",
        "does not exist",
        id="definition-missing",
    ),
    pytest.param(
        TOKEN + "[[study]]\nguild_id = 1\ndefinition = 3\n", "study[1].definition", "path", id="definition-not-a-string"
    ),
    pytest.param(TOKEN + "[study]\nguild_id = 1\n", "study", "[[study]]", id="study-not-an-array"),
    pytest.param('discord = "t"\n', "discord", "[discord]", id="discord-not-a-table"),
]


@pytest.mark.parametrize(("text", "key", "allowed"), BAD_FILES)
def test_bad_value_raises_config_error_naming_key_file_and_what_is_allowed(
    tmp_path: Path, text: str, key: str, allowed: str
) -> None:
    path = write(tmp_path, text)

    with pytest.raises(ConfigError) as caught:
        load(path)

    message = str(caught.value)
    assert caught.value.key == key
    assert f"`{key}`" in message
    assert str(path) in message
    assert allowed in message


def test_missing_file_raises_config_error_naming_the_file_and_the_example(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"

    with pytest.raises(ConfigError) as caught:
        load(path)

    assert caught.value.key == "(file)"
    assert str(path) in str(caught.value)
    assert "config.example.toml" in str(caught.value)


def test_file_that_is_not_utf8_raises_config_error(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'[discord]\ntoken = "\xff\xfe"\n')

    with pytest.raises(ConfigError) as caught:
        load(path)

    assert caught.value.key == "(file)"
    assert str(path) in str(caught.value)


def test_token_from_environment_does_not_excuse_a_bad_value_elsewhere(tmp_path: Path) -> None:
    path = write(tmp_path, '[logging]\nlevel = "loud"\n')

    with pytest.raises(ConfigError) as caught:
        load(path, environ={"DISCORD_TOKEN": "env-token"})

    assert caught.value.key == "logging.level"


# --------------------------------------------------------------------------------------------------
# Secrets never show: not in reprs, not in error messages, not in logs


def test_settings_repr_masks_the_token_and_the_database_password(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, VALID), environ={"DISCORD_TOKEN": "env-token-0123456789"})
    shown = repr(settings)
    assert "env-token-0123456789" not in shown and "token='***'" in shown
    assert "secret" not in shown and "postgresql+asyncpg://bot:***@db.example/studybot" in shown
    assert settings.database_url == "postgresql+asyncpg://bot:secret@db.example/studybot"  # the value itself stays
    assert "token=''" in repr(Settings(token=""))


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql+asyncpg://bot:secret@db/x", "postgresql+asyncpg://bot:***@db/x"),
        ("postgresql+asyncpg://bot:p@ss/w:rd@db:5432/x", "postgresql+asyncpg://bot:***@db:5432/x"),
        ("postgresql+asyncpg://bot@db/x?password=secret&ssl=1", "postgresql+asyncpg://bot@db/x?password=***&ssl=1"),
        ("postgresql+asyncpg://bot@db/x", "postgresql+asyncpg://bot@db/x"),
        ("sqlite+aiosqlite:///studybot.db", "sqlite+aiosqlite:///studybot.db"),
        ("failed (postgresql+asyncpg://a:b@h/x): refused", "failed (postgresql+asyncpg://a:***@h/x): refused"),
    ],
)
def test_mask_url_hides_every_password(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_a_refused_database_url_is_shown_without_its_password(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(
            write(tmp_path, ""), environ={"STUDYBOT_DATABASE_URL": "mysql://root:hunter2@db/x"}, require_token=False
        )
    assert "hunter2" not in str(caught.value) and "mysql://root:***@db/x" in str(caught.value)


def test_redact_masks_loaded_tokens_and_url_passwords(tmp_path: Path) -> None:
    load_settings(write(tmp_path, VALID), environ={"DISCORD_TOKEN": "a-loaded-token-987654"})
    text = "sent a-loaded-token-987654 to postgresql+asyncpg://bot:secret@db/x"
    assert redact(text) == "sent *** to postgresql+asyncpg://bot:***@db/x"
