"""Reading a CAP 1.2 document safely: the one way a warning's bytes become data.

- A size limit (``WARNINGS_MAX_BYTES``) before anything is parsed.
- defusedxml parses it: no DTD, no entity (so no entity bomb, no external entity),
  no network access.
- xmlschema validates the parsed tree against the CAP 1.2 schema shipped beside this
  file (``cap-1.2.xsd``), never fetching anything.
- The fields the product uses are read into a :class:`Cap`; areas' polygons and
  circles are checked as coordinates.

Anything wrong is ``InvalidInput`` on the field ``cap`` with a reason a person can
read (HTTP 422), never a server error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from xml.etree.ElementTree import Element, ParseError

import xmlschema
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from flask import current_app
from flask_babel import gettext as _

from village_grid.errors import InvalidInput
from village_grid.warnings import labels

NS = "urn:oasis:names:tc:emergency:cap:1.2"
SCHEMA_FILE = Path(__file__).with_name("cap-1.2.xsd")
# Schema errors quoted in the answer, at most.
REASONS_SHOWN = 3


@dataclass
class Area:
    desc: str
    geocodes: list[str] = field(default_factory=list)
    # [[lon, lat], ...] rings, closed; CAP writes "lat,lon lat,lon ..."
    polygons: list[list[list[float]]] = field(default_factory=list)
    # [lon, lat, radius_km]
    circles: list[list[float]] = field(default_factory=list)

    def as_json(self) -> dict:
        return {
            "desc": self.desc,
            "geocodes": self.geocodes,
            "polygons": self.polygons,
            "circles": self.circles,
        }


@dataclass
class Cap:
    identifier: str
    sender: str
    sent: datetime | None
    status: str
    msg_type: str
    references: list[str]
    event: str = ""
    severity: str = "Unknown"
    urgency: str = "Unknown"
    certainty: str = "Unknown"
    headline: str = ""
    description: str = ""
    instruction: str = ""
    sender_name: str = ""
    onset: datetime | None = None
    expires: datetime | None = None
    areas: list[Area] = field(default_factory=list)


def _bad(reason: str) -> InvalidInput:
    return InvalidInput(
        _("This is not a CAP 1.2 warning we can read: %(r)s", r=reason), fields={"cap": reason}
    )


@cache
def schema() -> xmlschema.XMLSchema:
    """The CAP 1.2 schema, loaded once per process (from the package, no network)."""
    return xmlschema.XMLSchema(str(SCHEMA_FILE))


def max_bytes() -> int:
    return int(current_app.config["WARNINGS_MAX_BYTES"])


def parse(document: bytes) -> Cap:
    """Check and read one CAP 1.2 document. Raises InvalidInput (``fields.cap``)."""
    if not isinstance(document, bytes | bytearray) or not document.strip():
        raise _bad(_("the document is empty"))
    if len(document) > max_bytes():
        raise _bad(_("the document is larger than %(n)s bytes", n=max_bytes()))
    try:
        root = fromstring(
            bytes(document), forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except DefusedXmlException:
        raise _bad(_("DTDs and entities are not accepted")) from None
    except (ParseError, ValueError) as err:
        raise _bad(_("the XML is malformed (%(e)s)", e=str(err)[:200])) from None
    if root.tag != f"{{{NS}}}alert":
        raise _bad(_("the root element is not a CAP 1.2 alert"))
    errors = list(schema().iter_errors(root))
    if errors:
        reasons = "; ".join(
            f"{e.path or '/'}: {(e.reason or '')[:160]}" for e in errors[:REASONS_SHOWN]
        )
        raise _bad(_("it does not follow the CAP 1.2 schema (%(why)s)", why=reasons))
    return _read(root)


def _text(el: Element | None, name: str) -> str:
    found = el.find(f"{{{NS}}}{name}") if el is not None else None
    return (found.text or "").strip() if found is not None else ""


def _all(el: Element, name: str) -> list[Element]:
    return el.findall(f"{{{NS}}}{name}")


def _time(value: str) -> datetime | None:
    """A CAP date-time (with its offset, checked by the schema) as naive UTC."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).astimezone(UTC).replace(tzinfo=None)
    except ValueError:
        raise _bad(_("%(v)s is not a date and time", v=value[:40])) from None


def _point(pair: str) -> tuple[float, float]:
    lat_s, lon_s = pair.split(",")
    lat, lon = float(lat_s), float(lon_s)
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(pair)
    return lon, lat


def _polygon(text: str) -> list[list[float]]:
    """CAP's "lat,lon lat,lon …" (at least four pairs, first equal to last) as [lon, lat] points."""
    try:
        points = [_point(p) for p in text.split()]
    except ValueError:
        raise _bad(_("a polygon has a point that is not “latitude,longitude”")) from None
    if len(points) < 4 or points[0] != points[-1]:
        raise _bad(_("a polygon needs at least four points, the first repeated last"))
    return [[lon, lat] for lon, lat in points]


def _circle(text: str) -> list[float]:
    """CAP's "lat,lon radius" (radius in km) as [lon, lat, radius_km]."""
    try:
        centre, radius_s = text.split()
        lon, lat = _point(centre)
        radius = float(radius_s)
        if not 0 <= radius <= labels.CIRCLE_MAX_KM:
            raise ValueError(radius_s)
    except ValueError:
        raise _bad(_("a circle is not “latitude,longitude radius-in-km”")) from None
    return [lon, lat, radius]


def _read(root: Element) -> Cap:
    identifier = _text(root, "identifier")
    if not identifier or len(identifier) > 255:
        raise _bad(_("the identifier is empty or longer than 255 characters"))
    cap = Cap(
        identifier=identifier,
        sender=_text(root, "sender")[:255],
        sent=_time(_text(root, "sent")),
        status=_text(root, "status"),
        msg_type=_text(root, "msgType"),
        references=_text(root, "references").split()[: labels.REFERENCES_MAX],
    )
    infos = _all(root, "info")
    # Several <info> blocks are the same warning in several languages: Chinese first.
    info = next(
        (i for i in infos if _text(i, "language").lower().startswith("zh")),
        infos[0] if infos else None,
    )
    if info is None:
        if cap.msg_type in ("Alert", "Update"):
            raise _bad(_("an alert needs an <info> block"))
        return cap
    cap.event = _text(info, "event")[:100]
    cap.urgency, cap.severity, cap.certainty = (
        _text(info, "urgency"),
        _text(info, "severity"),
        _text(info, "certainty"),
    )
    cap.headline = _text(info, "headline")[:300]
    cap.description = _text(info, "description")[: labels.TEXT_MAX]
    cap.instruction = _text(info, "instruction")[: labels.TEXT_MAX]
    cap.sender_name = _text(info, "senderName")[:200]
    cap.onset = _time(_text(info, "onset") or _text(info, "effective"))
    cap.expires = _time(_text(info, "expires"))
    for el in _all(info, "area")[: labels.AREAS_MAX]:
        area = Area(desc=_text(el, "areaDesc")[:300])
        area.polygons = [_polygon(p.text or "") for p in _all(el, "polygon")[: labels.SHAPES_MAX]]
        area.circles = [_circle(c.text or "") for c in _all(el, "circle")[: labels.SHAPES_MAX]]
        area.geocodes = [
            _text(g, "value")
            for g in _all(el, "geocode")[: labels.GEOCODES_MAX]
            if _text(g, "value")
        ]
        cap.areas.append(area)
    return cap
