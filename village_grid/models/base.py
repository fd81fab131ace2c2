from datetime import UTC, datetime

from sqlalchemy import DateTime, String


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def iso_z(value: datetime | None) -> str | None:
    """A stored time (naive UTC) as the API writes every time: ISO 8601 ending in "Z"."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat() + "Z"


# Timestamps are stored as naive UTC on every engine.
Timestamp = DateTime(timezone=False)

# Materialised paths compare byte-wise on every engine, so a subtree is one
# index range scan (see hierarchy.service.subtree_clause).
PathString = String(255).with_variant(String(255, collation="C"), "postgresql")

# A unit's place in the natural order down the tree (``hierarchy/ordering.py``),
# compared byte-wise as the paths.
SortPathString = String(1000).with_variant(String(1000, collation="C"), "postgresql")
