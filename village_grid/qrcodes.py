"""QR codes as the product draws them: the modules of a code, and the code as an SVG, a
PNG, or a one-pixel-a-module PNG for a PDF. Door plates (``qr/plates.py``) and the people's
sign-in sheets (``auth``) both use them.

Every image is made with the ``qrcode`` library. The mask pattern is fixed (any of the
eight is valid to every scanner) because choosing the "best" one costs ~7 ms a code — a
1,300-household village sheet would take longer than the 10 s it is allowed. Error
correction is Q (25 %): plates live outdoors, in rain and sun.
"""

from __future__ import annotations

import base64
import io
from functools import lru_cache

import qrcode
import qrcode.constants
from markupsafe import Markup
from PIL import Image

QR_ERROR_CORRECTION = qrcode.constants.ERROR_CORRECT_Q
QR_MASK_PATTERN = 2
QR_BORDER = 4  # the quiet zone scanners need, in modules


@lru_cache(maxsize=64)
def _version_for_length(length: int) -> int:
    """The smallest QR version that holds ``length`` bytes (all plates of a site share it)."""
    qr = qrcode.QRCode(error_correction=QR_ERROR_CORRECTION, border=0, mask_pattern=QR_MASK_PATTERN)
    qr.add_data("x" * length)
    qr.make(fit=True)
    return qr.version


@lru_cache(maxsize=4096)
def qr_matrix(data: str) -> tuple[tuple[bool, ...], ...]:
    """The QR modules (True = dark) for ``data``, without the quiet zone."""
    qr = qrcode.QRCode(
        version=_version_for_length(len(data.encode("utf-8"))),
        error_correction=QR_ERROR_CORRECTION,
        border=0,
        mask_pattern=QR_MASK_PATTERN,
    )
    qr.add_data(data)
    qr.make(fit=False)
    return tuple(tuple(row) for row in qr.get_matrix())


def _runs(row: tuple[bool, ...]):
    """(start, length) of each run of dark modules in a row."""
    x, n = 0, len(row)
    while x < n:
        if row[x]:
            start = x
            while x < n and row[x]:
                x += 1
            yield start, x - start
        else:
            x += 1


def qr_svg(data: str, *, size: str | None = None, title: str = "") -> str:
    """A compact SVG (one path) of the QR code for ``data``, quiet zone included."""
    matrix = qr_matrix(data)
    n = len(matrix) + 2 * QR_BORDER
    parts = []
    for y, row in enumerate(matrix):
        for x, length in _runs(row):
            parts.append(f"M{x + QR_BORDER} {y + QR_BORDER}h{length}v1h-{length}z")
    dims = f' width="{size}" height="{size}"' if size else ""
    label = f"<title>{Markup.escape(title)}</title>" if title else ""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {n} {n}"{dims} '
        f'shape-rendering="crispEdges" role="img">{label}'
        f'<rect width="{n}" height="{n}" fill="#fff"/>'
        f'<path d="{"".join(parts)}" fill="#000"/></svg>'
    )


def qr_png(data: str, *, box_size: int = 10) -> bytes:
    """A PNG of the QR code for ``data`` (``box_size`` pixels a module, quiet zone included)."""
    qr = qrcode.QRCode(
        error_correction=QR_ERROR_CORRECTION,
        border=QR_BORDER,
        box_size=box_size,
        mask_pattern=QR_MASK_PATTERN,
    )
    qr.add_data(data)
    qr.make(fit=True)
    buf = io.BytesIO()
    qr.make_image(fill_color="black", back_color="white").save(buf, format="PNG")
    return buf.getvalue()


def qr_data_url(data: str) -> str:
    """The QR code as a ``data:`` PNG of one pixel a module (quiet zone included), for a PDF.

    The sheet scales it up with ``image-rendering: pixelated`` (no smoothing), so the
    modules print as sharp squares; a vector path a plate made the renderer 50 times slower.
    """
    matrix = qr_matrix(data)
    size = len(matrix)
    quiet = (255,) * QR_BORDER
    pixels = [255] * ((size + 2 * QR_BORDER) * QR_BORDER)
    for row in matrix:
        pixels += quiet + tuple(0 if dark else 255 for dark in row) + quiet
    pixels += [255] * ((size + 2 * QR_BORDER) * QR_BORDER)
    image = Image.new("L", (size + 2 * QR_BORDER,) * 2)
    image.putdata(pixels)
    image = image.convert("1")
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
