"""The study guide: what the study is for, how it works, its curriculum stages and notes on the frameworks.

It is written in the `[guide]` section of the study definition, one table per language::

    [guide.ko]                        # one table per language: ko and/or en (at least one)
    purpose = \"\"\"…\"\"\"               # why the study exists; 1-1000 characters, may span lines
    practice = \"\"\"…\"\"\"              # how it works (notes, blog posts, the study log); 1-1000 characters

      [[guide.ko.stage]]              # the curriculum's stages, in week order (at most 12)
      first_week = 1                  # the stage covers weeks first_week..last_week of the curriculum
      last_week = 1                   # (1..number of [[week]]s; stages do not overlap)
      title = "…"                     # 1-100 characters, one line
      about = "…"                     # optional, up to 300 characters, one line

      [[guide.ko.framework]]          # short notes, e.g. on the frameworks the study compares (at most 5)
      name = "PyTorch"                # 1-100 characters, one line
      notes = \"\"\"…\"\"\"              # 1-500 characters, may span lines

When both languages are given, their stages must cover the same weeks (the progress picture shows the
same bands whatever the reader's language). The stage of a week is what the progress picture shows above
that week; weeks no stage covers show none. The database keeps the guide as JSON text,
``{"ko": {...}, "en": {...}}`` (`guide_to_data` / `guide_from_data`).

Pure: no Discord, no database, no clock.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

GUIDE_LANGUAGES = ("ko", "en")
MAX_GUIDE_TEXT = 1000
MAX_STAGE_TITLE = 100
MAX_STAGE_ABOUT = 300
MAX_STAGES = 12
MAX_FRAMEWORKS = 5
MAX_FRAMEWORK_NOTES = 500


@dataclass(frozen=True, slots=True)
class GuideStage:
    first_week: int
    last_week: int
    title: str
    about: str = ""


@dataclass(frozen=True, slots=True)
class GuideFramework:
    name: str
    notes: str


@dataclass(frozen=True, slots=True)
class GuideSection:
    """The guide in one language."""

    purpose: str
    practice: str
    stages: tuple[GuideStage, ...] = ()
    frameworks: tuple[GuideFramework, ...] = ()


@dataclass(frozen=True, slots=True)
class GuideDefinition:
    """The `[guide]` section: a section per language code (ko, en), in that order."""

    sections: tuple[tuple[str, GuideSection], ...]

    def section(self, language: str) -> GuideSection | None:
        return dict(self.sections).get(language)


def guide_to_data(guide: GuideDefinition | None) -> dict[str, Any]:
    """The guide as plain JSON-ready data: {"ko": {...}, "en": {...}}; {} for no guide."""
    if guide is None:
        return {}
    return {
        language: {
            "purpose": section.purpose,
            "practice": section.practice,
            "stages": [
                {"first_week": s.first_week, "last_week": s.last_week, "title": s.title, "about": s.about}
                for s in section.stages
            ],
            "frameworks": [{"name": f.name, "notes": f.notes} for f in section.frameworks],
        }
        for language, section in guide.sections
    }


def guide_to_json(guide: GuideDefinition | None) -> str:
    """The text stored in `study.guide` ("" for no guide)."""
    data = guide_to_data(guide)
    return json.dumps(data, ensure_ascii=False, sort_keys=True) if data else ""


def section_from_data(data: Mapping[str, Any]) -> GuideSection:
    """One language's stored section; missing parts read as empty (the stored JSON was checked on import)."""
    return GuideSection(
        purpose=str(data.get("purpose", "")),
        practice=str(data.get("practice", "")),
        stages=tuple(
            GuideStage(
                first_week=int(s.get("first_week", 0)),
                last_week=int(s.get("last_week", 0)),
                title=str(s.get("title", "")),
                about=str(s.get("about", "")),
            )
            for s in data.get("stages", ())
            if isinstance(s, Mapping)
        ),
        frameworks=tuple(
            GuideFramework(name=str(f.get("name", "")), notes=str(f.get("notes", "")))
            for f in data.get("frameworks", ())
            if isinstance(f, Mapping)
        ),
    )


def guide_from_data(data: Mapping[str, Any] | None) -> GuideDefinition | None:
    if not data:
        return None
    sections = tuple(
        (language, section_from_data(data[language]))
        for language in GUIDE_LANGUAGES
        if isinstance(data.get(language), Mapping)
    )
    return GuideDefinition(sections) if sections else None


def guide_from_json(text: str) -> GuideDefinition | None:
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return guide_from_data(data) if isinstance(data, dict) else None


def stage_titles(section: Mapping[str, Any] | GuideSection | None) -> dict[int, str]:
    """Week number → the title of the stage covering it, from a stored section (or a parsed one)."""
    if section is None:
        return {}
    parsed = section if isinstance(section, GuideSection) else section_from_data(section)
    titles: dict[int, str] = {}
    for stage in parsed.stages:
        for week in range(stage.first_week, stage.last_week + 1):
            titles.setdefault(week, stage.title)
    return titles
