"""/guide: the study guide (purpose, how it works, curriculum stages, framework notes) as one embed.

Pure: the guide comes from the snapshot (the `[guide]` section of the study definition, in the reader's
language, falling back to the other one). The text is the leader's own, from the definition file; the glue
sends it with mentions disabled like every reply.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.core.guide import section_from_data
from bot.core.model import StudySnapshot
from bot.i18n import t
from bot.render.embeds import FIELD_VALUE_MAX, EmbedField, EmbedSpec, Reply, fit, join_lines


def render_guide(snap: StudySnapshot, lang: str) -> Reply:
    data: Mapping[str, Any] = snap.guide.for_locale(lang) if snap.guide is not None else {}
    if not data:
        return Reply(content=t(lang, "guide.none"), ephemeral=True)
    section = section_from_data(data)
    fields = [EmbedField(t(lang, "guide.practice"), section.practice)]
    if section.stages:
        lines = []
        for stage in section.stages:
            weeks = (
                t(lang, "guide.week", week=stage.first_week)
                if stage.first_week == stage.last_week
                else t(lang, "guide.weeks", first=stage.first_week, last=stage.last_week)
            )
            line = f"**{weeks}** · {stage.title}"
            lines.append(f"{line}\n{stage.about}" if stage.about else line)
        fields.append(
            EmbedField(t(lang, "guide.stages"), join_lines(lines, FIELD_VALUE_MAX, t(lang, "common.more", n="{n}")))
        )
    fields += [EmbedField(f"🧰 {framework.name}", framework.notes) for framework in section.frameworks]
    embed = EmbedSpec(
        title=t(lang, "guide.title", study=snap.name),
        description=section.purpose,
        fields=fields,
        footer=t(lang, "guide.footer"),
    )
    return Reply(embeds=[fit(embed)])
