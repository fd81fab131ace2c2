"""Door-plate tokens (QR issue): the hash index behind the lookup, and replaced plates."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import String, event
from sqlalchemy.orm import Mapped, mapped_column

from village_grid.extensions import db
from village_grid.models.base import Timestamp, utcnow
from village_grid.models.households import Household


def plate_token_hash(token: str) -> str:
    """SHA-256 (hex) of a door-plate token: what the lookup index holds."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class RetiredPlate(db.Model):
    """A token that was rotated away. Only its hash and when: nothing says whose it was,
    so the "this plate was replaced" page can reveal no household."""

    __tablename__ = "retired_plates"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    retired_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


@event.listens_for(Household.qr_token, "set")
def _keep_token_hash(target: Household, value, _old, _initiator) -> None:
    """Every ORM write of a token (creation, rotation, import) updates its hash."""
    target.qr_token_hash = plate_token_hash(value) if value else None
