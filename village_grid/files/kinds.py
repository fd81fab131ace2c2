"""What a kind of file is, and the list of them. Each domain registers its own kinds
when its module is imported (tasks: a task's households; the registry; the station's
list; the reports): this package sits below them and knows none of them.

A kind has two functions:

- ``plan(session, actor, params, fmt) -> Plan``, in the request: checks that ``actor``
  may have this file (raising the domain's error otherwise), and says what the file
  will hold (the unit paths, for who may read it), about how many rows (to decide
  between the request and the worker, and for the progress shown) and its name.
- ``make(session, actor, params, fmt, out, progress) -> int``, in the request or the
  worker: writes the file into ``out`` (a binary file) a row at a time, calling
  ``progress(rows_done)`` as it goes, and returns how many rows it wrote. It never
  holds every row in memory.

``Plan.total`` and ``progress`` count the same thing (rows, households, pages): the
file's page shows ``done * 100 // total`` per cent, and ``total`` above
``FILES_JOB_HOUSEHOLDS`` sends the file to the worker.

A reader of a made file needs the kind's scope ``action`` on every path of its plan
(``auth.scope.may_all``).

Asking for one: a page calls ``files.service.ask(session, actor, name, fmt, params)``,
commits, and returns ``files.routes.answer(result)`` (the file, or a redirect to its
page); an API view returns ``api.files.answer(result)`` (the file, or 202 with the URL
to poll). ``params`` is JSON kept on the job: ids, not objects.

Registering one::

    from village_grid.files import kinds

    kinds.register(kinds.FileKind(
        name="task_report", label=_l("Task report"), action="view",
        formats=("pdf",), plan=plan_report, make=make_report,
        mimetypes={"pdf": "application/pdf"},
    ))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Plan:
    """What a file will hold: the unit paths its rows come from (``None``: everywhere,
    an administrator's), about how many rows, the name it downloads as."""

    paths: list[str] | None
    total: int
    filename: str


@dataclass(frozen=True)
class FileKind:
    name: str
    label: Any  # a (lazy) string: what the file is, on its page
    action: str  # the scope action a reader needs on every path of the plan
    formats: tuple[str, ...]
    plan: Callable[..., Plan]
    make: Callable[..., int]
    # Mime types beyond the spreadsheets' (village_grid.spreadsheets.MIMETYPES).
    mimetypes: dict[str, str] = field(default_factory=dict)


KINDS: dict[str, FileKind] = {}


def register(kind: FileKind) -> FileKind:
    """Add ``kind`` (registering the same name again replaces it: a module reloaded)."""
    KINDS[kind.name] = kind
    return kind


def get(name: str) -> FileKind:
    try:
        return KINDS[name]
    except KeyError:
        raise LookupError(f"no file kind {name!r} is registered") from None
