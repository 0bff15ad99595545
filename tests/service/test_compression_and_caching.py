"""What a browser keeps and what crosses the wire: cacheable files (max-age, ETag, 304) and compression
(Flask-Compress, configured in ``service.home.frontend``)."""

from __future__ import annotations

import gzip
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from service.models import User

FILES = [
    "/assets/nhsuk/nhsuk-frontend.min.css",  # served from memory (localised)
    "/assets/nhsuk/nhsuk-frontend.min.js",  # send_from_directory
    "/assets/nhsuk/assets/images/favicon.svg",
    "/static/js/checklist.js",  # Flask's static route
    "/static/css/careloop.css",
]
GZIP = {"Accept-Encoding": "gzip"}


@pytest.mark.parametrize("path", FILES)
def test_files_are_cached_for_an_hour_then_revalidated(client: FlaskClient, path: str) -> None:
    with client.get(path) as response:
        assert response.status_code == 200
        assert response.cache_control.public
        assert response.cache_control.max_age == 3600
        assert not response.cache_control.no_cache
        etag = response.headers["ETag"]
    with client.get(path, headers={"If-None-Match": etag}) as again:
        assert again.status_code == 304
        assert again.get_data() == b""
        assert again.cache_control.max_age == 3600


@pytest.mark.parametrize("path", FILES[:4])
def test_files_are_gzipped_for_a_client_that_takes_gzip_and_revalidate_by_the_gzipped_etag(
    client: FlaskClient, path: str
) -> None:
    with client.get(path) as plain:
        original = plain.get_data()
        assert "Content-Encoding" not in plain.headers
    with client.get(path, headers=GZIP) as response:
        assert response.headers["Content-Encoding"] == "gzip"
        assert "Accept-Encoding" in response.headers["Vary"]
        body = response.get_data()
        assert int(response.headers["Content-Length"]) == len(body) < len(original)
        assert gzip.decompress(body) == original
        etag = response.headers["ETag"]
    assert etag.endswith(':gzip"')
    with client.get(path, headers={**GZIP, "If-None-Match": etag}) as again:
        assert again.status_code == 304
        assert again.get_data() == b""


def test_pages_are_gzipped(client: FlaskClient) -> None:
    plain = client.get("/").get_data()
    response = client.get("/", headers=GZIP)
    assert response.headers["Content-Encoding"] == "gzip"
    assert len(response.get_data()) < len(plain) / 2
    assert b"Careloop" in gzip.decompress(response.get_data())


def test_the_best_encoding_the_client_takes_is_chosen(client: FlaskClient) -> None:
    with client.get("/static/js/checklist.js", headers={"Accept-Encoding": "gzip, deflate, br"}) as response:
        assert response.headers["Content-Encoding"] == "br"


@pytest.mark.parametrize(
    "path",
    [
        "/assets/nhsuk/assets/images/nhsuk-icon-180.png",  # already compressed
        "/static/js/js-enabled.js",  # under 500 bytes: too small to gain anything
        "/healthz",
    ],
)
def test_what_compression_would_not_shrink_is_sent_as_it_is(
    session: Session, client: FlaskClient, path: str
) -> None:
    with client.get(path, headers=GZIP) as response:
        assert response.status_code == 200
        assert "Content-Encoding" not in response.headers


def test_max_age_zero_makes_browsers_revalidate_every_time(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "SEND_FILE_MAX_AGE_DEFAULT", 0)
    for path in ("/assets/nhsuk/nhsuk-frontend.min.css", "/static/js/checklist.js"):
        with client.get(path) as response:
            assert response.cache_control.no_cache
            assert not response.cache_control.public


def test_pages_are_not_marked_cacheable(client: FlaskClient) -> None:
    response = client.get("/sign-in")
    assert not response.cache_control.public
    assert response.cache_control.max_age is None


def test_a_public_file_never_carries_the_session_cookie(
    session: Session,
    client: FlaskClient,
    make_user: Callable[..., User],
    sign_in: Callable[..., TestResponse],
) -> None:
    """A shared cache may keep a ``public`` response: one with a ``Set-Cookie`` would sign others in."""
    make_user("sam")
    assert sign_in("sam").headers.get("Set-Cookie")
    for path in FILES:
        with client.get(path) as response:
            assert response.cache_control.public
            assert "Set-Cookie" not in response.headers, path
