"""Forms of the warnings pages: a CAP file to upload, and buttons (CSRF only)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField


class UploadForm(FlaskForm):
    file = FileField(_l("CAP warning file (.xml)"))


class ActionForm(FlaskForm):
    """Send, hold, withdraw, make a token: a button and its CSRF token."""
