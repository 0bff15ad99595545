"""``Server-Timing: app;dur=<ms>`` on every response, and nothing but the duration."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from service.server_timing import HEADER, init_server_timing

#: The whole header: one metric, named "app", with a duration of one decimal; no description, nothing else.
ONLY_A_DURATION = re.compile(r"app;dur=\d+\.\d")


def duration_of(value: str) -> float:
    assert ONLY_A_DURATION.fullmatch(value), value
    return float(value.removeprefix("app;dur="))


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/healthz", 200),
        ("/", 200),
        ("/sign-in", 200),
        ("/ward/", 302),  # signed out: sent to the sign-in page
        ("/no-such-page", 404),
        ("/assets/nhsuk/nhsuk-frontend.min.css", 200),
        ("/static/css/careloop.css", 200),
        ("/fhir/metadata", 200),
    ],
)
def test_every_response_says_how_long_the_app_took_and_nothing_else(
    session: Session, client: FlaskClient, path: str, status: int
) -> None:
    with client.get(path) as response:
        assert response.status_code == status
        assert response.headers.getlist(HEADER) == [response.headers[HEADER]]
        assert duration_of(response.headers[HEADER]) >= 0


def test_a_refused_post_is_timed_too(session: Session, client: FlaskClient, csrf_enabled: None) -> None:
    response = client.post("/sign-in", data={"username": "sam", "password": "x"})
    assert response.status_code == 400  # no CSRF token
    duration_of(response.headers[HEADER])


class FakeClock:
    """A clock that moves only when told to: the tests say how long each step takes."""

    def __init__(self) -> None:
        self.seconds = 1000.0

    def __call__(self) -> float:
        return self.seconds

    def advance(self, milliseconds: float) -> None:
        self.seconds += milliseconds / 1000


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def timed_app(clock: FakeClock) -> Flask:
    app = Flask(__name__)
    init_server_timing(app, clock=clock)

    @app.get("/slow")
    def slow() -> str:
        clock.advance(50)
        return "done"

    @app.get("/failing")
    def failing() -> str:
        raise RuntimeError("boom")

    @app.get("/own-metric")
    def own_metric() -> tuple[str, dict[str, str]]:
        return "done", {HEADER: "cache;desc=hit"}

    return app


def test_the_duration_is_the_time_spent_in_the_app(timed_app: Flask) -> None:
    assert duration_of(timed_app.test_client().get("/slow").headers[HEADER]) == 50.0


def test_the_timer_wraps_the_other_request_hooks(timed_app: Flask, clock: FakeClock) -> None:
    @timed_app.before_request
    def slow_before() -> None:
        clock.advance(30)

    @timed_app.after_request
    def slow_after(response: object) -> object:
        clock.advance(30)
        return response

    assert duration_of(timed_app.test_client().get("/slow").headers[HEADER]) == 110.0


def test_time_outside_the_request_hooks_is_not_counted(timed_app: Flask, clock: FakeClock) -> None:
    client = timed_app.test_client()
    client.get("/slow")
    clock.advance(5000)  # between requests
    assert duration_of(client.get("/slow").headers[HEADER]) == 50.0


def test_an_error_response_is_timed(timed_app: Flask) -> None:
    response = timed_app.test_client().get("/failing")
    assert response.status_code == 500
    duration_of(response.headers[HEADER])


def test_a_views_own_metrics_are_kept(timed_app: Flask) -> None:
    headers = timed_app.test_client().get("/own-metric").headers.getlist(HEADER)
    assert headers[0] == "cache;desc=hit"
    duration_of(headers[1])


def test_the_timer_is_the_first_request_hook_of_the_app(app: Flask) -> None:
    """``create_app`` registers it before any extension, so sign-in, CSRF and compression are inside it."""
    assert app.before_request_funcs[None][0].__module__ == "service.server_timing"
    assert app.after_request_funcs[None][0].__module__ == "service.server_timing"
