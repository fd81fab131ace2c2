"""The report's charts as SVG drawn on the server, one markup for the page and the PDF.

Plain SVG (lines, a polygon, text): WeasyPrint draws it in the PDF with the shipped
font, a browser at any width on the page (``viewBox``, no fixed size). Every number on
a chart is also in the report's text or tables.
"""

from __future__ import annotations

from markupsafe import Markup, escape

from village_grid.reports.labels import THRESHOLDS

FONT = "font-family:'VG Hei',sans-serif"
LINE = "#1f6feb"
FILL = "#1f6feb22"
DEADLINE = "#c62828"
GRID = "#d0d7de"


def _clock(seconds: float) -> str:
    """Time since dispatch as a tick label: 45′ or 2h10."""
    minutes = int(round(seconds / 60))
    if minutes < 120:
        return f"{minutes}′"
    return f"{minutes // 60}h{minutes % 60:02d}" if minutes % 60 else f"{minutes // 60}h"


def coverage_chart(
    curve: list[tuple[float, float]],
    span: float,
    deadline_at: float | None,
    *,
    title: str = "",
    deadline_label: str = "",
    small: bool = False,
) -> Markup:
    """Percent of households reached over time since dispatch (``curve``: seconds, percent),
    0–100 % up the side, 50 % and 90 % dashed, the deadline a red line."""
    # Sized so the words stay readable on a 360-px phone (the page) and on A4 (the PDF).
    w, h = (200, 120) if small else (480, 230)
    left, right, top, bottom = (36, 8, 20 if title else 8, 18) if small else (40, 14, 16, 26)
    pw, ph = w - left - right, h - top - bottom
    size = 11 if small else 12

    def x(sec: float) -> float:
        return left + pw * min(max(sec / span, 0), 1) if span else left

    def y(pct: float) -> float:
        return top + ph * (1 - pct / 100)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" class="chart'
        f'{" small" if small else ""}" role="img" style="{FONT}" font-size="{size}">'
    ]
    if title:
        out.append(f"<title>{escape(title)}</title>")
        if small:
            out.append(f'<text x="{left}" y="13" font-weight="bold">{escape(title)}</text>')
    for pct in (0, *THRESHOLDS):
        dash = ' stroke-dasharray="3 3"' if pct in (50, 90) else ""
        out.append(
            f'<line x1="{left}" x2="{left + pw}" y1="{y(pct):.1f}" y2="{y(pct):.1f}" '
            f'stroke="{GRID}"{dash}/>'
        )
        if not small or pct in (0, 100):
            out.append(
                f'<text x="{left - 3}" y="{y(pct) + size / 3:.1f}" text-anchor="end" '
                f'fill="#57606a">{pct}%</text>'
            )
    ticks = 2 if small else 4
    for k in range(ticks + 1):
        sec = span * k / ticks
        anchor = "start" if k == 0 else "end" if k == ticks else "middle"
        out.append(
            f'<text x="{x(sec):.1f}" y="{h - 5}" text-anchor="{anchor}" '
            f'fill="#57606a">{_clock(sec)}</text>'
        )
    if curve:
        pts = " ".join(f"{x(s):.1f},{y(p):.1f}" for s, p in curve)
        area = f"{x(curve[0][0]):.1f},{y(0):.1f} {pts} {x(curve[-1][0]):.1f},{y(0):.1f}"
        out.append(f'<polygon points="{area}" fill="{FILL}" stroke="none"/>')
        out.append(
            f'<polyline points="{pts}" fill="none" stroke="{LINE}" '
            f'stroke-width="{1.5 if small else 2}"/>'
        )
    if deadline_at is not None and 0 <= deadline_at <= span:
        dx = x(deadline_at)
        out.append(
            f'<line x1="{dx:.1f}" x2="{dx:.1f}" y1="{top}" y2="{top + ph}" '
            f'stroke="{DEADLINE}" stroke-width="1.5" stroke-dasharray="5 3"/>'
        )
        if deadline_label and not small:
            out.append(
                f'<text x="{dx + 3:.1f}" y="{top + ph - 4}" text-anchor="start" '
                f'fill="{DEADLINE}">{escape(deadline_label)}</text>'
            )
    out.append("</svg>")
    return Markup("".join(out))


def bar_chart(rows: list[tuple[str, float | None]], *, unit: str = "′", mark: int = 0) -> Markup:
    """Horizontal bars (label, value; None drawn as "—"), the bar at ``mark`` stressed:
    this task beside earlier ones."""
    known = [v for _l, v in rows if v is not None]
    top_value = max(known, default=0) or 1
    row_h, left, w = 22, 90, 400
    h = row_h * len(rows) + 6
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" class="chart bars" '
        f'role="img" style="{FONT}" font-size="12">'
    ]
    for i, (label, value) in enumerate(rows):
        y = 3 + i * row_h
        colour = LINE if i == mark else "#8c959f"
        out.append(
            f'<text x="{left - 6}" y="{y + 13}" text-anchor="end">{escape(label[:12])}</text>'
        )
        if value is None:
            out.append(f'<text x="{left + 4}" y="{y + 13}" fill="#57606a">—</text>')
            continue
        bw = (w - left - 50) * value / top_value
        out.append(
            f'<rect x="{left}" y="{y + 3}" width="{bw:.1f}" height="{row_h - 7}" fill="{colour}"/>'
        )
        out.append(f'<text x="{left + bw + 4:.1f}" y="{y + 13}">{value:g}{unit}</text>')
    out.append("</svg>")
    return Markup("".join(out))
