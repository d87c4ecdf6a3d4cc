"""`[web]` in the config file: off by default; `listen` and `public_url` validated like every other key."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, WebSettings, load_settings


def write(tmp_path: Path, web: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text('[discord]\ntoken = "t"\n' + web, encoding="utf-8")
    return path


def test_no_web_section_means_the_page_is_off(tmp_path: Path) -> None:
    assert load_settings(write(tmp_path, ""), environ={}).web is None


def test_two_lines_turn_the_page_on(tmp_path: Path) -> None:
    web = '[web]\nlisten = "127.0.0.1:8080"\npublic_url = "https://study.example.org/"\n'
    settings = load_settings(write(tmp_path, web), environ={})
    assert settings.web == WebSettings(host="127.0.0.1", port=8080, public_url="https://study.example.org")


def test_listen_defaults_and_ipv6(tmp_path: Path) -> None:
    assert load_settings(write(tmp_path, "[web]\n"), environ={}).web == WebSettings("127.0.0.1", 8080, None)
    web = load_settings(write(tmp_path, '[web]\nlisten = "[::1]:0"\n'), environ={}).web
    assert web == WebSettings("::1", 0, None) and web.listen == "[::1]:0"


@pytest.mark.parametrize(
    ("web", "key", "allowed"),
    [
        ('listen = "8080"', "web.listen", "HOST:PORT"),
        ('listen = "localhost:99999"', "web.listen", "from 0 to 65535"),
        ('listen = "localhost:http"', "web.listen", "HOST:PORT"),
        ("listen = 8080", "web.listen", "must be a string"),
        ('public_url = "ftp://x.org"', "web.public_url", "http or https URL"),
        ('public_url = "https://x.org/?a=1"', "web.public_url", "without ?query"),
        ("port = 8080", "web.port", "allowed here: listen, public_url"),
    ],
)
def test_bad_values_name_the_key_the_file_and_what_is_allowed(tmp_path: Path, web: str, key: str, allowed: str) -> None:
    path = write(tmp_path, f"[web]\n{web}\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    assert caught.value.key == key and str(path) in str(caught.value) and allowed in str(caught.value)
