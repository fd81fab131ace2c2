"""What poppler (pdffonts, pdfinfo, pdftotext, pdftoppm) reads from a PDF, as a print shop's
tools would, and the pages as a printer draws them.

``requires_poppler`` skips a test where poppler-utils is missing (scripts/test installs it).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from PIL import Image

requires_poppler = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("pdffonts", "pdfinfo", "pdftotext", "pdftoppm")),
    reason="poppler-utils (pdffonts, pdfinfo, pdftotext, pdftoppm) not installed",
)


def _run(tool: str, data: bytes, *args: str) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "doc.pdf"
        path.write_bytes(data)
        return subprocess.run(
            [tool, *args, str(path), *(["-"] if tool == "pdftotext" else [])],
            check=True,
            capture_output=True,
            text=True,
        ).stdout


def pdf_fonts(data: bytes) -> list[dict]:
    """Each font of the PDF: name, type, and whether it is embedded and subset."""
    fonts = []
    for line in _run("pdffonts", data).splitlines()[2:]:
        cols = line.split()
        # name type... encoding emb sub uni object-id generation
        fonts.append({"name": cols[0], "emb": cols[-5] == "yes", "sub": cols[-4] == "yes"})
    return fonts


def pdf_info(data: bytes) -> str:
    """pdfinfo's report: title, pages, page size …"""
    return _run("pdfinfo", data)


def pdf_pages(data: bytes) -> int:
    for line in pdf_info(data).splitlines():
        if line.startswith("Pages:"):
            return int(line.split()[1])
    raise AssertionError("pdfinfo gave no page count")


def pdf_text(data: bytes, *, layout: bool = True) -> str:
    """The text as laid out on the page, or (``layout=False``) in reading order, a table
    cell's wrapped lines kept together."""
    return _run("pdftotext", data, "-layout" if layout else "-raw")


def pdf_images(data: bytes, dpi: int = 100) -> list[Image.Image]:
    """Each page drawn at ``dpi`` (pdftoppm), as a printer would put it on paper."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "doc.pdf"
        path.write_bytes(data)
        subprocess.run(
            ["pdftoppm", "-r", str(dpi), "-png", str(path), str(Path(tmp) / "page")],
            check=True,
            capture_output=True,
        )
        pages = []
        for png in sorted(Path(tmp).glob("page*.png")):
            with Image.open(png) as image:
                pages.append(image.copy())
        return pages
