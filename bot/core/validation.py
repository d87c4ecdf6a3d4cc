"""The rulebook: every value that can reach a study — by config, by definition file or by a command — is
checked here, by one function with one set of limits and one message key per rule.

Each rule raises `UserError(key, field=…, …)`. Commands show it in the reader's language; the definition
parser and the config loader turn the same key into their own error (file, dotted key, English text from the
catalogue), so the three ways in can never disagree on what is allowed or on how a refusal is worded.

Why plain functions and not pydantic v2 models: the rules that matter here are not type checks but
Discord-specific text rules (no mentions, no Markdown that restyles or opens a link, URL normalization), which
would be hand-written validators inside pydantic as well; a command checks one option at a time, not a model;
and every refusal needs a catalogue key with parameters rendered in Korean or English, where pydantic's
error types are English strings with 0-based locations. pydantic would add a compiled dependency to every
start for one real gain — a JSON Schema for editors — which the limits below could feed if it is ever wanted.

Decisions:

* Free text (names, titles, places, notes) refuses rather than alters: `@everyone`/`@here`, the Markdown
  characters `* \\` [ ] < >` (so `**bold**`, `[x](…)` masked links and `<@&123>` mentions cannot be typed),
  the doubled `~~` and `||` (strike-through, spoiler), `://` (a bare link), control and bidi-override
  characters, and line breaks in one-line fields. A single `~` or `|` (as in "02~05장", "A | B") is fine.
* Links are parsed and normalized: http/https only, a real host name (a dot, valid labels, or an IPv4
  address; no `user@` part), a valid port, no whitespace or control characters. The characters that could
  end a Markdown link early or start a new one — `( ) [ ] < > " ' { } | ^` and backticks, and a `%` not
  followed by two hex digits — are percent-encoded (the address stays the same for the web server), so a
  stored URL can never open a second link; a backslash is refused (browsers read it as `/`, which would
  move the host). Normalizing twice gives the same URL; the scheme and host are lower-cased.
* Several leaders are allowed: co-leaders are common, and a command can already make them.
* `first_session` must fall on the study's weekday, in the file and in `/admin settings` alike; changing only
  the weekday moves the stored first session to the first such day on or after it, so the schedule never
  starts on a date other than the stored one.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from datetime import date, time, timedelta

from bot.errors import UserError
from bot.i18n.catalogue import Term

# --------------------------------------------------------------------------------------------------
# Limits (one set for every way in)

NAME_MAX = 100  # study, member and place names
TITLE_MAX = 200  # week topics and material titles (each language)
TEXT_MAX = 1000  # multi-line notes and the study description
REASON_MAX = 200
URL_MAX = 500  # the database column's size
DURATION_MAX = 24 * 60
OFFSET_MAX = timedelta(days=14)
OFFSETS_MAX_COUNT = 5
MEMBERS_MAX = 200
WEEKS_MAX = 104
MATERIALS_MAX = 50  # per week, and study-wide
SNOWFLAKE_MAX = 2**63 - 1  # Discord ids are stored as signed 64-bit integers
LOCALES = ("ko", "en")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MEMBER_ROLES = ("leader", "member")

FORBIDDEN_CHARS = "*`[]<>\\"
FORBIDDEN_RUNS = ("~~", "||")
_MENTION = re.compile(r"@(everyone|here)\b", re.IGNORECASE)
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def shown(value: object, limit: int = 60) -> str:
    """A user's value quoted back inside a code span: one line, no backticks, short."""
    text = "".join(" " if unicodedata.category(c)[0] in "CZ" else c for c in str(value)).replace("`", "'")
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------------------------------
# Text


def clean_text(value: str, *, field: str, limit: int, required: bool = True, multiline: bool = False) -> str:
    """Trimmed plain text of at most `limit` characters that cannot ping, restyle or open a link.

    Optional text (`required=False`) may be empty; multi-line text keeps line breaks and tabs.
    """
    text = value.replace("\r\n", "\n").strip() if multiline else value.strip()
    if not text:
        if required:
            raise UserError("error.text_empty", field=field)
        return ""
    if len(text) > limit:
        raise UserError("error.text_too_long", field=field, limit=limit, length=len(text))
    allowed_controls = "\n\t" if multiline else ""
    for char in text:
        category = unicodedata.category(char)
        if (category in ("Cc", "Zl", "Zp") and char not in allowed_controls) or char in _BIDI:
            raise UserError("error.text_control", field=field, char=f"U+{ord(char):04X}")
    if _MENTION.search(text):
        raise UserError("error.text_mention", field=field)
    bad = sorted({c for c in text if c in FORBIDDEN_CHARS}) + [run for run in FORBIDDEN_RUNS if run in text]
    if bad:
        raise UserError(
            "error.text_markdown",
            field=field,
            chars=" ".join(bad),
            forbidden=" ".join([*FORBIDDEN_CHARS, *FORBIDDEN_RUNS]),
        )
    if "://" in text:
        raise UserError("error.text_link", field=field)
    return text


def clean_name(value: str, *, field: str = "name") -> str:
    return clean_text(value, field=field, limit=NAME_MAX)


def clean_title(value: str, *, field: str = "title", required: bool = True) -> str:
    return clean_text(value, field=field, limit=TITLE_MAX, required=required)


def clean_notes(value: str, *, field: str = "notes") -> str:
    return clean_text(value, field=field, limit=TEXT_MAX, required=False, multiline=True)


def name_key(name: str) -> str:
    """Two member names are the same name when they differ only in case."""
    return name.casefold()


def escape_markdown(text: str) -> str:
    """Backslash-escape what could still format text the rules let through (`_`, `#`, a lone `~` or `|`),
    and anything a stored value from before these rules might hold; `://` is escaped so it is never a link."""
    escaped = re.sub(r"([_*~`|>#<\\\[\]])", r"\\\1", text)
    return escaped.replace("://", "\\://")


# --------------------------------------------------------------------------------------------------
# Links

_URL_KEEP = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&*+,;=:@/?#")
_HEX = frozenset("0123456789abcdefABCDEF")
_LABEL = re.compile(r"(?!-)[^\W_](?:[\w-]{0,61}[^\W_])?", re.UNICODE)
_IPV4 = re.compile(r"(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}")


# A link made only of characters kept as they are (and well-formed %-escapes) needs no character-by-character
# check or encoding: the common case, checked with two regular expressions instead (renderers clean every
# stored link they show, so this is on the path of `/week`).
_PLAIN_URL = re.compile(r"[A-Za-z0-9\-._~!$&*+,;=:@/?#%]+")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _encode_rest(rest: str) -> str:
    out: list[str] = []
    for index, char in enumerate(rest):
        kept = char in _URL_KEEP or (ord(char) > 127 and unicodedata.category(char)[0] in "LMN")
        escape = char == "%" and len(rest[index + 1 : index + 3]) == 2 and set(rest[index + 1 : index + 3]) <= _HEX
        if kept or escape:
            out.append(char)
        else:
            out.extend(f"%{byte:02X}" for byte in char.encode("utf-8"))
    return "".join(out)


def _valid_host(host: str) -> bool:
    if _IPV4.fullmatch(host):
        return True
    labels = host.rstrip(".").split(".")
    if len(labels) < 2 or len(host) > 253:
        return False
    if labels[-1].isdigit():
        return False
    return all(_LABEL.fullmatch(label) for label in labels)


def clean_url(value: str, *, field: str = "url", required: bool = True) -> str:
    """A normalized http(s) link that renders as exactly one link wherever it is shown (see the module
    docstring); empty is allowed only when not `required`."""
    url = value.strip()
    if not url:
        if required:
            raise UserError("error.url_scheme", field=field, value="")
        return ""
    match = re.match(r"([A-Za-z][A-Za-z0-9+.-]*)://", url)
    if match is None or match.group(1).lower() not in ("http", "https"):
        raise UserError("error.url_scheme", field=field, value=shown(url))
    plain = _PLAIN_URL.fullmatch(url) is not None and _BAD_PERCENT.search(url) is None
    if not plain:
        for char in url:
            if char.isspace() or char == "\\" or unicodedata.category(char) in ("Cc", "Cf", "Co", "Cn", "Cs"):
                raise UserError("error.url_char", field=field, char=f"U+{ord(char):04X}")
    scheme = match.group(1).lower()
    after = url[match.end() :]
    split = re.search(r"[/?#]", after)
    netloc, rest = (after[: split.start()], after[split.start() :]) if split else (after, "")
    if "@" in netloc:
        raise UserError("error.url_userinfo", field=field, value=shown(url))
    host, colon, port = netloc.partition(":")
    host = host.lower()
    if not _valid_host(host):
        raise UserError("error.url_host", field=field, value=shown(url))
    if colon and not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        raise UserError("error.url_host", field=field, value=shown(url))
    normalized = f"{scheme}://{host}{colon}{port}{rest if plain else _encode_rest(rest)}"
    if len(normalized) > URL_MAX:
        raise UserError("error.text_too_long", field=field, limit=URL_MAX, length=len(normalized))
    return normalized


@functools.lru_cache(maxsize=4096)  # a pure function of the text; renderers ask for the same links again and again
def safe_url(value: str) -> str | None:
    """The normalized form of a stored link, or None when it cannot be shown as a link at all (a value
    stored before these rules existed): renderers show such a title without a link."""
    try:
        return clean_url(value) or None
    except UserError:
        return None


# --------------------------------------------------------------------------------------------------
# Schedule


def parse_date(value: str, *, field: str = "date") -> date:
    """A calendar date typed as YYYY-MM-DD."""
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise UserError("error.bad_date", field=field, value=shown(value, 40)) from None


_TIME = re.compile(r"\s*(\d{1,2}):(\d{2})\s*")


def parse_time(value: str, *, field: str = "time") -> time:
    """A time of day typed as HH:MM (24-hour clock)."""
    match = _TIME.fullmatch(value)
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise UserError("error.bad_time", field=field, value=shown(value, 40))
    return time(int(match.group(1)), int(match.group(2)))


def check_time(value: time, *, field: str = "time") -> time:
    """A start time already given as a time (a TOML time): whole minutes, no UTC offset."""
    if value.second or value.microsecond or value.tzinfo is not None:
        raise UserError("error.bad_time", field=field, value=value.isoformat())
    return value


def check_duration(minutes: int, *, field: str = "duration") -> int:
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= DURATION_MAX:
        raise UserError("error.bad_duration", field=field, value=shown(minutes), max=DURATION_MAX)
    return minutes


def check_locale(value: str, *, field: str = "language") -> str:
    text = value.strip().lower()
    if text not in LOCALES:
        raise UserError("error.bad_locale", field=field, value=shown(value), allowed=", ".join(LOCALES))
    return text


def check_role(value: str, *, field: str = "role") -> str:
    """A roster role: leader or member (a study may have several leaders)."""
    text = value.strip().lower()
    if text not in MEMBER_ROLES:
        raise UserError("roster.bad_role", field=field, value=shown(value, 40))
    return text


def weekday_term(weekday: int) -> Term:
    """A weekday as a message parameter: localized in replies, the English name in files and logs."""
    name = WEEKDAYS[weekday]
    return Term(f"weekday.{name}", name.capitalize())


def check_first_session(first: date, weekday: int, *, field: str = "first_session") -> date:
    """The first session must fall on the study's weekday: otherwise the schedule would silently start on
    the next matching day, a date stored nowhere."""
    if first.weekday() != weekday:
        raise UserError(
            "error.first_session_weekday",
            field=field,
            value=first.isoformat(),
            day=weekday_term(first.weekday()),
            weekday=weekday_term(weekday),
        )
    return first


def first_on_weekday(first: date, weekday: int) -> date:
    """The first day on or after `first` that falls on `weekday`."""
    return first + timedelta(days=(weekday - first.weekday()) % 7)


DATE_PAST_MAX = timedelta(days=366)
DATE_FUTURE_MAX = timedelta(days=731)


def check_date_range(day: date, today: date, *, field: str) -> date:
    """Dates typed by admins must lie within a year back and two years ahead: a typo like 9999-12-23
    would otherwise turn every schedule computation into an overflow."""
    if not today - DATE_PAST_MAX <= day <= today + DATE_FUTURE_MAX:
        raise UserError(
            "error.date_range",
            field=field,
            value=day.isoformat(),
            earliest=(today - DATE_PAST_MAX).isoformat(),
            latest=(today + DATE_FUTURE_MAX).isoformat(),
        )
    return day


# --------------------------------------------------------------------------------------------------
# Reminder offsets

_OFFSET_ITEM = re.compile(r"(?:(\d{1,6})d)?(?:(\d{1,6})h)?(?:(\d{1,6})m)?")
OFFSETS_OFF = ("off", "none", "끄기", "없음")


def parse_offset(value: object, *, field: str = "offsets") -> timedelta:
    """One reminder offset: "1d", "2h", "45m", "1h30m" (days, hours, minutes in that order) or a whole
    number of minutes; between 1 minute and 14 days."""
    if isinstance(value, int) and not isinstance(value, bool):
        minutes = value
    elif isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        match = _OFFSET_ITEM.fullmatch(text)
        if not text or match is None or len(text) > 20:
            raise UserError("error.bad_offsets", field=field, value=shown(value))
        days, hours, mins = (int(part) if part else 0 for part in match.groups())
        minutes = days * 24 * 60 + hours * 60 + mins
    else:
        raise UserError("error.bad_offsets", field=field, value=shown(value))
    if not 1 <= minutes <= OFFSET_MAX.total_seconds() // 60:
        raise UserError("error.bad_offsets", field=field, value=shown(value))
    return timedelta(minutes=minutes)


def check_offsets(offsets: list[timedelta], *, field: str = "offsets", shown_as: str = "") -> tuple[timedelta, ...]:
    """At most five offsets, no two the same."""
    if len(offsets) > OFFSETS_MAX_COUNT or len(set(offsets)) != len(offsets):
        raise UserError(
            "error.bad_offsets", field=field, value=shown(shown_as or ", ".join(map(format_offset, offsets)))
        )
    return tuple(offsets)


def parse_offsets(value: str, *, field: str = "offsets") -> tuple[timedelta, ...]:
    """Reminder offsets typed as "1d, 1h" or "1h30m, 10m" (`off` for none), longest first."""
    if value.strip().lower() in OFFSETS_OFF:
        return ()
    parts = [part for part in value.split(",") if part.strip()]
    if not parts:
        raise UserError("error.bad_offsets", field=field, value=shown(value))
    offsets = [parse_offset(part, field=field) for part in parts]
    return tuple(sorted(check_offsets(offsets, field=field, shown_as=value), reverse=True))


def format_offset(offset: timedelta) -> str:
    """The inverse of `parse_offset`: 1d, 2h, 1h30m, 45m."""
    minutes = int(offset.total_seconds() // 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    text = (f"{days}d" if days else "") + (f"{hours}h" if hours else "") + (f"{mins}m" if mins else "")
    return text or "0m"


# --------------------------------------------------------------------------------------------------
# Discord ids


def check_snowflake(value: object, *, field: str) -> int | None:
    """A Discord id (0 or absent = not set)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= SNOWFLAKE_MAX:
        raise UserError("error.bad_snowflake", field=field, value=shown(value))
    return value or None


def check_ping_role(role_id: int | None, *, guild_id: int, field: str = "role") -> int | None:
    """A role reminders may mention: not @everyone, whose id is the server's own id."""
    if role_id is not None and role_id == guild_id:
        raise UserError("settings.bad_role", field=field)
    return role_id


# --------------------------------------------------------------------------------------------------
# Picking a material

MATERIAL_REF = re.compile(r"^id:(\d{1,18})$")


def material_ref(value: str, listed: tuple[int, ...]) -> int:
    """The id of the material an admin picked: `id:N` as autocomplete offers it, or the item number as
    /materials shows it, resolved against the list the admin saw (`listed`, ids in display order) — so the
    choice names one material for good, and a second removal of "item 1" cannot hit the next one."""
    text = value.strip()
    match = MATERIAL_REF.match(text)
    if match:
        return int(match.group(1))
    if text.isdigit() and 1 <= int(text) <= len(listed):
        return listed[int(text) - 1]
    raise UserError("curriculum.item_range", item=text[:20], max=len(listed))
