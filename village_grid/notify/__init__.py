"""Notifications: the outbox and its delivery channels (log, webhook, WeCom robot)."""
