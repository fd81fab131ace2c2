"""The audit log: who changed what, before and after, when and from where.

This package writes it (``service.record``, in the caller's transaction) and sits
below every domain that records; the page that reads it is ``village_grid/auditlog``.
"""
