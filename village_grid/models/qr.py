"""Replaced door plates (the tokens themselves: ``models/households.py``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from village_grid.extensions import db
from village_grid.models.base import Timestamp, utcnow
from village_grid.models.households import plate_token_hash  # noqa: F401  (the plates' hash)


class RetiredPlate(db.Model):
    """A token that was rotated away. Only its hash and when: nothing says whose it was,
    so the "this plate was replaced" page can reveal no household."""

    __tablename__ = "retired_plates"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    retired_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
