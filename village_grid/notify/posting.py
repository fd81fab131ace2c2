"""Posting to a channel: the log, a generic webhook (JSON), a WeCom group robot.

WeCom's group robot (developer.work.weixin.qq.com/document/path/99398, "群机器人配置
说明") takes text of at most 2,048 bytes (UTF-8) a message and at most 20 messages
a minute per robot; beyond that it answers ``{"errcode": 45009, "errmsg": "api freq
out of limit"}``. Messages due for one robot together go several to a post
(:func:`packs`), each still recorded on its own row.
"""

from __future__ import annotations

import logging

import requests

from village_grid.models import OutboxMessage
from village_grid.models.base import iso_z

log = logging.getLogger("village_grid.notify")

WECOM_TEXT_BYTES = 2048
# WeCom's answer to a robot posting beyond its budget.
WECOM_RATE_LIMITED = 45009
_PACK_SEPARATOR = b"\n\n"


class DeliveryError(Exception):
    """The channel did not take the message."""


class RateLimited(DeliveryError):
    """The channel said it takes no more for now (WeCom errcode 45009, HTTP 429)."""


def wecom_text(content: str, phones: list[str]) -> dict:
    """A WeCom robot's text message, mentioning the people with these phones (cut to
    the robot's size: a longer one is refused for good)."""
    data = content.encode()
    if len(data) > WECOM_TEXT_BYTES:
        content = data[: WECOM_TEXT_BYTES - 3].decode(errors="ignore") + "…"
    text: dict = {"content": content}
    if phones:
        text["mentioned_mobile_list"] = phones
    return {"msgtype": "text", "text": text}


def _payload(channel: str, msg: OutboxMessage, phone: str | None) -> dict:
    if channel == "wecom":
        return wecom_text(msg.body, [phone] if phone else [])
    return {
        "event_key": msg.event_key,
        "recipient": {"id": msg.recipient_id, "label": msg.recipient_label, "phone": phone or ""},
        "text": msg.body,
        "created_at": iso_z(msg.created_at),
    }


def send(
    channel: str,
    msg: OutboxMessage,
    *,
    url: str,
    timeout: float,
    phone: str | None = None,
    http: requests.Session | None = None,
):
    """Deliver one message; raise :class:`DeliveryError` when the channel refuses it.
    ``http``: a session whose connections are kept for the next message."""
    if channel == "log":
        log.info("notify %s → %s: %s", msg.event_key, msg.recipient_label or "-", msg.body)
        return
    post(channel, _payload(channel, msg, phone), url=url, timeout=timeout, http=http)


def post(
    channel: str, payload: dict, *, url: str, timeout: float, http: requests.Session | None = None
) -> None:
    """POST ``payload``; :class:`RateLimited` or :class:`DeliveryError` unless taken."""
    if not url:
        raise DeliveryError("NOTIFY_WEBHOOK_URL is not set")
    try:
        res = (http or requests).post(url, json=payload, timeout=timeout)
    except requests.RequestException as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc
    if res.status_code == 429:
        raise RateLimited(f"HTTP 429: {res.text[:200]}")
    if not 200 <= res.status_code < 300:
        raise DeliveryError(f"HTTP {res.status_code}: {res.text[:200]}")
    if channel == "wecom":
        # The robot answers 200 with {"errcode": 0, "errmsg": "ok"}; anything else is a refusal.
        try:
            data = res.json()
        except ValueError:
            raise DeliveryError(f"not JSON: {res.text[:200]}") from None
        if isinstance(data, dict) and data.get("errcode") == WECOM_RATE_LIMITED:
            raise RateLimited(f"WeCom refused: {str(data)[:200]}")
        if not isinstance(data, dict) or data.get("errcode") != 0:
            raise DeliveryError(f"WeCom refused: {str(data)[:200]}")


def packs(msgs: list[OutboxMessage], channel: str) -> list[list[OutboxMessage]]:
    """The messages for one channel in sending order; for a WeCom robot, gathered
    into posts that fit its size (same priority together)."""
    if channel != "wecom":
        return [[m] for m in msgs]
    out: list[list[OutboxMessage]] = []
    size = 0
    for msg in msgs:
        length = len(msg.body.encode())
        last = out[-1] if out else None
        if (
            last is not None
            and last[0].priority == msg.priority
            and size + len(_PACK_SEPARATOR) + length <= WECOM_TEXT_BYTES
        ):
            last.append(msg)
            size += len(_PACK_SEPARATOR) + length
        else:
            out.append([msg])
            size = length
    return out


def send_pack(
    msgs: list[OutboxMessage],
    *,
    url: str,
    timeout: float,
    phones: dict[int, str | None],
    http: requests.Session | None = None,
) -> None:
    """Deliver several WeCom messages as one robot post that mentions the people they
    are for (and nobody else)."""
    mentioned: list[str] = []
    for msg in msgs:
        phone = phones.get(msg.recipient_id)
        if phone and phone not in mentioned:
            mentioned.append(phone)
    content = _PACK_SEPARATOR.decode().join(m.body for m in msgs)
    post("wecom", wecom_text(content, mentioned), url=url, timeout=timeout, http=http)
