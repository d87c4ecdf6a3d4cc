"""Rules for text and links people type into admin commands; each failure is a `UserError` with a key.

Names and topics end up in embeds and reminders: they must not be able to ping anyone or restyle the
message, so mentions and Markdown control characters are refused rather than silently altered.
"""

from __future__ import annotations

import re
from datetime import date, time, timedelta
from urllib.parse import urlparse

from bot.errors import UserError

NAME_MAX = 100
TITLE_MAX = 200
REASON_MAX = 200
URL_MAX = 500
FORBIDDEN_CHARS = "*~`|[]<>\\"
_MENTION = re.compile(r"@(everyone|here)\b", re.IGNORECASE)


def clean_text(value: str, *, field: str, limit: int) -> str:
    """Trimmed text of 1..limit characters with no mentions, no Markdown control characters, one line."""
    text = value.strip()
    if not text:
        raise UserError("error.text_empty", field=field)
    if len(text) > limit:
        raise UserError("error.text_too_long", field=field, limit=limit, length=len(text))
    if _MENTION.search(text):
        raise UserError("error.text_mention", field=field)
    bad = sorted({c for c in text if c in FORBIDDEN_CHARS})
    if bad or "\n" in text or "\r" in text:
        shown = " ".join(bad) if bad else "↵"
        raise UserError("error.text_markdown", field=field, chars=shown, forbidden=" ".join(FORBIDDEN_CHARS))
    return text


def clean_name(value: str) -> str:
    return clean_text(value, field="name", limit=NAME_MAX)


def clean_title(value: str) -> str:
    return clean_text(value, field="title", limit=TITLE_MAX)


def clean_url(value: str, *, field: str = "url", allow_empty: bool = False) -> str:
    """An http(s) URL with a host, at most URL_MAX characters."""
    url = value.strip()
    if not url and allow_empty:
        return ""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or " " in url:
        raise UserError("error.url_scheme", field=field, value=url[:80])
    if len(url) > URL_MAX:
        raise UserError("error.text_too_long", field=field, limit=URL_MAX, length=len(url))
    return url


def escape_markdown(text: str) -> str:
    """Escape the Markdown characters that validation still lets through (e.g. `_` in file names)."""
    return re.sub(r"([_*~`|>#\\\[\]])", r"\\\1", text)


def parse_date(value: str, *, field: str = "date") -> date:
    """A calendar date typed as YYYY-MM-DD."""
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise UserError("error.bad_date", field=field, value=value[:40]) from None


def parse_time(value: str, *, field: str = "time") -> time:
    """A time of day typed as HH:MM (24-hour clock)."""
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", value)
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise UserError("error.bad_time", field=field, value=value[:40])
    return time(int(match.group(1)), int(match.group(2)))


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


_OFFSET_PART = re.compile(r"(\d+)\s*([dhm])")
OFFSETS_OFF = ("off", "none", "끄기", "없음")
OFFSET_MAX = timedelta(days=14)
OFFSETS_MAX_COUNT = 5


def parse_offsets(value: str) -> tuple[timedelta, ...]:
    """Reminder offsets typed as "1d, 1h" or "1h30m, 10m": each 1 minute to 14 days, at most 5, no repeats."""
    if value.strip().lower() in OFFSETS_OFF:
        return ()
    offsets: list[timedelta] = []
    for raw in value.split(","):
        part = raw.strip().lower().replace(" ", "")
        if not part:
            continue
        if not re.fullmatch(r"(\d{1,5}[dhm])+", part):
            raise UserError("error.bad_offsets", value=value[:60])
        total = timedelta()
        for amount, unit in _OFFSET_PART.findall(part):
            total += {"d": timedelta(days=1), "h": timedelta(hours=1), "m": timedelta(minutes=1)}[unit] * int(amount)
        if total < timedelta(minutes=1) or total > OFFSET_MAX:
            raise UserError("error.bad_offsets", value=value[:60])
        if total in offsets:
            raise UserError("error.bad_offsets", value=value[:60])
        offsets.append(total)
    if not offsets or len(offsets) > OFFSETS_MAX_COUNT:
        raise UserError("error.bad_offsets", value=value[:60])
    return tuple(sorted(offsets, reverse=True))


def format_offset(offset: timedelta) -> str:
    """The inverse of one `parse_offsets` item: 1d, 2h, 1h30m, 45m."""
    minutes = int(offset.total_seconds() // 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    text = (f"{days}d" if days else "") + (f"{hours}h" if hours else "") + (f"{mins}m" if mins else "")
    return text or "0m"


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
