"""A study snapshot keeps its roster, curriculum, resources and guide compressed: small in memory (a process
holds every study it owns), the same values when read, and the week count without unpacking anything."""

from __future__ import annotations

import dataclasses
import gc
import threading
import tracemalloc

from bot.core import model
from bot.core.definition import load_definition
from bot.core.guide import guide_to_data
from bot.core.model import Guide, Material, StudySnapshot
from tests.conftest import SEED_STUDY
from tests.unit.test_render import snapshot_of


def bundled() -> StudySnapshot:
    definition = load_definition(SEED_STUDY)
    assert definition.guide is not None
    return snapshot_of(definition, guide=Guide(by_locale=guide_to_data(definition.guide)))


def test_the_bundled_study_takes_a_third_of_its_unpacked_size() -> None:
    model.clear_unpacked_cache()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        snaps = [bundled() for _ in range(20)]
        model.clear_unpacked_cache()
        gc.collect()
        per_snapshot = (tracemalloc.get_traced_memory()[0] - before) / len(snaps)
    finally:
        tracemalloc.stop()
    # Unpacked, the bundled study (10 members, 9 weeks, 73 materials, a guide) took ~45 KiB.
    assert per_snapshot < 15 * 1024, per_snapshot


def test_packed_fields_read_back_as_given_and_stay_frozen() -> None:
    definition = load_definition(SEED_STUDY)
    snap = bundled()
    assert not any(isinstance(v, tuple) and v and isinstance(v[0], Material) for v in vars(snap).values())
    assert [m.name for m in snap.members] == [m.name for m in definition.members]
    assert [w.title for w in snap.weeks] == [w.title for w in definition.weeks]
    assert [m.url for w in snap.weeks for m in w.materials] == [m.url for w in definition.weeks for m in w.materials]
    assert [m.title for m in snap.resources] == [m.title for m in definition.resources]
    assert snap.guide is not None and snap.guide.for_locale("ko")
    assert snap == bundled()
    # dataclasses.replace keeps what it was not told to change.
    renamed = dataclasses.replace(snap, name="다른 이름")
    assert renamed.weeks == snap.weeks and renamed.members == snap.members and renamed.guide == snap.guide


def test_the_week_count_does_not_unpack_the_weeks() -> None:
    snap = bundled()
    model.clear_unpacked_cache()
    assert snap.week_count == 9
    assert model._unpacked == {}
    assert snap.week(3) is not None  # reading unpacks (and caches) the weeks
    assert len(model._unpacked) == 1


def test_plain_rows_and_objects_give_the_same_snapshot() -> None:
    snap = bundled()
    plain = dataclasses.replace(
        snap,
        weeks=model.Plain(model._weeks_encode(snap.weeks)),  # type: ignore[arg-type]
        members=model.Plain(model._members_encode(snap.members)),  # type: ignore[arg-type]
        resources=model.Plain(model._materials_encode(snap.resources)),  # type: ignore[arg-type]
    )
    assert plain == snap
    assert plain.week_count == snap.week_count


def test_readers_in_two_threads_see_the_same_values() -> None:
    snaps = [dataclasses.replace(bundled(), id=i) for i in range(3)]
    expected = [s.weeks for s in snaps]
    failures: list[str] = []

    def read() -> None:
        for _ in range(300):
            for snap, weeks in zip(snaps, expected, strict=True):
                if snap.weeks != weeks:
                    failures.append("differs")
            model.clear_unpacked_cache()

    threads = [threading.Thread(target=read) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
