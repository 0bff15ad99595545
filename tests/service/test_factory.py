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


def test_production_refuses_to_start_without_the_nhsuk_frontend(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"NHS.UK frontend is not at .*npm ci"):
        create_app({"SECRET_KEY": "x", "ENV": "production", "NHSUK_FRONTEND_DIR": str(tmp_path)})


def test_development_warns_without_the_nhsuk_frontend(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app({"ENV": "development", "NHSUK_FRONTEND_DIR": str(tmp_path)})
    assert "NHS.UK frontend is not at" in caplog.text
    assert app.test_client().get("/assets/nhsuk/nhsuk-frontend.min.css").status_code == 404


def test_a_foreign_reference_in_the_nhsuk_stylesheet_stops_the_app(tmp_path: Path) -> None:
    (tmp_path / "nhsuk-frontend.min.css").write_text(".x{background:url(https://cdn.example/x.png)}")
    (tmp_path / "nhsuk-frontend.min.js").write_text("export {}")
    with pytest.raises(ConfigError, match=r"refers to another origin: https://cdn.example/x.png"):
        create_app({"ENV": "testing", "NHSUK_FRONTEND_DIR": str(tmp_path)})


def test_session_lifetime_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="PERMANENT_SESSION_LIFETIME must be a positive number of seconds"):
        create_app({"ENV": "testing", "PERMANENT_SESSION_LIFETIME": 0})


def test_jinja_renders_the_nhsuk_macros_escaped(tmp_path: Path) -> None:
    app = create_app({"ENV": "testing", "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})
    with app.app_context():
        html = app.jinja_env.from_string(
            '{% from "nhsuk/components/tag/macro.jinja" import tag %}{{ tag({"text": name}) }}'
        ).render(name="<b>x</b>")
    assert "&lt;b&gt;x&lt;/b&gt;" in html
    assert 'class="nhsuk-tag"' in html


def test_database_errors_never_quote_the_values_they_were_given(tmp_path: Path) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    from service.extensions import db

    app = create_app({"ENV": "testing", "SECRET_KEY": "x", "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})
    with app.app_context(), pytest.raises(OperationalError) as raised:
        db.session.execute(text("SELECT * FROM no_such_table WHERE x = :nhs"), {"nhs": "9434765919"})
    assert "9434765919" not in str(raised.value)
    assert "hidden due to hide_parameters" in str(raised.value)
