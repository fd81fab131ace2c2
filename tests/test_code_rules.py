"""The structure issue 11 set, kept by tests that read the source (no app, no database):

- a unit-path prefix comparison (the subtree rule) is written only in
  ``village_grid/auth/scope.py`` and the pure graph code of ``village_grid/tasks/routing.py``;
- page routes and API views build no SQL: they call the query functions of their domain;
- no module imports another module's private names;
- no module of ``village_grid/`` outside the migrations is over 600 lines;
- imports run one way (``lint-imports`` over the contracts in ``pyproject.toml``);
- no template writes a ``tel:`` link that is not inside an ``{% if %}`` on its number
  (a person with no phone gets no empty link to tap).

Each failure names the file and line.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "village_grid"
MIGRATIONS = PACKAGE / "migrations"
MAX_LINES = 600

# Where the subtree rule may be written: the one authorisation module, and the
# routing code that works on the graph in memory.
PATH_RULE_HOMES = {
    "village_grid/auth/scope.py",
    "village_grid/tasks/routing.py",
    # The natural order of ``sort_path`` keys (a keyset page of units), not a subtree.
    "village_grid/hierarchy/ordering.py",
}


def app_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if MIGRATIONS not in p.parents)


def script_files() -> list[Path]:
    return sorted((ROOT / "scripts").glob("*.py"))


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@cache
def tree_of(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def by_place(finding: str) -> tuple[str, int, str]:
    """Sort "file:line: what" by file, then line as a number."""
    file, line, what = finding.split(":", 2)
    return file, int(line), what


def report(findings: list[str], what: str) -> str:
    return f"{what}:\n  " + "\n  ".join(findings)


# --- a. the subtree rule lives in auth/scope.py ------------------------------------------

# Receivers that hold a URL or file-system path, never a unit's materialised path.
NOT_UNIT_PATHS = {"request", "req", "os", "sys", "posixpath", "ntpath"}
# SQL functions that would cut a prefix off a path column.
SQL_PREFIX_FUNCS = {"substr", "substring", "left", "instr", "strpos", "position", "locate"}
SQL_PATTERN_METHODS = {"like", "ilike", "not_like", "notlike", "not_ilike", "notilike"}
PATH_METHODS = {"startswith", "istartswith"}
# path, paths, unit.path, root_path, import_paths, path_column, g.nodes[u]["path"]
PATH_WORD = re.compile(r"(\w+_)?paths?(_col(umn)?)?", re.IGNORECASE)


def _is_not_a_unit_path(node: ast.AST) -> bool:
    """``request.path``, ``(req if req is not None else request).path``, ``os.path.x``."""
    if isinstance(node, ast.Name):
        return node.id in NOT_UNIT_PATHS
    if isinstance(node, ast.IfExp):
        return _is_not_a_unit_path(node.body) and _is_not_a_unit_path(node.orelse)
    if isinstance(node, ast.Attribute):
        return _is_not_a_unit_path(node.value)
    if isinstance(node, ast.Call):
        return _is_not_a_unit_path(node.func)
    return False


def _names_a_path(node: ast.AST | None, loop_paths: frozenset[str] = frozenset()) -> bool:
    """Does this expression hold a unit path: a name, attribute or key that says so
    (``path``, ``unit.path``, ``Unit.path``, ``paths[0]``, ``g.nodes[u]["path"]``,
    ``root_path + "%"``) or a loop variable over paths (``p`` of ``for p in paths``),
    and not a request's or the file system's path?"""
    if node is None or _is_not_a_unit_path(node):
        return False
    for sub in ast.walk(node):
        if isinstance(sub, ast.Attribute | ast.Name) and _is_not_a_unit_path(sub):
            continue
        if isinstance(sub, ast.Name) and sub.id in loop_paths:
            return True
        word = (
            sub.id
            if isinstance(sub, ast.Name)
            else sub.attr
            if isinstance(sub, ast.Attribute)
            else sub.value
            if isinstance(sub, ast.Constant) and isinstance(sub.value, str)
            else None
        )
        if word is not None and PATH_WORD.fullmatch(word):
            return True
    return False


def _directly_a_path(node: ast.AST, loop_paths: frozenset[str]) -> bool:
    """A path itself (``unit.path``, ``path``, ``g.nodes[u]["path"]``), not ``len(path)``."""
    if isinstance(node, ast.Call):
        return False
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice):
        return False
    return _names_a_path(node, loop_paths)


def _loop_paths(tree: ast.Module) -> frozenset[str]:
    """Names bound by iterating over paths: ``p`` in ``for p in paths`` or
    ``any(x.startswith(p) for p in actor_paths)`` (anywhere in the module)."""
    loops = [
        (node.target, node.iter)
        for node in ast.walk(tree)
        if isinstance(node, ast.For | ast.comprehension)
    ]
    return frozenset(
        target.id
        for target, iterable in loops
        if isinstance(target, ast.Name) and _names_a_path(iterable)
    )


def _subtree_clause_per_path(node: ast.AST) -> Iterator[tuple[int, str]]:
    """``subtree_clause(col, p)`` built for each ``p`` of a loop or comprehension."""
    if isinstance(node, ast.GeneratorExp | ast.ListComp | ast.SetComp):
        targets, bodies = [g.target for g in node.generators], [node.elt]
    elif isinstance(node, ast.For):
        targets, bodies = [node.target], node.body
    else:
        return
    loop_names = {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    for body in bodies:
        for sub in ast.walk(body):
            if not isinstance(sub, ast.Call):
                continue
            name = getattr(sub.func, "id", None) or getattr(sub.func, "attr", None)
            used = {n.id for a in sub.args for n in ast.walk(a) if isinstance(n, ast.Name)}
            if name == "subtree_clause" and used & loop_names:
                yield sub.lineno, f"{ast.unparse(sub)} for each of several paths"


def path_prefix_comparisons(tree: ast.Module) -> Iterator[tuple[int, str]]:
    loop_paths = _loop_paths(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            method, receiver = node.func.attr, node.func.value
            on_paths = any(
                _names_a_path(a, loop_paths)
                for a in [*node.args, *(k.value for k in node.keywords)]
            )
            # path.startswith(p), Unit.path.like(p + "%"), func.substr(Unit.path, 1, n)
            if method in PATH_METHODS | SQL_PATTERN_METHODS and (
                on_paths or _names_a_path(receiver, loop_paths)
            ):
                yield node.lineno, ast.unparse(node)
            if method.lower() in SQL_PREFIX_FUNCS and on_paths:
                yield node.lineno, ast.unparse(node)
        if isinstance(node, ast.Name | ast.Attribute):
            name = node.id if isinstance(node, ast.Name) else node.attr
            if name == "path_upper_bound":
                yield node.lineno, ast.unparse(node)
        if isinstance(node, ast.ImportFrom) and any(
            a.name == "path_upper_bound" for a in node.names
        ):
            yield node.lineno, f"from {node.module} import path_upper_bound"
        # or_(*(subtree_clause(col, p) for p in paths)): scope.paths_clause written again.
        yield from _subtree_clause_per_path(node)
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            ordered = any(isinstance(op, ast.Lt | ast.LtE | ast.Gt | ast.GtE) for op in node.ops)
            # path >= '/1/7/' and path < '/1/70': the subtree as a range.
            if ordered and any(_directly_a_path(s, loop_paths) for s in sides):
                yield node.lineno, ast.unparse(node)
            # path[: len(root)] == root: a prefix by slicing.
            sliced = [
                s
                for s in sides
                if isinstance(s, ast.Subscript)
                and isinstance(s.slice, ast.Slice)
                and _names_a_path(s.value, loop_paths)
            ]
            if sliced:
                yield node.lineno, ast.unparse(node)


def test_unit_path_prefix_comparisons_only_in_scope_and_routing():
    found = [
        f"{rel(path)}:{line}: {source}"
        for path in [*app_files(), *script_files()]
        if rel(path) not in PATH_RULE_HOMES
        for line, source in path_prefix_comparisons(tree_of(path))
    ]
    assert not found, report(
        sorted(set(found), key=by_place),
        "unit-path prefix comparisons outside auth/scope.py and tasks/routing.py "
        "(call scope.within, scope.is_under, scope.subtree_clause or scope.paths_clause)",
    )


def test_the_path_rule_finds_the_subtree_rule_in_its_home():
    """Not vacuous: the detector sees the comparisons auth/scope.py is there to hold."""
    assert list(path_prefix_comparisons(tree_of(PACKAGE / "auth" / "scope.py")))


@pytest.mark.parametrize(
    "source",
    [
        "ok = unit.path.startswith(root.path)",
        "ok = any(path.startswith(p) for p in paths)",
        "ok = any(k.startswith(p) for p in actor_paths for k in kept_paths)",
        "for p in paths:\n    if child.startswith(p):\n        break",
        "ok = child.startswith(unit.path)",
        "ok = g.nodes[u]['path'].startswith(g.nodes[r]['path'])",
        "q = q.where(Unit.path.like(root.path + '%'))",
        "q = q.where(Unit.path.startswith(prefix_path))",
        "q = q.where(Unit.path >= root.path, Unit.path < path_upper_bound(root.path))",
        "from village_grid.auth.scope import path_upper_bound",
        "q = q.where(func.substr(Unit.path, 1, n) == root.path)",
        "ok = path[: len(root)] == root",
        "c = or_(*(scope.subtree_clause(Unit.path, p) for p in paths))",
    ],
)
def test_the_path_rule_sees_a_prefix_comparison(source):
    assert list(path_prefix_comparisons(ast.parse(source))), source


@pytest.mark.parametrize(
    "source",
    [
        "api = request.path.startswith('/api/')",
        "api = (req if req is not None else request).path.startswith('/api/')",
        "ok = header.lower().startswith('bearer ')",
        "name = os.path.basename(path)",
        "q = q.order_by(Unit.path)",
        "depth = path.count('/') - 2",
        "many = len(paths) > 3",
        "deeper = path_depth > 2",
        "slash = unit.path.endswith('/')",
        "q = q.where(scope.subtree_clause(Unit.path, root.path))",
        "rows = [t for t in s.scalars(select(Unit).where(subtree_clause(Unit.path, u.path)))]",
    ],
)
def test_the_path_rule_lets_other_code_be(source):
    assert not list(path_prefix_comparisons(ast.parse(source))), source


# --- b. routes and API views call query functions -----------------------------------------

SQL_BUILDERS = {"select", "text", "insert", "update", "delete", "union", "union_all", "exists"}
SQL_MODULES = {"db", "sa", "sqlalchemy"}


def sql_building(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """``select(...)`` (imported from SQLAlchemy or as ``db.select``), ``text``,
    ``insert``/``update``/``delete``, and the legacy ``session.query(...)``."""
    from_sqlalchemy = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        and (node.module or "").split(".")[0] in ("sqlalchemy", "flask_sqlalchemy")
        for alias in node.names
    }
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and (
            func.id == "select" or (func.id in SQL_BUILDERS and func.id in from_sqlalchemy)
        ):
            yield node.lineno, ast.unparse(func) + "(...)"
        elif isinstance(func, ast.Attribute):
            base = ast.unparse(func.value).split(".")
            builder = func.attr in SQL_BUILDERS and base[0] in SQL_MODULES  # db.select, sa.text
            table_select = func.attr == "select" and base[0] != "self"  # Unit.__table__.select
            legacy = func.attr == "query" and base[-1] == "session"  # db.session.query
            if builder or table_select or legacy:
                yield node.lineno, ast.unparse(func) + "(...)"


def view_files() -> list[Path]:
    return sorted([*PACKAGE.glob("*/routes.py"), *(PACKAGE / "api").glob("*.py")])


def test_routes_and_api_views_build_no_queries():
    assert any(p.name == "routes.py" for p in view_files())
    found = [
        f"{rel(path)}:{line}: {source}"
        for path in view_files()
        for line, source in sql_building(tree_of(path))
    ]
    assert not found, report(
        sorted(set(found), key=by_place),
        "SQL built in a page route or API view (call a query function of the domain)",
    )


@pytest.mark.parametrize(
    "source",
    [
        "from sqlalchemy import select\nrows = session.scalars(select(Unit))",
        "rows = db.session.scalars(db.select(Unit))",
        "rows = db.session.execute(sa.text('SELECT 1'))",
        "from sqlalchemy import update\ndb.session.execute(update(Unit).values(name='x'))",
        "rows = db.session.query(Unit).all()",
    ],
)
def test_the_query_rule_sees_sql(source):
    assert list(sql_building(ast.parse(source))), source


# --- c. no module imports another module's private names -----------------------------------


def _private(name: str) -> bool:
    # "_" alone is gettext by convention; dunders (__version__, __name__) are public.
    return name.startswith("_") and name != "_" and not name.startswith("__")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _absolute(module: str | None, level: int, path: Path) -> str:
    """The absolute module of ``from <level dots><module> import ...`` in ``path``."""
    if not level:
        return module or ""
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    base = package[: len(package) - (level - 1)] if level > 1 else package
    return ".".join([*base, module] if module else base)


def _is_project_module(dotted: str) -> bool:
    target = ROOT.joinpath(*dotted.split("."))
    return target.with_suffix(".py").is_file() or (target / "__init__.py").is_file()


def private_imports(tree: ast.Module, path: Path) -> Iterator[tuple[int, str]]:
    """``from village_grid.x import _name``, ``import village_grid.x._mod``, and
    ``mod._name`` where ``mod`` is a village_grid module this file imported."""
    modules: dict[str, str] = {}  # local name -> project module it stands for
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            source = _absolute(node.module, node.level, path)
            if source.split(".")[0] != "village_grid":
                continue
            if any(_private(part) for part in source.split(".")):
                yield node.lineno, f"from {source} import ..."
            for alias in node.names:
                if _private(alias.name):
                    yield node.lineno, f"from {source} import {alias.name}"
                elif _is_project_module(f"{source}.{alias.name}"):
                    modules[alias.asname or alias.name] = f"{source}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] != "village_grid":
                    continue
                if any(_private(part) for part in alias.name.split(".")):
                    yield node.lineno, f"import {alias.name}"
                if alias.asname:
                    modules[alias.asname] = alias.name
                else:
                    modules["village_grid"] = "village_grid"
    own = _module_name(path)
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and _private(node.attr)):
            continue
        dotted = ast.unparse(node.value)
        head, _, rest = dotted.partition(".")
        if head not in modules:
            continue
        target = ".".join(filter(None, [modules[head], rest]))
        if target != own and _is_project_module(target):
            yield node.lineno, f"{ast.unparse(node)} ({target})"


def test_no_module_imports_another_modules_private_names():
    found = [
        f"{rel(path)}:{line}: {what}"
        for path in [*app_files(), *script_files()]
        for line, what in private_imports(tree_of(path), path)
    ]
    assert not found, report(
        sorted(set(found), key=by_place), "private names used across modules (make them public)"
    )


@pytest.mark.parametrize(
    "source",
    [
        "from village_grid.tasks.statuses import _checked_status",
        "from village_grid.tasks.statuses import record_status, _assignment_update as upd",
        "from .statuses import _checked_status",
        "from village_grid.tasks import statuses\nstatuses._checked_status()",
        "import village_grid.tasks.statuses as st\nst._RESOLVE_OVERDUE",
        "import village_grid.tasks.statuses\nvillage_grid.tasks.statuses._x",
    ],
)
def test_the_private_rule_sees_a_private_import(source):
    path = PACKAGE / "tasks" / "answers.py"
    assert list(private_imports(ast.parse(source), path)), source


@pytest.mark.parametrize(
    "source",
    [
        "from flask_babel import gettext as _",
        "from village_grid.i18n import _",
        "from village_grid.tasks import statuses\nstatuses.record_status()",
        "ok = form._fields",
        "app = current_app._get_current_object()",
    ],
)
def test_the_private_rule_lets_public_names_be(source):
    path = PACKAGE / "tasks" / "answers.py"
    assert not list(private_imports(ast.parse(source), path)), source


# --- d. modules a reader can hold in their head ----------------------------------------------


def test_no_module_is_over_600_lines():
    found = []
    for path in app_files():
        lines = path.read_text(encoding="utf-8").count("\n")
        if lines > MAX_LINES:
            found.append(f"{rel(path)}:{MAX_LINES + 1}: {lines} lines")
    assert not found, report(found, f"modules over {MAX_LINES} lines (split them by job)")


# --- e. a case's resolution is written in one module -------------------------------------

CASE_LIFECYCLE = "village_grid/tasks/cases.py"
# Writing a resolution: setting resolved_at / resolved_by_id (attribute, keyword or dict key
# in a write), or a case's status to "resolved".
_RESOLVES = re.compile(
    r"""(\.resolved_(?:at|by_id)\s*=(?!=)|\bresolved_(?:at|by_id)\s*=(?!=)|status\s*=\s*["']resolved["'])"""
)


def resolution_writes(source: str) -> list[int]:
    return [n for n, line in enumerate(source.splitlines(), 1) if _RESOLVES.search(line)]


def test_a_cases_resolution_is_written_only_in_the_lifecycle_module():
    found = [
        f"{rel(path)}:{n}: writes a case's resolution"
        for path in app_files()
        if rel(path) != CASE_LIFECYCLE and "escalation" in path.read_text(encoding="utf-8").lower()
        for n in resolution_writes(path.read_text(encoding="utf-8"))
    ]
    assert not found, report(found, f"resolve cases through {CASE_LIFECYCLE} (cases.resolve)")


@pytest.mark.parametrize(
    "source",
    [
        "esc.resolved_at = now",
        "update(Escalation).values(status='resolved', resolved_at=now)",
        'e.status = "resolved"',
    ],
)
def test_the_resolution_rule_sees_a_write(source):
    assert resolution_writes(source)


@pytest.mark.parametrize(
    "source",
    ['"resolved_at": iso_z(e.resolved_at)', "if e.resolved_at == now:", "x = e.resolved_at"],
)
def test_the_resolution_rule_lets_reads_be(source):
    assert not resolution_writes(source)


# --- f. a tap-to-call link only for a number there is ----------------------------------

TEMPLATES = ROOT / "templates"
_TEL = re.compile(r"tel:\{\{\s*([\w.]+)\s*(?:\|[^}]*)?\}\}")


def unguarded_calls(source: str) -> list[int]:
    """Lines with a ``tel:{{ x }}`` link not preceded, on its line, by an ``{% if %}``
    (or ``{% elif %}``) whose condition names ``x``."""
    found = []
    for n, line in enumerate(source.splitlines(), 1):
        for match in _TEL.finditer(line):
            number = re.escape(match.group(1))
            guard = re.compile(r"\{%-?\s*(?:el)?if\b[^%]*(?<![\w.])" + number + r"(?![\w.])")
            if not guard.search(line[: match.start()]):
                found.append(n)
    return found


def test_every_call_link_in_the_templates_has_a_number():
    found = [
        f"{rel(path)}:{n}: a tel: link without an {{% if %}} on its number"
        for path in sorted(TEMPLATES.rglob("*.html"))
        for n in unguarded_calls(path.read_text(encoding="utf-8"))
    ]
    assert not found, report(found, "guard each tel: link with {% if <number> %}")


@pytest.mark.parametrize(
    "source",
    [
        '<a href="tel:{{ p.phone }}">{{ p.phone }}</a>',
        '{% if p %}<a href="tel:{{ p.phone }}">',
        '{% if p.phone2 %}<a href="tel:{{ p.phone }}">',
    ],
)
def test_the_call_rule_sees_a_link_without_a_number(source):
    assert unguarded_calls(source)


@pytest.mark.parametrize(
    "source",
    [
        '{% if p.phone %}<a href="tel:{{ p.phone }}">',
        '{% if h and h.phone %} <a class="call" href="tel:{{ h.phone }}">',
    ],
)
def test_the_call_rule_lets_a_guarded_link_be(source):
    assert not unguarded_calls(source)


# --- the import layering (pyproject.toml, [tool.importlinter]) ----------------------


def _lint_imports(cwd: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_imports_run_one_way():
    """No circle, and no import upward: domains never import the worker (``jobs``)."""
    done = _lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def import_circles(package: str) -> list[list[str]]:
    """Each set of modules of ``package`` that import each other round a circle."""
    import grimp
    import networkx as nx

    graph = grimp.build_graph(package, cache_dir=None)
    edges = nx.DiGraph()
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            edges.add_edge(module, imported)
    return sorted(sorted(c) for c in nx.strongly_connected_components(edges) if len(c) > 1)


def test_no_module_imports_itself_round_a_circle():
    """Within packages too (the layers contract sees packages): no module circle at all."""
    assert import_circles("village_grid") == []


def test_the_circle_rule_sees_a_circle(tmp_path, monkeypatch):
    pkg = tmp_path / "circlepkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from circlepkg import b\n")
    (pkg / "b.py").write_text("def f():\n    from circlepkg import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert import_circles("circlepkg") == [["circlepkg.a", "circlepkg.b"]]


def test_the_import_contract_sees_a_domain_importing_the_worker(tmp_path):
    """The same contract on a copy of the package where the outbox imports the worker."""
    copy = tmp_path / "village_grid"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "translations"))
    service = copy / "notify" / "service.py"
    service.write_text(service.read_text() + "\nfrom village_grid.jobs import queue  # noqa\n")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    done = _lint_imports(tmp_path, pythonpath=tmp_path)
    assert done.returncode != 0
    assert "village_grid.notify.service -> village_grid.jobs.queue" in done.stdout


# --- one order of units ------------------------------------------------------------

# A unit's columns a list must not be ordered by: ids in text ("/1/2/12/" before
# "/1/2/3/"), codes, names in text order (第10网格 before 第2网格). ``sort_path`` is the
# one natural order (``hierarchy/ordering.py``).
NOT_AN_ORDER = {"path", "code", "name"}
# What a sort key's unit is called (``lambda u: u.code``, ``r["grid"].path``).
UNIT_WORDS = {"u", "unit", "team", "grid", "village", "t", "g", "x"}


def unit_orderings(tree: ast.AST):
    """``(line, source)`` of each ``order_by`` argument that is a unit's path, code or
    name (``Unit.path``, ``team.c.name``), and each sort keyed on one (``key=lambda u:
    u.code``)."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        args: list[ast.AST] = []
        if isinstance(func, ast.Attribute) and func.attr == "order_by":
            args = list(node.args)
        elif (isinstance(func, ast.Name) and func.id == "sorted") or (
            isinstance(func, ast.Attribute) and func.attr == "sort"
        ):
            args = [k.value for k in node.keywords if k.arg == "key"]
        for arg in args:
            for part in ast.walk(arg):
                if not (isinstance(part, ast.Attribute) and part.attr in NOT_AN_ORDER):
                    continue
                owner = part.value
                column = (isinstance(owner, ast.Name) and owner.id == "Unit") or (
                    isinstance(owner, ast.Attribute) and owner.attr == "c"
                )
                if column or (isinstance(arg, ast.Lambda) and _names_a_unit(owner)):
                    yield part.lineno, ast.unparse(part)


def _names_a_unit(node: ast.AST) -> bool:
    if isinstance(node, ast.Name):
        return node.id in UNIT_WORDS
    return (
        isinstance(node, ast.Subscript)
        and isinstance(node.slice, ast.Constant)
        and node.slice.value in UNIT_WORDS
    )


def test_units_are_listed_in_one_natural_order():
    found = [
        f"{rel(path)}:{line}: {source}"
        for path in app_files()
        if "migrations" not in path.parts
        for line, source in unit_orderings(tree_of(path))
    ]
    assert not found, report(
        sorted(set(found), key=by_place),
        "units ordered by path, code or name (order by Unit.sort_path: hierarchy/ordering.py)",
    )


@pytest.mark.parametrize(
    "source",
    [
        "q = select(Unit).order_by(Unit.path)",
        "q = q.order_by(Unit.depth, Unit.code, Unit.name)",
        "q = q.order_by(team.c.name)",
        "units.sort(key=lambda u: (u.code, u.name))",
        "x = sorted(units, key=lambda u: u.path)",
    ],
)
def test_the_order_rule_sees_a_text_order(source):
    assert list(unit_orderings(ast.parse(source))), source
