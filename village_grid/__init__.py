"""village_grid: small team, fine grid.

``create_app`` only wires: config → extensions → blueprints → CLI.
"""

from __future__ import annotations

import os

from flask import Flask

from village_grid.i18n import PROJECT_DIR


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_path=os.environ.get("INSTANCE_PATH") or str(PROJECT_DIR / "instance"),
        template_folder=str(PROJECT_DIR / "templates"),
        static_folder=str(PROJECT_DIR / "static"),
    )
    os.makedirs(app.instance_path, exist_ok=True)

    from village_grid.config import load_config

    app.config.from_mapping(load_config(app.instance_path, test_config))

    from village_grid import web

    web.init_extensions(app)
    web.register_blueprints(app)
    web.register_error_handlers(app)
    web.register_template_helpers(app)

    from village_grid.cli import register_cli

    register_cli(app)
    return app
