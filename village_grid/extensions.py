"""Extension objects, created unbound and wired in the app factory."""

import threading

from flask_babel import Babel
from flask_compress import Compress
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names so Alembic migrations are the same on every engine.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()


class FailoverLimiter(Limiter):
    """Flask-Limiter whose in-memory fallback holds for every thread.

    Flask-Limiter switches to counting in memory in the thread that first sees its
    store fail; threads that were already waiting on the store then re-raise the
    store's error — a 500 for a door-plate answer, the answer not stored. Here every
    call of the limiting strategy that fails on the store is answered by the
    in-memory fallback instead: the first failure says so in the log (once per
    outage; Flask-Limiter logs the recovery), and the store is tried again by
    Flask-Limiter's own back-off.
    """

    _switch = threading.Lock()

    @property
    def limiter(self):
        chosen = super().limiter
        fallback = self._fallback_limiter
        if fallback is None or chosen is fallback:
            return chosen
        return _Failover(self, chosen, fallback)

    @property
    def store_down(self) -> bool:
        """Counting in memory because the store failed (until it answers again)."""
        return bool(self._storage_dead)

    def store_failed(self, err: Exception) -> None:
        with self._switch:
            if not self._storage_dead:
                self.logger.warning(
                    "Rate limit storage unreachable - falling back to in-memory storage (%s: %s)",
                    type(err).__name__,
                    err,
                )
                self._storage_dead = True


class _Failover:
    """A rate-limiting strategy that answers from the fallback when the store fails."""

    def __init__(self, owner: FailoverLimiter, primary, fallback) -> None:
        self._owner, self._primary, self._fallback = owner, primary, fallback

    def __getattr__(self, name: str):
        primary, fallback = getattr(self._primary, name), getattr(self._fallback, name)
        if not callable(primary):
            return primary

        def call(*args, **kwargs):
            try:
                return primary(*args, **kwargs)
            except Exception as err:  # the store (Redis) failed: count in memory meanwhile
                self._owner.store_failed(err)
                return fallback(*args, **kwargs)

        return call


limiter = FailoverLimiter(key_func=get_remote_address, default_limits=[])
# Pages, CSS, JS and JSON compressed (zstd, brotli or gzip, as the browser takes).
compress = Compress()
