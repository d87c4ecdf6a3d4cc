"""The [guide] section of the study definition: the shipped guide, round trips, and every rule naming its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.definition import DefinitionError, dump_definition, load_definition, parse_definition
from bot.core.guide import guide_from_json, guide_to_data, guide_to_json, stage_titles
from bot.core.model import Guide, StudySnapshot
from bot.render.guide import render_guide
from tests.unit.test_render import snapshot_of

SHIPPED = Path(__file__).resolve().parents[2] / "studies" / "pytorch-study.toml"

BASE = """
[study]
name = "s"
timezone = "Asia/Seoul"
locale = "ko"
weekday = "thursday"
start_time = "09:00"
duration_minutes = 60
first_session = 2026-12-03
location_name = "Gather Town"
reminder_offsets = []

[[week]]
number = 1
title = "one"

[[week]]
number = 2
title = "two"

[[week]]
number = 3
title = "three"
"""

GUIDE_KO = """
[guide.ko]
purpose = "목적"
practice = "방식"
  [[guide.ko.stage]]
  first_week = 1
  last_week = 2
  title = "기초"
  [[guide.ko.stage]]
  first_week = 3
  last_week = 3
  title = "심화"
"""


def test_shipped_guide_has_both_languages_the_three_stages_and_three_frameworks() -> None:
    guide = load_definition(SHIPPED).guide
    assert guide is not None
    for language in ("ko", "en"):
        section = guide.section(language)
        assert section is not None
        assert [(s.first_week, s.last_week) for s in section.stages] == [(1, 1), (2, 5), (6, 9)]
        assert [f.name for f in section.frameworks] == ["TensorFlow", "Keras", "PyTorch"]
        assert "GitHub" in section.practice
    titles = stage_titles(guide.section("ko"))
    assert titles[1] == "파이토치 공식 튜토리얼"
    assert titles[2] == titles[5] == "모두를 위한 딥러닝 시즌2"
    assert titles[9] == "가짜연구소 Tutorial-Book"
    assert stage_titles(guide.section("en"))[3] == "Deep Learning Zero To All, Season 2"


def test_guide_round_trips_through_the_file_and_the_stored_json() -> None:
    definition = load_definition(SHIPPED)
    assert parse_definition(dump_definition(definition)) == definition
    assert guide_from_json(guide_to_json(definition.guide)) == definition.guide
    assert guide_to_json(None) == ""
    assert guide_from_json("") is None and guide_from_json("not json") is None


def test_a_study_without_guide_still_parses_and_dumps_without_one() -> None:
    definition = parse_definition(BASE)
    assert definition.guide is None
    assert "[guide" not in dump_definition(definition)


@pytest.mark.parametrize(
    ("extra", "key", "words"),
    [
        ("[guide.de]\npurpose='x'\npractice='y'\n", "guide.de", "unknown key"),
        ("[guide.ko]\npractice='y'\n", "guide.ko.purpose", "is required"),
        ("[guide.ko]\npurpose='x'\npractice='y'\ncolour='red'\n", "guide.ko.colour", "unknown key"),
        ("[guide.ko]\npurpose=''\npractice='y'\n", "guide.ko.purpose", "is empty"),
        ("[guide.ko]\npurpose='" + "x" * 1001 + "'\npractice='y'\n", "guide.ko.purpose", "at most 1000"),
        (
            "[guide.ko]\npurpose='x'\npractice='y'\n[[guide.ko.stage]]\nfirst_week=1\nlast_week=4\ntitle='t'\n",
            "guide.ko.stage[1].last_week",
            "1..3",
        ),
        (
            "[guide.ko]\npurpose='x'\npractice='y'\n[[guide.ko.stage]]\nfirst_week=2\nlast_week=1\ntitle='t'\n",
            "guide.ko.stage[1].last_week",
            "2..3",
        ),
        (
            "[guide.ko]\npurpose='x'\npractice='y'\n[[guide.ko.stage]]\nfirst_week=1\nlast_week=2\ntitle='t'\n"
            "[[guide.ko.stage]]\nfirst_week=2\nlast_week=3\ntitle='u'\n",
            "guide.ko.stage[2].first_week",
            "do not overlap",
        ),
        (
            "[guide.ko]\npurpose='x'\npractice='y'\n[[guide.ko.stage]]\nfirst_week=1\nlast_week=1\ntitle=\"a\\nb\"\n",
            "guide.ko.stage[1].title",
            "control character",
        ),
        (
            "[guide.ko]\npurpose='x'\npractice='y'\n[[guide.ko.framework]]\nname='PyTorch'\n",
            "guide.ko.framework[1].notes",
            "is required",
        ),
        (
            GUIDE_KO + "[guide.en]\npurpose='p'\npractice='q'\n[[guide.en.stage]]\nfirst_week=1\nlast_week=3\n"
            "title='all'\n",
            "guide.en.stage",
            "same stages",
        ),
        ("[guide]\n", "guide", "needs a [guide.ko]"),
    ],
)
def test_bad_guide_is_refused_naming_the_key(extra: str, key: str, words: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        parse_definition(BASE + extra)
    assert caught.value.key == key
    assert words in caught.value.message


def _snapshot(guide_text: str) -> StudySnapshot:
    definition = parse_definition(BASE + guide_text)
    data = guide_to_data(definition.guide)
    return snapshot_of(definition, guide=Guide(by_locale=data) if data else None)


def test_guide_renders_in_the_readers_language_with_stages_and_frameworks() -> None:
    definition = load_definition(SHIPPED)
    snap = snapshot_of(definition, guide=Guide(by_locale=guide_to_data(definition.guide)))
    ko = render_guide(snap, "ko").embeds[0]
    assert "스터디 안내" in ko.title and "게더타운" in ko.fields[0].value
    assert "**2~5주차** · 모두를 위한 딥러닝 시즌2" in ko.fields[1].value
    assert [f.name for f in ko.fields[2:]] == ["🧰 TensorFlow", "🧰 Keras", "🧰 PyTorch"]
    en = render_guide(snap, "en").embeds[0]
    assert "study guide" in en.title and "**Weeks 6–9** · Pseudo-Lab Tutorial-Book" in en.fields[1].value
    assert en.total_length() <= 6000 and ko.total_length() <= 6000


def test_guide_in_one_language_is_shown_to_readers_of_the_other_and_none_says_how_to_add_one() -> None:
    snap = _snapshot(GUIDE_KO)
    assert render_guide(snap, "en").embeds[0].description == "목적"
    empty = render_guide(_snapshot(""), "en")
    assert empty.ephemeral and "[guide]" in empty.content
