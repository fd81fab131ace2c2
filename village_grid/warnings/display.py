"""What the warnings pages' templates share: the words and colours of levels, message
types, outcomes and draft states (registered once by ``web.register_template_helpers``)."""

from __future__ import annotations

from village_grid.warnings import labels


def template_context() -> dict:
    return {
        "severity_colours": labels.SEVERITY_COLOURS,
        "severity_labels": labels.SEVERITY_LABELS,
        "msg_type_labels": labels.MSG_TYPE_LABELS,
        "outcome_labels": labels.OUTCOME_LABELS,
        "draft_state_labels": labels.DRAFT_STATE_LABELS,
    }
