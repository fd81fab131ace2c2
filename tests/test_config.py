"""Configuration: one module, environment overrides, hard errors for what is missing."""

import pytest

from tests.factories import create_task, create_tree, create_user
from village_grid import create_app
from village_grid.config import ConfigError, load_config
from village_grid.extensions import db
from village_grid.models import StatusEvent


def test_missing_secret_key_is_a_hard_error(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_config(str(tmp_path))


def test_secret_key_from_instance_file(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    (tmp_path / "secret_key").write_text("from-file\n")
    assert load_config(str(tmp_path))["SECRET_KEY"] == "from-file"


def test_webhook_channel_needs_a_url(tmp_path, monkeypatch):
    monkeypatch.setenv("NOTIFY_CHANNEL", "wecom")
    monkeypatch.delenv("NOTIFY_WEBHOOK_URL", raising=False)
    with pytest.raises(ConfigError, match="NOTIFY_WEBHOOK_URL"):
        load_config(str(tmp_path), {"SECRET_KEY": "x"})
    monkeypatch.setenv("NOTIFY_CHANNEL", "pigeon")
    with pytest.raises(ConfigError, match="NOTIFY_CHANNEL"):
        load_config(str(tmp_path), {"SECRET_KEY": "x"})


def test_environment_overrides_and_postgres_url_spelling(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://u@db.example/vg")
    monkeypatch.setenv("TEAM_MAX_HOUSEHOLDS", "12")
    cfg = load_config(str(tmp_path), {"SECRET_KEY": "x"})
    assert cfg["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db.example/vg"
    assert cfg["TEAM_MAX_HOUSEHOLDS"] == 12
    monkeypatch.delenv("DATABASE_URL")
    assert load_config(str(tmp_path), {"SECRET_KEY": "x"})["DATABASE_URL"].startswith("sqlite:///")


@pytest.mark.parametrize("proxies, expected", [(0, "127.0.0.1"), (1, "203.0.113.9")])
def test_client_address_behind_a_proxy(app, proxies, expected):
    """Door-plate reports are logged with the client's address; X-Forwarded-For is
    believed only when PROXY_COUNT says a proxy sets it."""
    tree = create_tree(grids=1, teams=1, households=1)
    household = tree["households"][0]
    cadre = create_user("cadre", tree["village"])
    task = create_task(tree["village"], cadre, title="防汛排查")
    proxied = create_app(
        {
            **{k: app.config[k] for k in ("SECRET_KEY", "DATABASE_URL", "BASE_URL")},
            "TESTING": True,
            "PROXY_COUNT": proxies,
        }
    )
    res = proxied.test_client().post(
        f"/api/v1/public/{household.qr_token}/reports",
        json={"task_id": task.id, "status": "safe"},
        headers={"X-Forwarded-For": "203.0.113.9"},
    )
    assert res.status_code == 201, res.get_json()
    event = db.session.scalars(db.select(StatusEvent).where(StatusEvent.task_id == task.id)).one()
    assert event.client_addr == expected
