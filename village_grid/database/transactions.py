"""One request's writes, committed or rolled back as one: the helper every page route
uses instead of writing ``commit()`` and ``rollback()`` by hand.

::

    try:
        with committed():
            task = dispatch.create_task(db.session, current_user, ...)
    except DomainError as err:
        flash(err.message, "error")  # rolled back already
    else:
        return redirect(...)  # committed

The services flush and never commit (``docs/architecture.md``, "How a request flows");
the route decides, and this is how. A rollback on the way out of a failed block also
lets go of SQLite's write lock before the page is drawn.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from village_grid.extensions import db


@contextmanager
def committed(session: Session | None = None) -> Iterator[Session]:
    """Commit what the block wrote once it has run; if anything in it raises, roll it
    back and let the exception through (the caller shows a domain error its own way)."""
    session = session if session is not None else db.session
    try:
        yield session
    except BaseException:
        session.rollback()
        raise
    session.commit()
