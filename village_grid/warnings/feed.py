"""The warnings feed (``WARNINGS_FEED_URL``): an RSS or Atom feed whose items link CAP
documents, read with feedparser. The worker's tick calls :func:`poll_feed` every
``WARNINGS_POLL_MINUTES``; each new document goes through ``intake.receive`` like one
posted to the API. An item already received (by its link) is not fetched again; a bad
document is logged and skipped, and the rest go on.

Commits after each document: one bad or slow item does not hold back the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

import feedparser
import requests
from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from village_grid.errors import DomainError
from village_grid.models import OfficialWarning
from village_grid.warnings import cap, intake

log = logging.getLogger(__name__)

# The feed itself may list many items: a few times the size of one document.
FEED_SIZE_FACTOR = 8


class FetchError(Exception):
    """The feed or a document could not be fetched."""


def fetch(url: str, limit: int) -> bytes:
    """GET ``url`` (http or https), at most ``limit`` bytes, within the configured timeout."""
    if not url.lower().startswith(("http://", "https://")):
        raise FetchError(f"not an http(s) address: {url[:100]}")
    timeout = float(current_app.config["WARNINGS_FETCH_TIMEOUT_SECONDS"])
    try:
        with requests.get(url, timeout=timeout, stream=True) as res:
            res.raise_for_status()
            body = b""
            for chunk in res.iter_content(64 * 1024):
                body += chunk
                if len(body) > limit:
                    raise FetchError(f"{url[:100]} is larger than {limit} bytes")
            return body
    except requests.RequestException as err:
        raise FetchError(f"{url[:100]}: {err}") from None


def document_links(feed_bytes: bytes) -> list[str]:
    """The CAP documents a feed links: each item's enclosure of an XML or CAP type, or
    else its link."""
    parsed = feedparser.parse(feed_bytes)
    links = []
    for entry in parsed.entries:
        enclosures = [
            e.get("href")
            for e in entry.get("links", [])
            if e.get("href")
            and ("xml" in (e.get("type") or "") or "cap" in (e.get("type") or ""))
            and e.get("rel") in ("enclosure", "alternate")
        ]
        link = enclosures[0] if enclosures else entry.get("link")
        if link and link not in links:
            links.append(link)
    return links


def poll_feed(
    session: Session,
    *,
    now: datetime | None = None,
    get: Callable[[str, int], bytes] = fetch,
) -> dict[str, int]:
    """Read the feed once: how many documents were new, already here, bad, or failed to
    fetch. Nothing when ``WARNINGS_FEED_URL`` is empty."""
    counts = {"new": 0, "seen": 0, "bad": 0, "failed": 0}
    url = current_app.config["WARNINGS_FEED_URL"]
    if not url:
        return counts
    limit = cap.max_bytes()
    try:
        links = document_links(get(url, limit * FEED_SIZE_FACTOR))
    except FetchError as err:
        log.warning("warnings feed: %s", err)
        counts["failed"] += 1
        return counts
    known = set(
        session.scalars(
            select(OfficialWarning.source_url).where(OfficialWarning.source_url.in_(links))
        )
    )
    for link in links:
        if link in known:
            counts["seen"] += 1
            continue
        try:
            document = get(link, limit)
            _warning, new = intake.receive(
                session, None, document, via="feed", source_url=link, now=now
            )
            session.commit()
            counts["new" if new else "seen"] += 1
        except FetchError as err:
            log.warning("warnings feed: %s", err)
            counts["failed"] += 1
        except DomainError as err:
            session.rollback()
            log.warning(
                "warnings feed: %s is not a warning we can read: %s", link[:100], err.message
            )
            counts["bad"] += 1
    if any(counts.values()):
        log.info("warnings feed: %s", counts)
    return counts
