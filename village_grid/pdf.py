"""The product's one PDF path: HTML (a Jinja template) in, an A4 PDF with its font embedded out.

Every PDF the product makes — door-plate sheets, a task's report, printable sheets — is an
HTML page rendered by WeasyPrint through ``render_pdf``. The Chinese is set in the font the
package ships (``village_grid/fonts/wqy-microhei.ttf``, WenQuanYi Micro Hei, Apache-2.0),
which WeasyPrint embeds as a subset of the glyphs used: the file reads the same on a phone's
viewer, at a print shop and on a desktop without Chinese fonts (``pdffonts`` lists every
font as embedded). A template extends ``pdf/base.html`` for the page size, margins and
page numbers; the font is added here whatever the template says.

Nothing outside is fetched while rendering: images and SVG come inline (``data:`` URLs or
``<svg>`` in the page), and the only file read is the font.
"""

from __future__ import annotations

import atexit
import logging
import threading
from functools import lru_cache
from importlib import resources
from pathlib import Path

FONT_FAMILY = "VG Hei"  # the name the page's CSS uses for the shipped font
FONT_FILE = "wqy-microhei.ttf"

# WeasyPrint and fontTools log every subset and every CSS property they skip at INFO/WARNING.
for _name in ("weasyprint", "fontTools"):
    logging.getLogger(_name).setLevel(logging.ERROR)


_RENDERING = threading.Lock()


class PdfUnavailable(RuntimeError):
    """WeasyPrint's system libraries (Pango) are missing on this machine."""


@lru_cache(maxsize=1)
def font_path() -> Path:
    """The shipped CJK font file."""
    return Path(str(resources.files("village_grid") / "fonts" / FONT_FILE))


@lru_cache(maxsize=1)
def _fetcher_class():
    from weasyprint.urls import URLFetcher

    font_uri = font_path().as_uri()

    class Fetcher(URLFetcher):
        """Only the shipped font and inline data: a page never makes the renderer fetch."""

        def fetch(self, url, headers=None):
            if url.startswith("data:") or url == font_uri:
                return super().fetch(url, headers)
            raise ValueError(f"not fetched while making a PDF: {url[:80]}")

    return Fetcher


def _fetcher():
    return _fetcher_class()()  # one a render: a fetcher keeps state between calls


@lru_cache(maxsize=1)
def _font_css():
    """The @font-face of the shipped font and the page's default family, built once a process."""
    try:
        from weasyprint import CSS
        from weasyprint.text.fonts import FontConfiguration
    except OSError as exc:  # cffi could not load Pango
        raise PdfUnavailable(str(exc)) from exc
    fonts = FontConfiguration()
    css = CSS(
        string=(
            f'@font-face {{ font-family: "{FONT_FAMILY}"; src: url("{font_path().as_uri()}"); }}'
            f'html {{ font-family: "{FONT_FAMILY}", sans-serif; }}'
        ),
        font_config=fonts,
        url_fetcher=_fetcher(),
    )
    return css, fonts


def render_pdf(html: str, *, title: str | None = None) -> bytes:
    """The PDF of ``html`` (a whole page, e.g. ``render_template("x/sheet_pdf.html", ...)``).

    The page size and margins come from the page's own ``@page`` rule (``pdf/base.html``
    sets A4); ``title`` becomes the document's title when the page has no ``<title>``.
    Fonts are subset and embedded. Raises ``PdfUnavailable`` when Pango is not installed.
    """
    try:
        from weasyprint import HTML
    except OSError as exc:
        raise PdfUnavailable(str(exc)) from exc
    css, fonts = _font_css()
    # Pango's font map is not thread-safe: one render at a time in a process (gunicorn's
    # threads, the worker's); a report renders in about a second.
    with _RENDERING:
        document = HTML(string=html, url_fetcher=_fetcher()).render(
            stylesheets=[css], font_config=fonts
        )
        if title and not document.metadata.title:
            document.metadata.title = title
        return document.write_pdf()


# Let the cached font configuration go while the interpreter still runs (its __del__ calls
# into fontconfig, which is gone at the very end).
atexit.register(_font_css.cache_clear)
