"""Background work that runs by itself: outbox delivery, escalation ticks, retries.

The jobs run on huey (``queue.py``): SQLite storage under ``instance/`` by
default, Redis when ``REDIS_URL`` is set. The outbox table stays the durable
record of every message; the queue only wakes the work up. ``village-grid
worker`` runs a consumer; ``scripts/run`` starts one beside the web server.
"""
