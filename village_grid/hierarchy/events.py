"""What the registry tells the domains above it while it changes households.

The registry sits below the tasks (a task reaches the households of its teams),
so it does not call them: it sends these blinker signals, in the caller's
transaction and before it returns, and the tasks domain receives them
(``tasks/membership.py`` connects its receivers when it is imported, which the
app factory does at start-up). A registry change with nobody listening would
leave open sweeps miscounted, so sending one without a receiver is an error.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from blinker import Namespace
from sqlalchemy.orm import Session

_signals = Namespace()

# Households are about to leave their team or a flag (``leaving``: their ids) and
# to join teams (``joining_teams``: the teams' ids). Receivers get the session and
# keyword arguments ``now``, ``leaving`` and ``joining_teams``.
households_changing = _signals.signal("households-changing")
# Households joined a team or gained a flag. Receivers get the session and
# ``household_ids``.
households_changed = _signals.signal("households-changed")


def _send(signal, session: Session, **kwargs) -> None:
    if not signal.receivers:
        raise RuntimeError(f"nobody receives {signal.name}: the tasks domain is not loaded")
    signal.send(session, **kwargs)


def changing(
    session: Session,
    now: datetime,
    *,
    leaving: Iterable[int] = (),
    joining_teams: Iterable[int] = (),
) -> None:
    """Before households change team or flags (see ``tasks.membership.before_change``)."""
    _send(
        households_changing,
        session,
        now=now,
        leaving=list(leaving),
        joining_teams=list(joining_teams),
    )


def changed(session: Session, household_ids: Iterable[int]) -> None:
    """After households joined a team or gained a flag (``tasks.membership.after_change``)."""
    _send(households_changed, session, household_ids=list(household_ids))
