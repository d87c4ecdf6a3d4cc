"""Message catalogues (ko, en): every user-facing string lives here under a stable key.

Catalogues are TOML files next to this module; nested tables flatten to dotted keys
(`[week] title = "…"` is `week.title`). Placeholders use `str.format` syntax.
"""

from __future__ import annotations

import string
import tomllib
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

LANGUAGES = ("ko", "en")
DEFAULT_LANGUAGE = "ko"
_DIR = Path(__file__).resolve().parent


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in table.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, full + "."))
        elif isinstance(value, str):
            flat[full] = value
        else:
            raise TypeError(f"catalogue value for {full} must be a string")
    return flat


@cache
def load(language: str) -> dict[str, str]:
    path = _DIR / f"{language}.toml"
    return _flatten(tomllib.loads(path.read_text(encoding="utf-8")))


def language_for(locale: str | None, fallback: str = DEFAULT_LANGUAGE) -> str:
    """Map a Discord locale ("ko", "en-US", "en-GB", …) to a catalogue; anything else gets `fallback`."""
    if locale:
        base = str(locale).split("-")[0].lower()
        if base in LANGUAGES:
            return base
    return fallback if fallback in LANGUAGES else DEFAULT_LANGUAGE


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


class Term(str):
    """A message parameter that is itself a catalogue entry (a weekday, a kind): `t` shows it in the
    reader's language; as a plain string it is the English word, for the command line and logs."""

    key: str

    def __new__(cls, key: str, english: str) -> Term:
        term = super().__new__(cls, english)
        term.key = key
        return term


class _SafeDict(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def t(language: str, key: str, /, **params: Any) -> str:
    """The message `key` in `language` (falling back to Korean, then to the key itself), formatted."""
    lang = language if language in LANGUAGES else DEFAULT_LANGUAGE
    text = load(lang).get(key) or load(DEFAULT_LANGUAGE).get(key)
    if text is None:
        return key
    shown = {name: t(lang, value.key) if isinstance(value, Term) else value for name, value in params.items()}
    return text.format_map(_SafeDict(shown))


def has(key: str) -> bool:
    return key in load(DEFAULT_LANGUAGE)
