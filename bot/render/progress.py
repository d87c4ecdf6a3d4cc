"""The progress picture: members × weeks (attendance and posted logs), the weekly rate and the curriculum stage.

Pure: `ProgressData` is a plain value built from the snapshot, the attendance records and the study logs
(`build_progress`), and `render_progress(data)` turns it into PNG bytes with matplotlib's Agg canvas — no
pyplot, no global state touched per call. Callers draw it in the bot's render pool (`bot.render.pool`, worker
processes): a 200 × 52 picture takes about a second of CPU that must not be spent on the event loop.

Text is drawn with NanumGothic (shipped by the `koreanize-matplotlib` package; the package itself is never
imported, since importing it rewrites matplotlib's global settings) with DejaVu Sans as the fallback for
the few Latin symbols NanumGothic lacks. Without a Hangul font every Korean name would be a row of boxes.

Large studies are split (`split_progress`): at most `MEMBERS_PER_IMAGE` rows per picture, each one with
every week, its own stage band and the study-wide weekly rate, so each image stays readable on a phone.
"""

from __future__ import annotations

import functools
import gc
import importlib.util
import io
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import Rectangle
from PIL import Image

from bot.core.schedule import Session

MEMBERS_PER_IMAGE = 100
MAX_IMAGES = 10  # Discord's attachment limit per message
NAME_CHARS = 14  # longer names are shortened in the picture


class Mark(StrEnum):
    """What a cell shows for one member and one week."""

    PRESENT = "present"
    LATE = "late"
    EXCUSED = "excused"
    ABSENT = "absent"
    NONE = "none"  # the session has not ended yet, or nobody recorded anything


_COLORS = {
    Mark.NONE: "#ebedf0",
    Mark.PRESENT: "#2e9e5b",
    Mark.LATE: "#f0b232",
    Mark.EXCUSED: "#5b8def",
    Mark.ABSENT: "#da373c",
}
_ORDER = (Mark.NONE, Mark.PRESENT, Mark.LATE, Mark.EXCUSED, Mark.ABSENT)
_CMAP = ListedColormap([_COLORS[m] for m in _ORDER])
_STAGE_COLORS = ("#fde8e1", "#e3eefc", "#e6f4ea", "#fbf1d8", "#efe6fb", "#e0f4f4")


@dataclass(frozen=True, slots=True)
class ProgressLabels:
    """Every piece of text the picture shows that is not data, in the reader's language."""

    title: str
    subtitle: str
    rate: str
    stage: str
    log: str
    marks: Mapping[str, str]  # Mark value → legend text
    page: str = ""  # e.g. "members 1–50 of 200"; empty for a single picture


@dataclass(frozen=True, slots=True)
class ProgressWeek:
    number: int
    day: date  # when it was (or will be) held, local date
    stage: str  # the curriculum stage this week belongs to ("" when the guide names none)
    rate: float | None  # attended / expected, None before the session has ended


@dataclass(frozen=True, slots=True)
class ProgressRow:
    name: str
    marks: tuple[Mark, ...]  # one per week
    logs: tuple[bool, ...]  # one per week: a log was posted for that week


@dataclass(frozen=True, slots=True)
class ProgressData:
    labels: ProgressLabels
    weeks: tuple[ProgressWeek, ...]
    rows: tuple[ProgressRow, ...]


# --------------------------------------------------------------------------------------------------
# Building the data


def progress_labels(study_name: str, today: date, lang: str) -> ProgressLabels:
    """The picture's words in `lang`, from the catalogues."""
    from bot.i18n import t

    return ProgressLabels(
        title=t(lang, "progress.title", study=study_name),
        subtitle=t(lang, "progress.subtitle", date=today.isoformat()),
        rate=t(lang, "progress.rate"),
        stage=t(lang, "progress.stage"),
        log=t(lang, "progress.log"),
        marks={mark.value: t(lang, f"progress.mark.{mark.value}") for mark in Mark},
    )


def _mark(status: str | None, held: bool) -> Mark:
    if status:
        try:
            return Mark(status)
        except ValueError:
            return Mark.NONE
    return Mark.ABSENT if held else Mark.NONE


def week_rate(marks: Sequence[Mark]) -> float | None:
    """Present or late, out of everyone expected: excused members are not expected. None when nobody was."""
    expected = [m for m in marks if m in (Mark.PRESENT, Mark.LATE, Mark.ABSENT)]
    if not expected:
        return None
    return sum(m in (Mark.PRESENT, Mark.LATE) for m in expected) / len(expected)


def build_progress(
    *,
    labels: ProgressLabels,
    sessions: Sequence[Session],
    members: Sequence[tuple[int, str]],
    attendance: Mapping[tuple[int, date], str],
    logs: Mapping[tuple[int, date], object] | frozenset[tuple[int, date]] | set[tuple[int, date]],
    stages: Mapping[int, str],
    now: datetime,
    timezone: str,
    only: int | None = None,
) -> ProgressData:
    """The picture's data. `sessions` are the schedule's sessions (cancelled ones are left out here: they
    count for nothing); records are keyed by (member id, the session's original date). A session that has
    ended with no record for a member counts as absent; one that has not ended shows nothing yet.
    `only` (a member id) keeps that member's row, while the weekly rate stays the whole study's."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(timezone)
    held_sessions = [s for s in sessions if not s.cancelled and s.week is not None]
    all_rows: list[tuple[int, ProgressRow]] = []
    for member_id, name in members:
        marks = tuple(_mark(attendance.get((member_id, s.original_date)), s.end <= now) for s in held_sessions)
        posted = tuple((member_id, s.original_date) in logs for s in held_sessions)
        all_rows.append((member_id, ProgressRow(name=name, marks=marks, logs=posted)))
    weeks = []
    for index, session in enumerate(held_sessions):
        assert session.week is not None
        column = [row.marks[index] for _, row in all_rows]
        rate = week_rate(column) if session.end <= now else None
        weeks.append(
            ProgressWeek(
                number=session.week,
                day=session.start.astimezone(zone).date(),
                stage=stages.get(session.week, ""),
                rate=rate,
            )
        )
    rows = tuple(row for member_id, row in all_rows if only is None or member_id == only)
    return ProgressData(labels=labels, weeks=tuple(weeks), rows=rows)


def split_progress(data: ProgressData, per_image: int = MEMBERS_PER_IMAGE, page_label: str = "") -> list[ProgressData]:
    """Pages of at most `per_image` members (at most MAX_IMAGES pages); `page_label` is formatted with
    first, last and total, e.g. "{first}–{last} / {total}"."""
    if len(data.rows) <= per_image:
        return [data]
    pages = []
    total = len(data.rows)
    for start in range(0, min(total, per_image * MAX_IMAGES), per_image):
        chunk = data.rows[start : start + per_image]
        label = page_label.format(first=start + 1, last=start + len(chunk), total=total) if page_label else ""
        pages.append(replace(data, rows=chunk, labels=replace(data.labels, page=label)))
    return pages


# --------------------------------------------------------------------------------------------------
# Fonts


class FontMissingError(RuntimeError):
    """The Hangul font is not installed (the `koreanize-matplotlib` package ships it)."""


_font_lock = threading.Lock()
_font_family: list[str] | None = None


def hangul_font_path() -> Path:
    """NanumGothic.ttf inside the koreanize-matplotlib package, found without importing the package."""
    spec = importlib.util.find_spec("koreanize_matplotlib")
    if spec is None or not spec.submodule_search_locations:
        raise FontMissingError("the koreanize-matplotlib package (NanumGothic) is not installed")
    for location in spec.submodule_search_locations:
        path = Path(location) / "fonts" / "NanumGothic.ttf"
        if path.is_file():
            return path
    raise FontMissingError("NanumGothic.ttf was not found in the koreanize-matplotlib package")


def font_family() -> list[str]:
    """Register NanumGothic once and return the family list to draw with (Hangul first, then Latin)."""
    global _font_family
    with _font_lock:
        if _font_family is None:
            path = hangul_font_path()
            for face in ("NanumGothic.ttf", "NanumGothicBold.ttf"):
                if (path.parent / face).is_file():
                    font_manager.fontManager.addfont(str(path.parent / face))
            name = font_manager.FontProperties(fname=str(path)).get_name()
            _font_family = [name, "DejaVu Sans"]
        return _font_family


class _Fonts:
    """Font properties per (size, weight), with the fallback family only for text NanumGothic cannot show:
    a family list makes matplotlib lay out every string twice as slowly."""

    def __init__(self, family: list[str]) -> None:
        self.family = family
        self.cache: dict[tuple[float, str, bool], FontProperties] = {}

    def get(self, value: str, size: float, weight: str) -> FontProperties:
        plain = all(ord(ch) in _hangul_charmap() or ch == "\n" for ch in value)
        key = (size, weight, plain)
        found = self.cache.get(key)
        if found is None:
            family = self.family[:1] if plain else self.family
            found = self.cache[key] = FontProperties(family=family, size=size, weight=weight)
        return found


@functools.cache
def _hangul_charmap() -> frozenset[int]:
    from matplotlib.ft2font import FT2Font

    return frozenset(FT2Font(str(hangul_font_path())).get_charmap())


# --------------------------------------------------------------------------------------------------
# Drawing

_CELL_W_WIDE = 0.30  # inches per week, up to 26 weeks (room for the date under the number)
_CELL_W_NARROW = 0.22  # inches per week beyond that (the number only)
_CELL_H = 0.22  # inches per member
_DPI = 100


def _short(name: str, limit: int = NAME_CHARS) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def _stage_runs(weeks: Sequence[ProgressWeek]) -> list[tuple[int, int, str]]:
    """Contiguous runs of weeks with the same stage: (first index, last index, stage)."""
    runs: list[tuple[int, int, str]] = []
    for index, week in enumerate(weeks):
        if runs and runs[-1][2] == week.stage and runs[-1][1] == index - 1:
            runs[-1] = (runs[-1][0], index, week.stage)
        else:
            runs.append((index, index, week.stage))
    return runs


def render_progress(data: ProgressData) -> bytes:
    """One PNG of `data` (split large studies first with `split_progress`).

    Everything is drawn on one axes whose units are inches from the top-left corner, with plain texts
    and line collections: matplotlib's tick machinery and extra axes cost several times more than the
    picture itself.
    """
    fonts = _Fonts(font_family())
    n_weeks = max(1, len(data.weeks))
    n_rows = max(1, len(data.rows))
    cell_w = _CELL_W_WIDE if n_weeks <= 26 else _CELL_W_NARROW
    longest = max((len(_short(r.name)) for r in data.rows), default=4)
    left = 0.5 + 0.13 * max(longest, 5)
    grid_w = n_weeks * cell_w
    width = max(left + grid_w + 0.3, 6.8)
    head = 0.8 + (0.25 if data.labels.page else 0)  # title, subtitle, page
    stage_h, rate_h, gap = 0.36, 0.9, 0.14
    grid_top = head + stage_h + gap + rate_h + gap
    grid_h = n_rows * _CELL_H
    height = grid_top + grid_h + 0.45 + 0.45 + 0.3  # week labels, legend, stage names

    fig = Figure(figsize=(width, height), dpi=_DPI)
    FigureCanvasAgg(fig)
    fig.patch.set_facecolor("white")
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.axis("off")

    def col(index: float) -> float:
        return left + (index + 0.5) * cell_w

    def text(x: float, y: float, value: str, size: float, weight: str = "normal", **kwargs: Any) -> None:
        ax.text(x, y, value, fontproperties=fonts.get(value, size, weight), **kwargs)

    text(0.3, 0.32, data.labels.title, 15, va="center")
    text(0.3, 0.62, data.labels.subtitle, 9, va="center", color="#555")
    if data.labels.page:
        text(0.3, 0.87, data.labels.page, 9, va="center", color="#555")

    # Stage band: one coloured span per run of weeks in the same stage, its name written inside.
    y = head
    named = list(dict.fromkeys(w.stage for w in data.weeks if w.stage))  # stages in order, numbered from 1
    for number, (first, last, stage) in enumerate(_stage_runs(data.weeks)):
        x0 = left + first * cell_w
        ax.add_patch(
            Rectangle(
                (x0, y), (last - first + 1) * cell_w, stage_h, lw=0, color=_STAGE_COLORS[number % len(_STAGE_COLORS)]
            )
        )
        if stage:
            room = (last - first + 1) * cell_w / 0.095  # ~0.095 inch per character at 8 pt
            shown = stage if len(stage) <= room else str(named.index(stage) + 1)
            text((col(first) + col(last)) / 2, y + stage_h / 2, shown, 8, ha="center", va="center")
    text(left - 0.12, y + stage_h / 2, data.labels.stage, 8, ha="right", va="center", color="#555")

    # Weekly attendance rate: bars from the baseline up, 100% = rate_h.
    y += stage_h + gap
    base = y + rate_h
    ax.hlines([base - rate_h * f for f in (0, 0.5, 1)], left, left + grid_w, colors="#c8ccd0", linewidths=0.6)
    for fraction in (0, 0.5, 1):
        text(
            left - 0.06, base - rate_h * fraction, f"{round(fraction * 100)}%", 7, ha="right", va="center", color="#555"
        )
    text(left - 0.5, base - rate_h / 2, data.labels.rate, 8, ha="right", va="center", color="#555")
    heights = [(w.rate or 0.0) * rate_h for w in data.weeks]
    bars = [(col(i), h) for i, h in enumerate(heights) if h > 0]
    if bars:  # one line collection, as thick as a bar: far cheaper than a patch per bar
        ax.vlines(
            [b[0] for b in bars], [base - b[1] for b in bars], base, colors="#4b7bec", linewidths=cell_w * 0.7 * 72
        )
    if len(data.weeks) <= 26:
        for index, week in enumerate(data.weeks):
            if week.rate is not None:
                text(
                    col(index),
                    base - week.rate * rate_h - 0.03,
                    f"{round(week.rate * 100)}",
                    7,
                    ha="center",
                    va="bottom",
                )

    # The grid: one row per member, one column per week; a dot marks a posted log.
    y = grid_top
    codes = {mark: i for i, mark in enumerate(_ORDER)}
    matrix = [[codes[m] for m in row.marks] or [0] for row in data.rows] or [[0] * n_weeks]
    ax.imshow(
        matrix,
        cmap=_CMAP,
        vmin=0,
        vmax=len(_ORDER) - 1,
        aspect="auto",
        interpolation="nearest",
        extent=(left, left + grid_w, y + grid_h, y),
    )
    ax.vlines([left + x * cell_w for x in range(1, n_weeks)], y, y + grid_h, colors="white", linewidths=1.2)
    ax.hlines([y + r * _CELL_H for r in range(1, n_rows)], left, left + grid_w, colors="white", linewidths=1.2)
    dots = [(col(x), y + (r + 0.5) * _CELL_H) for r, row in enumerate(data.rows) for x, p in enumerate(row.logs) if p]
    if dots:
        ax.scatter([d[0] for d in dots], [d[1] for d in dots], s=9, c="#1f2328", marker="o", linewidths=0)
    for r, row in enumerate(data.rows):
        text(left - 0.08, y + (r + 0.5) * _CELL_H, _short(row.name), 8.5, ha="right", va="center")
    labels_y = y + grid_h + 0.05
    for column, week in enumerate(data.weeks):
        label = f"{week.number}\n{week.day.month}/{week.day.day}" if n_weeks <= 26 else f"{week.number}"
        text(col(column), labels_y, label, 6.5, ha="center", va="top", linespacing=1.1)

    # Legend: coloured squares and the log dot, on one line.
    legend_y = height - 0.55
    cursor = 0.3
    entries = [(m, data.labels.marks.get(m.value, m.value)) for m in (*_ORDER[1:], Mark.NONE)]
    for mark, label in entries:
        ax.add_patch(Rectangle((cursor, legend_y - 0.07), 0.14, 0.14, color=_COLORS[mark], lw=0))
        text(cursor + 0.2, legend_y, label, 8, va="center")
        cursor += 0.35 + 0.11 * len(label)
    ax.scatter([cursor + 0.07], [legend_y], s=12, c="#1f2328", marker="o", linewidths=0)
    text(cursor + 0.2, legend_y, data.labels.log, 8, va="center")
    if named:
        line = f"{data.labels.stage}: " + "  ·  ".join(f"{i} {stage}" for i, stage in enumerate(named, start=1))
        text(0.3, height - 0.22, line, 8, va="center", color="#333")

    # Encode RGB, not RGBA: the picture is opaque, and a quarter less data is a quarter less PNG work.
    canvas = fig.canvas
    assert isinstance(canvas, FigureCanvasAgg)
    canvas.draw()  # type: ignore[no-untyped-call]
    pixels = canvas.buffer_rgba()  # type: ignore[no-untyped-call]
    image = Image.frombuffer("RGBA", canvas.get_width_height(), pixels, "raw", "RGBA", 0, 1)
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def warm_up() -> None:
    """Ready this process to draw: one small picture (matplotlib's lazy imports, the Hangul font, the text
    caches), then everything that made moved out of the garbage collector's way (`gc.freeze`). Without it a
    collection now and then walks all of matplotlib's objects in the middle of a picture — the slow tail of
    bench/progress.py. The render pool's workers run it as they start."""
    now = datetime(2026, 1, 1, 10, tzinfo=UTC)
    session = Session(date(2026, 1, 1), now.replace(hour=9), now, 1)
    render_progress(
        build_progress(
            labels=progress_labels("스터디 study", now.date(), "ko"),
            sessions=[session],
            members=[(1, "참여자 member")],
            attendance={(1, session.original_date): "present"},
            logs={(1, session.original_date)},
            stages={1: "튜토리얼"},
            now=now,
            timezone="Asia/Seoul",
        )
    )
    gc.collect()
    gc.freeze()


def render_pages(pages: Sequence[ProgressData]) -> list[bytes]:
    """Every page as a PNG, in order, in this process (benchmarks and the console; the bot uses its pool)."""
    return [render_progress(page) for page in pages]


def render_for_recap(
    snapshot: Any,
    schedule: Sequence[Session],
    attendance: Mapping[int, Mapping[date, str]],
    logs: Mapping[int, set[date]],
    *,
    lang: str,
    now: datetime | None = None,
) -> bytes:
    """`recap_progress_data` drawn in this process (the bot draws it in its render pool instead)."""
    return render_progress(recap_progress_data(snapshot, schedule, attendance, logs, lang=lang, now=now))


def recap_progress_data(
    snapshot: Any,
    schedule: Sequence[Session],
    attendance: Mapping[int, Mapping[date, str]],
    logs: Mapping[int, set[date]],
    *,
    lang: str,
    now: datetime | None = None,
) -> ProgressData:
    """The first page of the picture from the shapes the recap post holds (statuses and log dates by member id).

    Without `now`, sessions up to the last one anybody has a record for count as held (the recap is posted
    right after a session, whose check-ins are in by then)."""
    from bot.core.guide import stage_titles

    flat = {(member, day): str(status) for member, days in attendance.items() for day, status in days.items()}
    posted = {(member, day) for member, days in logs.items() for day in days}
    if now is None:
        recorded = {day for _, day in flat}
        ends = [s.end for s in schedule if s.original_date in recorded]
        now = max(ends) if ends else min((s.start for s in schedule), default=datetime(1970, 1, 1, tzinfo=UTC))
    guide = getattr(snapshot, "guide", None)
    data = build_progress(
        labels=progress_labels(snapshot.name, now.date(), lang),
        sessions=schedule,
        members=[(m.id, m.name) for m in snapshot.members],
        attendance=flat,
        logs=posted,
        stages=stage_titles(guide.for_locale(lang)) if guide is not None else {},
        now=now,
        timezone=snapshot.recurrence.timezone,
    )
    return split_progress(data)[0]
