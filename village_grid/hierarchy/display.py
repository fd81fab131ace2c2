"""What every page may show of the tree and the registry: the words of unit kinds,
household flags, members' relations and sexes, and the ten-household cap. Registered
once for all templates by ``web.register_template_helpers``."""

from __future__ import annotations

from village_grid.hierarchy import service
from village_grid.hierarchy.labels import FLAG_LABELS, KIND_LABELS, RELATION_LABELS, SEX_LABELS


def template_context() -> dict:
    return {
        "unit_kind_labels": KIND_LABELS,
        "household_flag_labels": FLAG_LABELS,
        "member_relation_labels": RELATION_LABELS,
        "member_sex_labels": SEX_LABELS,
        "team_cap": service.team_max_households,
    }
