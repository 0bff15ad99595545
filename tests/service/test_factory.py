"""The application factory: safe settings or no app at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.care_bundle import InvalidCareBundle
from service import create_app
from service.config import PROJECT_ROOT, ConfigError

LATER_CONDITION = (PROJECT_ROOT / "tests" / "data" / "care_bundles" / "later-condition.yaml").read_text(
    encoding="utf-8"
)


def test_testing_config_is_applied(tmp_path: Path) -> None:
    app = create_app({"ENV": "testing", "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})
    assert app.config["ENV"] == "testing"
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'x.db'}"
    assert len(app.config["SECRET_KEY"]) == 64


def test_production_without_secret_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CARELOOP_SECRET_KEY", raising=False)
    monkeypatch.delenv("CARELOOP_ENV", raising=False)
    with pytest.raises(ConfigError, match="CARELOOP_SECRET_KEY is not set"):
        create_app()


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CARELOOP_SECRET_KEY", "from-the-environment")
    monkeypatch.setenv("CARELOOP_DATABASE_URL", "postgresql://someone@db.invalid/careloop")
    app = create_app()
    assert app.config["ENV"] == "production"
    assert app.config["SECRET_KEY"] == "from-the-environment"
    # psycopg 3 is the driver shipped with the postgres extra
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://someone@db.invalid/careloop"


def test_unknown_environment_is_refused() -> None:
    with pytest.raises(ConfigError, match="CARELOOP_ENV must be one of"):
        create_app({"ENV": "staging", "SECRET_KEY": "x"})


def test_default_database_is_sqlite_in_the_instance_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CARELOOP_DATABASE_URL", raising=False)
    app = create_app({"ENV": "testing"})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{Path(app.instance_path) / 'careloop.db'}"


def test_invalid_care_bundle_stops_the_app_naming_file_and_path(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text(LATER_CONDITION, encoding="utf-8")
    with pytest.raises(InvalidCareBundle) as caught:
        create_app({"ENV": "testing", "BUNDLES_DIR": str(tmp_path)})
    message = str(caught.value)
    assert str(tmp_path / "broken.yaml") in message
    assert "elements[0].enable_when[0].element" in message


def test_duplicate_care_bundle_version_stops_the_app(tmp_path: Path) -> None:
    good = LATER_CONDITION.replace(
        'element: second, operator: "=", answer: true', "element: start, operator: exists, answer: true"
    )
    (tmp_path / "a.yaml").write_text(good, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(good, encoding="utf-8")
    with pytest.raises(InvalidCareBundle, match="broken 1.0.0 is also defined in"):
        create_app({"ENV": "testing", "BUNDLES_DIR": str(tmp_path)})
