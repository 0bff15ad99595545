"""``flask bundles validate``: every problem with file, path and hint; exit 1."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from service.cli import bundles_cli
from service.config import PROJECT_ROOT

LATER_CONDITION = (PROJECT_ROOT / "tests" / "data" / "care_bundles" / "later-condition.yaml").read_text(
    encoding="utf-8"
)


def test_validate_shipped_care_bundles_passes() -> None:
    result = CliRunner().invoke(bundles_cli, ["validate", str(PROJECT_ROOT / "bundles")])
    assert result.exit_code == 0, result.output
    files = sorted((PROJECT_ROOT / "bundles").glob("*.yaml"))
    assert f"{len(files)} care bundle(s) valid" in result.output
    for care_bundle_id in ("oasi-care-bundle", "hip-fracture-pathway", "freed-triage"):
        assert f"{care_bundle_id} 1.0.0" in result.output
        assert f"{care_bundle_id} 2.0.0" in result.output
    for care_bundle_id in ("sharehd", "i-thrive", "inspire", "three-dlc"):
        assert f"{care_bundle_id} 1.0.0" in result.output


def test_validate_reports_file_path_and_hint_and_exits_1(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(LATER_CONDITION, encoding="utf-8")
    result = CliRunner().invoke(bundles_cli, ["validate", str(broken)])
    assert result.exit_code == 1
    assert (
        f"FAIL {broken}: elements[0].enable_when[0].element: condition refers to 'second', which comes later "
        "(hint: a condition may only depend on an element above it)"
    ) in result.output
    assert "1 problem(s) in 1 file(s)" in result.output


def test_validate_is_a_flask_command_even_when_the_app_cannot_start(tmp_path: Path) -> None:
    # The plugin entry point makes `flask bundles` available without loading the app.
    from importlib.metadata import entry_points

    (entry_point,) = [ep for ep in entry_points(group="flask.commands") if ep.name == "bundles"]
    assert entry_point.load() is bundles_cli


def test_flask_bundles_validate_runs_from_the_command_line_with_a_broken_folder(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text(LATER_CONDITION, encoding="utf-8")
    env = {
        **os.environ,
        "CARELOOP_BUNDLES_DIR": str(tmp_path),
        "CARELOOP_ENV": "testing",
        "FLASK_APP": "wsgi",
    }
    result = subprocess.run(
        [sys.executable, "-m", "flask", "bundles", "validate"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"FAIL {tmp_path / 'broken.yaml'}: elements[0].enable_when[0].element" in result.stderr


def test_demo_load_and_logins_on_a_fresh_database(tmp_path: Path) -> None:
    from flask_migrate import upgrade

    from service import create_app

    app = create_app({"ENV": "development", "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}"})
    runner = app.test_cli_runner()
    # Push this app's context: the CLI runner reuses any app context already pushed (the suite's app).
    with app.app_context():
        upgrade()
        first = runner.invoke(args=["demo", "load"])
        again = runner.invoke(args=["demo", "load"])
        logins = runner.invoke(args=["demo", "logins"])
    assert first.exit_code == 0, first.output
    assert "created 2 site(s), 8 unit(s), 7 user(s)" in first.output
    assert "1500 completed checklist(s) on the SPC demo ward" in first.output
    assert "3 open checklist(s)" in first.output
    assert "already loaded, nothing created" in again.output
    assert "midwife" in logins.output
    assert "demo-midwife" in logins.output


def test_demo_load_is_refused_in_production(tmp_path: Path) -> None:
    from service import create_app

    app = create_app(
        {"ENV": "production", "SECRET_KEY": "x" * 32, "DATABASE_URL": f"sqlite:///{tmp_path / 'prod.db'}"}
    )
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["demo", "load"])
    assert result.exit_code == 1
    assert "only with CARELOOP_ENV=development" in result.output
