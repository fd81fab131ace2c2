"""Language choice and the per-domain translation catalogues.

Each domain package keeps its own catalogue in ``<domain>/translations`` (the
app-wide one is ``village_grid/translations``) so the domains can be worked on
side by side; Flask-Babel merges them. ``scripts/i18n`` extracts, updates and
compiles them; tests/test_i18n.py fails when a string has no Chinese.
"""

from __future__ import annotations

from pathlib import Path

from flask import current_app, has_request_context, request, session
from flask_babel import lazy_gettext as _l

# The product's one name, on every page, in the installed app (the web manifest) and on
# printed sign-in slips.
APP_NAME = _l("Village grid")

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent
DOMAINS = (
    "auth",
    "hierarchy",
    "files",
    "tasks",
    "qr",
    "field",
    "station",
    "notify",
    "audit",
    "auditlog",
    "jobs",
    "warnings",
    "reports",
    "api",
)


def catalogue_dirs() -> list[Path]:
    """Every translations folder, app-wide first."""
    dirs = [PACKAGE_DIR / "translations"]
    dirs += [
        PACKAGE_DIR / d / "translations"
        for d in DOMAINS
        if (PACKAGE_DIR / d / "translations").is_dir()
    ]
    return dirs


def source_paths(domain: str | None) -> list[Path]:
    """Where a domain's translatable strings live: its package and its templates.

    ``None`` is the app-wide domain: top-level modules and templates outside
    any domain folder (base layout, errors).
    """
    if domain is None:
        files = [p for p in PACKAGE_DIR.glob("*.py")]
        files += [p for p in (PROJECT_DIR / "templates").glob("*.html")]
        files += list((PROJECT_DIR / "templates" / "errors").glob("*.html"))
        return files
    files = list((PACKAGE_DIR / domain).rglob("*.py"))
    files += list((PROJECT_DIR / "templates" / domain).rglob("*.html"))
    return files


def select_locale() -> str:
    """``?lang=`` wins and sticks in the session; then the session; then Chinese."""
    langs = current_app.config["LANGUAGES"]
    if not has_request_context():  # CLI, background work: the default language
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    asked = request.args.get("lang")
    if asked in langs:
        session["lang"] = asked
        return asked
    stored = session.get("lang")
    if stored in langs:
        return stored
    return current_app.config["BABEL_DEFAULT_LOCALE"]


# --- catalogue maintenance (scripts/i18n and tests/test_i18n.py) -------------

# "tr" is the memoising gettext of tasks/messages.py (translator).
_KEYWORDS = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "_l": None,
    "lazy_gettext": None,
    "N_": None,
    "tr": None,
}


def catalogue_path(domain: str | None, suffix: str = "po") -> Path:
    base = PACKAGE_DIR / "translations" if domain is None else PACKAGE_DIR / domain / "translations"
    return base / "zh" / "LC_MESSAGES" / f"messages.{suffix}"


def extract(domain: str | None):
    """Every translatable string in a domain's code and templates, as a babel Catalog."""
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract as babel_extract

    catalog = Catalog(locale=None, project="village_grid")
    for path in sorted(source_paths(domain)):
        method = "python" if path.suffix == ".py" else "jinja2"
        options = {} if method == "python" else {"extensions": "jinja2.ext.i18n", "trimmed": "true"}
        with open(path, "rb") as fh:
            for lineno, message, comments, context in babel_extract(
                method, fh, keywords=_KEYWORDS, options=options
            ):
                catalog.add(
                    message,
                    None,
                    [(str(path.relative_to(PROJECT_DIR)), lineno)],
                    auto_comments=comments,
                    context=context,
                )
    return catalog


def update(domain: str | None) -> list[str]:
    """Merge new strings into the domain's zh catalogue and compile it. Returns untranslated msgids."""
    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po, write_po

    template = extract(domain)
    po_path = catalogue_path(domain)
    po_path.parent.mkdir(parents=True, exist_ok=True)
    if po_path.exists():
        with open(po_path, "rb") as fh:
            catalog = read_po(fh, locale="zh")
    else:
        catalog = Catalog(locale="zh", project="village_grid")
    catalog.update(template, no_fuzzy_matching=True)
    catalog.obsolete.clear()
    with open(po_path, "wb") as fh:
        write_po(fh, catalog, width=100, omit_header=False, sort_output=True)
    with open(catalogue_path(domain, "mo"), "wb") as fh:
        write_mo(fh, catalog)
    return [m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id and not m.string]


def untranslated(domain: str | None) -> list[str]:
    """Strings in the code with no Chinese in the domain's catalogue (or any catalogue)."""
    from babel.messages.pofile import read_po

    known: dict = {}
    for d in [None, *DOMAINS]:
        p = catalogue_path(d)
        if p.exists():
            with open(p, "rb") as fh:
                for m in read_po(fh, locale="zh"):
                    if m.id and m.string and not m.fuzzy:
                        known[m.id] = m.string
    missing = []
    for m in extract(domain):
        if m.id and m.id not in known:
            missing.append(m.id if isinstance(m.id, str) else m.id[0])
    return missing


def fill(domain: str | None, translations: dict[str, str]) -> int:
    """Write Chinese for the given msgids into a domain's catalogue, then recompile. Returns how many."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po, write_po

    po_path = catalogue_path(domain)
    with open(po_path, "rb") as fh:
        catalog = read_po(fh, locale="zh")
    n = 0
    for message in catalog:
        key = message.id if isinstance(message.id, str) else (message.id[0] if message.id else "")
        if key and key in translations:
            message.string = (
                translations[key] if isinstance(message.id, str) else (translations[key],) * 2
            )
            message.flags.discard("fuzzy")
            n += 1
    with open(po_path, "wb") as fh:
        write_po(fh, catalog, width=100, sort_output=True)
    with open(catalogue_path(domain, "mo"), "wb") as fh:
        write_mo(fh, catalog)
    return n
