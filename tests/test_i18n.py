"""Chinese is the default language: every string in the code has a translation,
and the compiled catalogues match their sources (run scripts/i18n)."""

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from village_grid.i18n import DOMAINS, catalogue_path, source_paths, untranslated


def _key(value):
    """Plural messages carry lists/tuples of forms; compare them as tuples."""
    return value if isinstance(value, str) else tuple(value)


DOMAIN_IDS = [None, *[d for d in DOMAINS if source_paths(d)]]


@pytest.mark.parametrize("domain", DOMAIN_IDS, ids=lambda d: d or "app")
def test_every_string_has_chinese(domain):
    missing = untranslated(domain)
    assert not missing, f"untranslated in {domain or 'app'} (run scripts/i18n): {missing}"


@pytest.mark.parametrize("domain", DOMAIN_IDS, ids=lambda d: d or "app")
def test_compiled_catalogue_matches_source(domain):
    po_path = catalogue_path(domain)
    if not po_path.exists():
        pytest.skip("no catalogue yet")
    with open(po_path, "rb") as fh:
        po = {
            _key(m.id): _key(m.string)
            for m in read_po(fh, locale="zh")
            if m.id and m.string and not m.fuzzy
        }
    with open(catalogue_path(domain, "mo"), "rb") as fh:
        mo = {_key(m.id): _key(m.string) for m in read_mo(fh) if m.id}
    assert po == mo, "messages.mo is stale: run scripts/i18n"


def test_same_english_has_the_same_chinese_everywhere():
    """The catalogues are merged at run time, so a msgid translated two ways in
    two domains shows whichever loads last: one string, one translation."""
    seen: dict = {}
    for domain in DOMAIN_IDS:
        path = catalogue_path(domain)
        if not path.exists():
            continue
        with open(path, "rb") as fh:
            for m in read_po(fh, locale="zh"):
                if m.id and m.string:
                    seen.setdefault(_key(m.id), {}).setdefault(_key(m.string), []).append(
                        domain or "app"
                    )
    clashes = {k: v for k, v in seen.items() if len(v) > 1}
    assert not clashes, f"translated differently in different catalogues: {clashes}"
