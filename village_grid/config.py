"""The one place configuration comes from.

Defaults suit the embedded, single-village deployment (SQLite under
``instance/``); every value can be overridden from the environment.  A value
that is required and missing is a hard error at start-up, never a surprise at
the first request.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from village_grid import database


class ConfigError(RuntimeError):
    """A required setting is missing or malformed."""


NOTIFY_CHANNELS = ("log", "webhook", "wecom")

# Which sweep an official warning drafts, by a word of its event (village_grid/warnings):
# the kind of check and the household flags it reaches (none: every household).
# WARNINGS_EVENTS (JSON of the same shape) replaces it.
VULNERABLE = ["elderly_alone", "disabled", "young_children", "pregnant"]
WARNING_EVENTS = {
    "台风": {"subkind": "flood", "flags": []},
    "暴雨": {"subkind": "flood", "flags": []},
    "洪水": {"subkind": "flood", "flags": []},
    "山洪": {"subkind": "flood", "flags": []},
    "高温": {"subkind": "heat", "flags": VULNERABLE},
    "寒潮": {"subkind": "cold", "flags": VULNERABLE},
    "低温": {"subkind": "cold", "flags": VULNERABLE},
}
# Severities WARNINGS_AUTOSEND may name (CAP's words or the warning colours).
AUTOSEND_NAMES = {
    "extreme": "Extreme",
    "red": "Extreme",
    "severe": "Severe",
    "orange": "Severe",
    "moderate": "Moderate",
    "yellow": "Moderate",
    "minor": "Minor",
    "blue": "Minor",
}


def _warning_events(text: str) -> dict:
    if not text.strip():
        return WARNING_EVENTS
    try:
        events = json.loads(text)
        assert isinstance(events, dict) and all(
            isinstance(k, str)
            and k
            and isinstance(v, dict)
            and isinstance(v.get("subkind"), str)
            and isinstance(v.get("flags", []), list)
            for k, v in events.items()
        )
    except (ValueError, AssertionError):
        raise ConfigError(
            'WARNINGS_EVENTS is JSON: {"台风": {"subkind": "flood", "flags": []}, ...}'
        ) from None
    return {
        k: {"subkind": v["subkind"], "flags": list(v.get("flags", []))} for k, v in events.items()
    }


def _autosend(text: str) -> dict[str, int]:
    """``red:15,orange:30`` → {"Extreme": 15, "Severe": 30}: minutes after a draft is made
    that it sends itself unless someone holds it. Empty: never."""
    out: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _sep, minutes = part.partition(":")
        severity = AUTOSEND_NAMES.get(name.strip().lower())
        if severity is None or not minutes.strip().isdigit() or int(minutes) < 1:
            raise ConfigError(
                "WARNINGS_AUTOSEND is severity:minutes, e.g. red:15,orange:30 "
                "(red/orange/yellow/blue or Extreme/Severe/Moderate/Minor)"
            )
        out[severity] = int(minutes)
    return out


JOBS_QUEUES = ("sqlite", "redis", "off")


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _base_url(env) -> str:
    """Where door plates and message links point: BASE_URL, or this machine on PORT."""
    url = env.get("BASE_URL") or f"http://127.0.0.1:{env.get('PORT') or '8000'}"
    return url.rstrip("/")


def _secret_key(instance_path: Path) -> str:
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    # scripts/run writes this file once so a local install keeps its sessions
    # across restarts without anyone having to invent a key.
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    raise ConfigError(
        "SECRET_KEY is not set. Set it in the environment, or run scripts/run once "
        "to create instance/secret_key."
    )


def _id_number_key(instance_path: Path) -> str:
    """The station's key for ID numbers: ID_NUMBER_KEY, or instance/id_key (made by
    scripts/run). Empty when neither is there: the station then refuses to store one."""
    key = os.environ.get("ID_NUMBER_KEY")
    if key:
        return key.strip()
    key_file = instance_path / "id_key"
    return key_file.read_text().strip() if key_file.exists() else ""


def load_config(instance_path: str, overrides: dict | None = None) -> dict:
    """Build the app configuration: defaults, then environment, then ``overrides``.

    ``overrides`` (used by tests and the CLI) win over the environment.  Raises
    :class:`ConfigError` when a required value is missing.
    """
    overrides = dict(overrides or {})
    instance = Path(instance_path)
    env = os.environ
    cfg: dict = {
        "DATABASE_URL": env.get("DATABASE_URL") or f"sqlite:///{instance / 'village_grid.db'}",
        "BASE_URL": _base_url(env),
        "TEAM_MAX_HOUSEHOLDS": int(env.get("TEAM_MAX_HOUSEHOLDS", "10")),
        "BABEL_DEFAULT_LOCALE": "zh",
        "BABEL_DEFAULT_TIMEZONE": env.get("TIMEZONE", "Asia/Shanghai"),
        "LANGUAGES": ("zh", "en"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Served over HTTPS (directly, or behind PROXY_COUNT proxies): redirect plain
        # HTTP, send HSTS, and mark every auth cookie Secure.
        "HTTPS": _bool(env.get("HTTPS", "0")),
        "SESSION_COOKIE_SECURE": _bool(env.get("SESSION_COOKIE_SECURE", env.get("HTTPS", "0"))),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,
        "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
        "API_TOKEN_MAX_AGE": int(env.get("API_TOKEN_MAX_AGE", str(30 * 24 * 3600))),
        # Notifications (tasks issue): log by default, webhooks when configured.
        "NOTIFY_CHANNEL": env.get("NOTIFY_CHANNEL", "log"),
        "NOTIFY_WEBHOOK_URL": env.get("NOTIFY_WEBHOOK_URL", ""),
        "NOTIFY_MAX_ATTEMPTS": int(env.get("NOTIFY_MAX_ATTEMPTS", "6")),
        # Delivery retries wait NOTIFY_BACKOFF_SECONDS, doubling each attempt.
        "NOTIFY_BACKOFF_SECONDS": int(env.get("NOTIFY_BACKOFF_SECONDS", "30")),
        "NOTIFY_TIMEOUT_SECONDS": float(env.get("NOTIFY_TIMEOUT_SECONDS", "5")),
        # A worker holds the messages it is sending this long; if it dies, another
        # takes them up after.
        "NOTIFY_CLAIM_SECONDS": int(env.get("NOTIFY_CLAIM_SECONDS", "120")),
        # Posts a minute each work-group robot takes (WeCom: 20 a group robot);
        # after a robot's rate-limit answer (errcode 45009, HTTP 429) it rests this long.
        "NOTIFY_ROBOT_PER_MINUTE": int(env.get("NOTIFY_ROBOT_PER_MINUTE", "20")),
        "NOTIFY_RATE_LIMITED_SECONDS": int(env.get("NOTIFY_RATE_LIMITED_SECONDS", "60")),
        # Redis keys of the robots' budgets start with this (workers sharing a Redis).
        "NOTIFY_BUDGET_PREFIX": env.get("NOTIFY_BUDGET_PREFIX", "vg"),
        # Background work (village_grid/jobs): "sqlite" (instance/jobs.db), "redis"
        # (the default when REDIS_URL is set) or "off" (nothing runs by itself).
        "REDIS_URL": env.get("REDIS_URL", ""),
        "JOBS_QUEUE": env.get("JOBS_QUEUE") or ("redis" if env.get("REDIS_URL") else "sqlite"),
        # The queue's name: keeps this deployment's jobs apart from others sharing a Redis.
        "JOBS_QUEUE_NAME": env.get("JOBS_QUEUE_NAME", "village_grid"),
        # Escalation checks and delivery retries run every this many minutes.
        "WORKER_TICK_MINUTES": int(env.get("WORKER_TICK_MINUTES", "1")),
        # The worker tells a large task's teams this many at a time, committing each
        # batch: the first leads' messages leave while the rest is routed, and a worker
        # stopped midway takes up where the last commit left (tasks/telling.py).
        "TELL_BATCH_TEAMS": max(1, int(env.get("TELL_BATCH_TEAMS", "2000"))),
        "TASK_PROGRESS_REFRESH_SECONDS": int(env.get("TASK_PROGRESS_REFRESH_SECONDS", "10")),
        "ESCALATION_INTERVAL_MINUTES": int(env.get("ESCALATION_INTERVAL_MINUTES", "30")),
        # A team lead with households still to confirm on a sweep and no sign of life
        # from their phone for this long — or half the time to the deadline, if sooner —
        # is listed as silent on the progress page and their grid member is asked to
        # call them (tasks/silent.py). 0 turns the watch off.
        "LEAD_SILENT_MINUTES": int(env.get("LEAD_SILENT_MINUTES", "15")),
        # Failed logins: LOGIN_MAX_FAILURES within LOGIN_FAILURE_WINDOW_MINUTES lock the
        # login name and the address for LOGIN_LOCKOUT_MINUTES (auth/throttle.py).
        "LOGIN_MAX_FAILURES": int(env.get("LOGIN_MAX_FAILURES", "10")),
        "LOGIN_FAILURE_WINDOW_MINUTES": int(env.get("LOGIN_FAILURE_WINDOW_MINUTES", "15")),
        "LOGIN_LOCKOUT_MINUTES": int(env.get("LOGIN_LOCKOUT_MINUTES", "15")),
        # Rate limits for the public door-plate pages (QR issue).
        # Counters in each worker's memory by default; redis://… shares them between
        # workers and hosts. If that store fails, each worker counts in memory
        # meanwhile (and says so in the log) rather than let requests through uncounted.
        # Static files are sent streamed; Flask-Compress leaves gzip out of its streaming
        # list by default, so a browser that takes only gzip got CSS and JS uncompressed.
        "COMPRESS_ALGORITHM_STREAMING": ["zstd", "br", "gzip", "deflate"],
        "RATELIMIT_STORAGE_URI": env.get("RATELIMIT_STORAGE_URI", "memory://"),
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        # A store that hangs (a host gone, not a refused port) holds a door-plate answer
        # at most this long before it is counted in memory.
        "RATELIMIT_STORAGE_TIMEOUT_SECONDS": float(
            env.get("RATELIMIT_STORAGE_TIMEOUT_SECONDS", "1")
        ),
        # Keeps this deployment's counters apart from others sharing the same Redis.
        "RATELIMIT_KEY_PREFIX": env.get("RATELIMIT_KEY_PREFIX", "village_grid"),
        "RATELIMIT_ENABLED": _bool(env.get("RATELIMIT_ENABLED", "1")),
        "RATELIMIT_HEADERS_ENABLED": True,
        # Door-plate limits (Flask-Limiter syntax), per plate token and per client address.
        "QR_READ_LIMIT_PER_TOKEN": env.get("QR_READ_LIMIT_PER_TOKEN", "60/minute"),
        "QR_READ_LIMIT_PER_ADDR": env.get("QR_READ_LIMIT_PER_ADDR", "300/minute"),
        "QR_WRITE_LIMIT_PER_TOKEN": env.get("QR_WRITE_LIMIT_PER_TOKEN", "10/minute;60/hour"),
        "QR_WRITE_LIMIT_PER_ADDR": env.get("QR_WRITE_LIMIT_PER_ADDR", "60/minute"),
        # Behind a reverse proxy: how many proxies set X-Forwarded-For/-Proto
        # (0 = none; then the socket address is the client's).
        "PROXY_COUNT": int(env.get("PROXY_COUNT", "0")),
        # The migrant-worker station (village_grid/station): a departed worker's full ID
        # number is erased this many days after the departure (the worker's tick).
        "ID_RETENTION_DAYS": int(env.get("ID_RETENTION_DAYS", "365")),
        # Team leads and grid members sign in by one-time link (auth/signin.py): a link
        # (or its 8-character code) is good for SIGN_IN_LINK_DAYS; the code a person
        # shows on their own signed-in page, for another browser, for SIGN_IN_CODE_MINUTES.
        # The login a link opens lasts REMEMBER_COOKIE_DURATION (365 days by default).
        "SIGN_IN_LINK_DAYS": int(env.get("SIGN_IN_LINK_DAYS", "7")),
        "SIGN_IN_CODE_MINUTES": int(env.get("SIGN_IN_CODE_MINUTES", "10")),
        # A registry file of more rows than this is imported by the worker, from the
        # page or the API; the request answers at once with the job's page.
        "IMPORT_INLINE_ROWS": int(env.get("IMPORT_INLINE_ROWS", "2000")),
        # Files made for download (village_grid/files): an export or report of more
        # households than FILES_JOB_HOUSEHOLDS is made by the worker (the page shows its
        # progress, the API answers 202); files live in FILES_DIR (instance/files by
        # default) and are deleted FILES_KEEP_DAYS days after they were made.
        "FILES_DIR": env.get("FILES_DIR", ""),
        "FILES_KEEP_DAYS": int(env.get("FILES_KEEP_DAYS", "7")),
        "FILES_JOB_HOUSEHOLDS": int(env.get("FILES_JOB_HOUSEHOLDS", "20000")),
        # Official warnings (village_grid/warnings, docs/warnings.md). A feed of CAP
        # documents (RSS or Atom) the worker reads every WARNINGS_POLL_MINUTES; empty: off.
        "WARNINGS_FEED_URL": env.get("WARNINGS_FEED_URL", ""),
        "WARNINGS_POLL_MINUTES": int(env.get("WARNINGS_POLL_MINUTES", "5")),
        "WARNINGS_FETCH_TIMEOUT_SECONDS": float(env.get("WARNINGS_FETCH_TIMEOUT_SECONDS", "10")),
        # A CAP document larger than this is refused before it is parsed.
        "WARNINGS_MAX_BYTES": int(env.get("WARNINGS_MAX_BYTES", str(512 * 1024))),
        "WARNINGS_EVENTS": _warning_events(env.get("WARNINGS_EVENTS", "")),
        # Drafts that send themselves after N minutes unless held, per severity; off by default.
        "WARNINGS_AUTOSEND": _autosend(env.get("WARNINGS_AUTOSEND", "")),
    }
    if "SECRET_KEY" not in overrides:
        cfg["SECRET_KEY"] = _secret_key(instance)
    if "ID_NUMBER_KEY" not in overrides:
        cfg["ID_NUMBER_KEY"] = _id_number_key(instance)
    cfg.update(overrides)
    cfg.setdefault("REMEMBER_COOKIE_SECURE", cfg["SESSION_COOKIE_SECURE"])  # every auth cookie

    if str(cfg["RATELIMIT_STORAGE_URI"]).startswith(("redis://", "rediss://")):
        wait = cfg["RATELIMIT_STORAGE_TIMEOUT_SECONDS"]
        cfg.setdefault(
            "RATELIMIT_STORAGE_OPTIONS", {"socket_connect_timeout": wait, "socket_timeout": wait}
        )

    cfg["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(cfg["DATABASE_URL"])
    cfg.setdefault(
        "SQLALCHEMY_ENGINE_OPTIONS", database.engine_options(cfg["SQLALCHEMY_DATABASE_URI"])
    )

    if cfg["NOTIFY_CHANNEL"] not in NOTIFY_CHANNELS:
        raise ConfigError(
            f"NOTIFY_CHANNEL must be one of {', '.join(NOTIFY_CHANNELS)}, "
            f"not {cfg['NOTIFY_CHANNEL']!r}"
        )
    if cfg["NOTIFY_CHANNEL"] != "log" and not cfg["NOTIFY_WEBHOOK_URL"]:
        raise ConfigError(f"NOTIFY_CHANNEL={cfg['NOTIFY_CHANNEL']} needs NOTIFY_WEBHOOK_URL")
    if cfg["JOBS_QUEUE"] not in JOBS_QUEUES:
        raise ConfigError(f"JOBS_QUEUE must be one of {', '.join(JOBS_QUEUES)}")
    if cfg["JOBS_QUEUE"] == "redis" and not cfg["REDIS_URL"]:
        raise ConfigError("JOBS_QUEUE=redis needs REDIS_URL")
    if cfg["TEAM_MAX_HOUSEHOLDS"] < 1:
        raise ConfigError("TEAM_MAX_HOUSEHOLDS must be at least 1")
    if cfg["ID_NUMBER_KEY"] and len(cfg["ID_NUMBER_KEY"]) < 32:
        raise ConfigError("ID_NUMBER_KEY must be at least 32 characters")
    if cfg["WARNINGS_POLL_MINUTES"] < 1:
        raise ConfigError("WARNINGS_POLL_MINUTES must be at least 1")
    if cfg["ID_RETENTION_DAYS"] < 1:
        raise ConfigError("ID_RETENTION_DAYS must be at least 1")
    if cfg["FILES_KEEP_DAYS"] < 1:
        raise ConfigError("FILES_KEEP_DAYS must be at least 1")
    if not 1 <= cfg["SIGN_IN_LINK_DAYS"] <= 90:
        raise ConfigError("SIGN_IN_LINK_DAYS must be between 1 and 90")
    if not 1 <= cfg["SIGN_IN_CODE_MINUTES"] <= 60:
        raise ConfigError("SIGN_IN_CODE_MINUTES must be between 1 and 60")
    return cfg


def normalise_database_url(url: str) -> str:
    """Accept the usual ``postgresql://`` spelling and use the psycopg 3 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url
