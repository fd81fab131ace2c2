"""The hierarchy blueprint: ``routes.py`` (the tree, units, households, plates) and
``routes_registry.py`` (the registry file: import and export) register their pages on
:data:`bp`; ``routes.py`` loads the other, which imports only this."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("hierarchy", __name__)
