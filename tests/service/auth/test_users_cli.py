"""``flask users``: create, set-password, add-unit, deactivate, list; clear errors and exit 1."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash

from service.auth.users import MIN_PASSWORD_LENGTH
from service.models import Role, Site, Unit, User

PASSWORD = "a long enough passphrase"


def user_named(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


@pytest.fixture
def ward(session: Session) -> Unit:
    site = Site(code="TRUST1", name="Test trust")
    unit = Unit(code="ward-7", name="Ward 7")
    site.units.append(unit)
    session.add(site)
    session.flush()
    return unit


def test_create_with_password_on_stdin(session: Session, runner: FlaskCliRunner) -> None:
    result = runner.invoke(
        args=["users", "create", "sam", "--name", "Sam Jones", "--role", "clinician", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    assert "created sam (clinician)" in result.output
    sam = user_named(session, "sam")
    assert sam is not None
    assert (sam.display_name, sam.role, sam.active, sam.units) == ("Sam Jones", "clinician", True, [])
    assert sam.password_hash.startswith("scrypt:")
    assert check_password_hash(sam.password_hash, PASSWORD)
    assert PASSWORD not in result.output


def test_create_prompts_twice_for_the_password(session: Session, runner: FlaskCliRunner) -> None:
    result = runner.invoke(
        args=["users", "create", "ada", "--name", "Ada", "--role", "admin"], input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    assert "Repeat for confirmation" in result.output
    ada = user_named(session, "ada")
    assert ada is not None
    assert ada.role == Role.ADMIN.value
    assert check_password_hash(ada.password_hash, PASSWORD)


def test_duplicate_username_is_refused_before_the_password(
    session: Session, runner: FlaskCliRunner, make_user: Callable[..., User]
) -> None:
    make_user("sam")
    result = runner.invoke(args=["users", "create", "sam", "--name", "Another Sam", "--role", "clinician"])
    assert result.exit_code == 1
    assert "a user named 'sam' already exists" in result.output
    assert "Password" not in result.output


def test_short_password_is_refused(session: Session, runner: FlaskCliRunner) -> None:
    short = "x" * (MIN_PASSWORD_LENGTH - 1)
    result = runner.invoke(
        args=["users", "create", "sam", "--name", "Sam", "--role", "clinician", "--password-stdin"],
        input=short + "\n",
    )
    assert result.exit_code == 1
    assert f"at least {MIN_PASSWORD_LENGTH} characters" in result.output
    assert user_named(session, "sam") is None


@pytest.mark.parametrize("username", ["Sam", "sam jones", "_sam", "sam/1", "", "s" * 65])
def test_malformed_username_is_refused(session: Session, runner: FlaskCliRunner, username: str) -> None:
    result = runner.invoke(
        args=["users", "create", username, "--name", "Sam", "--role", "clinician", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 1
    assert "is not allowed" in result.output


def test_unknown_role_is_refused(session: Session, runner: FlaskCliRunner) -> None:
    result = runner.invoke(
        args=["users", "create", "sam", "--name", "Sam", "--role", "nurse", "--password-stdin"]
    )
    assert result.exit_code == 2  # click's usage error
    assert "'nurse' is not one of" in result.output


def test_set_password(session: Session, runner: FlaskCliRunner, make_user: Callable[..., User]) -> None:
    sam = make_user("sam")
    result = runner.invoke(
        args=["users", "set-password", "sam", "--password-stdin"], input="a brand new passphrase\n"
    )
    assert result.exit_code == 0, result.output
    assert "password of sam changed" in result.output
    assert check_password_hash(sam.password_hash, "a brand new passphrase")

    result = runner.invoke(args=["users", "set-password", "sam", "--password-stdin"], input="short\n")
    assert result.exit_code == 1
    assert check_password_hash(sam.password_hash, "a brand new passphrase")


def test_set_password_of_unknown_user(session: Session, runner: FlaskCliRunner) -> None:
    result = runner.invoke(
        args=["users", "set-password", "nobody", "--password-stdin"], input=PASSWORD + "\n"
    )
    assert result.exit_code == 1
    assert "no user named 'nobody'" in result.output


def test_add_unit(
    session: Session, runner: FlaskCliRunner, make_user: Callable[..., User], ward: Unit
) -> None:
    sam = make_user("sam")
    result = runner.invoke(args=["users", "add-unit", "sam", "TRUST1", "ward-7"])
    assert result.exit_code == 0, result.output
    assert "sam now works in TRUST1/ward-7" in result.output
    assert sam.units == [ward]
    again = runner.invoke(args=["users", "add-unit", "sam", "TRUST1", "ward-7"])
    assert again.exit_code == 0
    assert "sam already works in TRUST1/ward-7" in again.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sam", "TRUST1", "ward-8"], "no unit 'ward-8' at site 'TRUST1'"),
        (["sam", "TRUST9", "ward-7"], "no unit 'ward-7' at site 'TRUST9'"),
        (["nobody", "TRUST1", "ward-7"], "no user named 'nobody'"),
    ],
)
def test_add_unknown_unit_or_user_exits_1(
    session: Session,
    runner: FlaskCliRunner,
    make_user: Callable[..., User],
    ward: Unit,
    args: list[str],
    message: str,
) -> None:
    sam = make_user("sam")
    result = runner.invoke(args=["users", "add-unit", *args])
    assert result.exit_code == 1
    assert message in result.output
    assert sam.units == []


def test_deactivate_and_activate(
    session: Session, runner: FlaskCliRunner, make_user: Callable[..., User]
) -> None:
    sam = make_user("sam")
    assert runner.invoke(args=["users", "deactivate", "sam"]).exit_code == 0
    assert not sam.active
    assert runner.invoke(args=["users", "activate", "sam"]).exit_code == 0
    assert sam.active
    assert runner.invoke(args=["users", "deactivate", "nobody"]).exit_code == 1


def test_list(session: Session, runner: FlaskCliRunner, make_user: Callable[..., User], ward: Unit) -> None:
    make_user("sam", display_name="Sam Jones", units=[ward])
    make_user("ada", role=Role.ADMIN, display_name="Ada Admin", active=False)
    result = runner.invoke(args=["users", "list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    (ada,) = [line for line in lines if line.startswith("ada ")]
    (sam,) = [line for line in lines if line.startswith("sam ")]
    assert lines.index(ada) < lines.index(sam)
    assert ada.split()[:3] == ["ada", "admin", "inactive"]
    assert "Ada Admin" in ada
    assert "[no units]" in ada
    assert sam.split()[:3] == ["sam", "clinician", "active"]
    assert "[TRUST1/ward-7]" in sam
