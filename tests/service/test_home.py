"""The landing page, the health check, and the page foundation: NHS.UK layout, local assets, headers."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urljoin

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from service.care_bundles import CareBundleRegistry
from service.home.frontend import ForeignReference, leaves_origin, localise_css
from service.home.security import CONTENT_SECURITY_POLICY
from service.models import User

SVG_NAMESPACE = 'xmlns="http://www.w3.org/2000/svg"'
#: ``https://host``, ``http://host``, and ``//host`` where a URL starts (not a ``//`` comment).
ABSOLUTE_URL = re.compile(r"""(?:https?:|(?<=["'(=])//)[^\s"'<>)]+""", re.IGNORECASE)
#: Whatever the page loads or links to: attributes and CSS url()s.
LOCAL_REFERENCE = re.compile(r'(?:href|src|action)="([^"#][^"]*)"')


def foreign_urls(text: str) -> list[str]:
    """Absolute and scheme-relative URLs in ``text`` (pages use paths only), bar the inline SVG namespace."""
    return ABSOLUTE_URL.findall(text.replace(SVG_NAMESPACE, ""))


def test_index_lists_the_care_bundles_with_questionnaire_links(app: Flask, client: FlaskClient) -> None:
    registry: CareBundleRegistry = app.extensions["care_bundles"]
    response = client.get("/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert page.count('class="nhsuk-card"') == len(registry) >= 10
    for care_bundle in registry:
        assert f'href="/fhir/Questionnaire/{care_bundle.id}-{care_bundle.version}"' in page


def test_healthz_reports_database_and_care_bundles(app: Flask, session: Session, client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "care_bundles": len(app.extensions["care_bundles"])}


def test_layout_is_the_nhsuk_page_with_service_name_skip_link_and_footer(client: FlaskClient) -> None:
    page = client.get("/").get_data(as_text=True)
    assert page.startswith('<!doctype html>\n<html lang="en-GB">')
    assert "<title>Care bundles – Careloop</title>" in page
    assert 'class="nhsuk-skip-link" data-module="nhsuk-skip-link" href="#maincontent"' in page
    assert 'class="nhsuk-header" data-module="nhsuk-header" role="banner"' in page
    assert re.search(r'<a class="nhsuk-header__service-logo" href="/"[^>]*>.*?Careloop</span>', page, re.S)
    assert '<main class="nhsuk-main-wrapper" id="maincontent">' in page
    assert 'class="nhsuk-footer"' in page
    assert 'href="/sign-in"' in page  # nobody signed in
    assert "<script>" not in page  # nothing inline: the content security policy forbids it
    assert " style=" not in page


def test_header_names_the_signed_in_user_and_offers_sign_out(
    session: Session,
    client: FlaskClient,
    make_user: Callable[..., User],
    sign_in: Callable[..., TestResponse],
) -> None:
    make_user("sam", display_name="Sam <Jones>")
    sign_in("sam")
    page = client.get("/").get_data(as_text=True)
    assert "Sam &lt;Jones&gt;" in page
    assert 'action="/sign-out" method="post"' in page
    assert 'name="csrf_token"' in page
    assert 'href="/sign-in"' not in page


@pytest.mark.parametrize("path", ["/", "/sign-in"])
def test_pages_refer_to_this_origin_only_and_send_security_headers(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    page = response.get_data(as_text=True)
    assert foreign_urls(page) == []
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "default-src 'self'" in CONTENT_SECURITY_POLICY
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


@pytest.mark.parametrize("path", ["/", "/sign-in"])
def test_every_asset_a_page_refers_to_is_served_here(client: FlaskClient, path: str) -> None:
    page = client.get(path).get_data(as_text=True)
    assets = {url for url in LOCAL_REFERENCE.findall(page) if url.startswith(("/assets/", "/static/"))}
    assert {
        "/assets/nhsuk/nhsuk-frontend.min.css",
        "/static/css/careloop.css",
        "/static/js/js-enabled.js",
        "/static/js/nhsuk-init.js",
        "/assets/nhsuk/assets/images/favicon.ico",
        "/assets/nhsuk/assets/manifest.json",
    } <= assets
    for url in assets:
        with client.get(url) as response:
            assert response.status_code == 200, url
            assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_served_stylesheet_loads_nothing_from_elsewhere(client: FlaskClient) -> None:
    response = client.get("/assets/nhsuk/nhsuk-frontend.min.css")
    assert response.status_code == 200
    assert response.mimetype == "text/css"
    css = response.get_data(as_text=True)
    assert foreign_urls(css) == []
    assert "@font-face" not in css
    assert "sourceMappingURL" not in css
    assert ".nhsuk-header" in css
    # Its icons resolve against the stylesheet's own URL, and are there.
    icons = set(re.findall(r"url\(([^)]+)\)", css))
    assert icons
    for icon in icons:
        url = urljoin("/assets/nhsuk/nhsuk-frontend.min.css", icon.strip("'\""))
        with client.get(url) as icon_response:
            assert icon_response.status_code == 200, url
    etag = response.headers["ETag"]
    assert (
        client.get("/assets/nhsuk/nhsuk-frontend.min.css", headers={"If-None-Match": etag}).status_code == 304
    )


def test_own_stylesheet_sets_the_system_font_stack(client: FlaskClient) -> None:
    with client.get("/static/css/careloop.css") as response:
        css = response.get_data(as_text=True)
    assert 'font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;' in css
    assert foreign_urls(css) == []


def test_scripts_are_files_that_initialise_the_frontend_from_here(client: FlaskClient) -> None:
    with client.get("/static/js/nhsuk-init.js") as init:
        assert init.mimetype == "text/javascript"
        (module,) = re.findall(r'from "([^"]+)"', init.get_data(as_text=True))
    with client.get(urljoin("/static/js/nhsuk-init.js", module)) as frontend:
        assert frontend.status_code == 200
        assert frontend.mimetype == "text/javascript"
        source = frontend.get_data(as_text=True)
    assert "export" in source
    assert "initAll" in source
    assert foreign_urls(source) == []
    with client.get("/static/js/js-enabled.js") as enabled:
        assert "nhsuk-frontend-supported" in enabled.get_data(as_text=True)


@pytest.mark.parametrize(
    "path",
    [
        "/assets/nhsuk/template.njk",
        "/assets/nhsuk/index.scss",
        "/assets/nhsuk/no-such-file.css",
        "/assets/nhsuk/../../package.json",
        "/assets/nhsuk/%2e%2e/%2e%2e/package.json",
    ],
)
def test_only_built_assets_of_the_package_are_served(client: FlaskClient, path: str) -> None:
    with client.get(path) as response:
        assert response.status_code == 404


def test_localise_css_drops_foreign_fonts_and_makes_package_urls_relative() -> None:
    css = (
        '@font-face{font-family:F;src:url(https://fonts.example/f.woff2) format("woff2")}'
        "@font-face{font-family:Local;src:url(/assets/fonts/local.woff2)}"
        ".a{background:url(/assets/images/x.svg)}"
        '.b{background:url("/assets/images/y.svg")}'
        ".c{background:url(data:image/svg+xml;base64,AAAA)}"
        ".d{background:url(/elsewhere/z.png)}"
        "/*# sourceMappingURL=x.css.map */"
    )
    assert localise_css(css) == (
        "@font-face{font-family:Local;src:url(assets/fonts/local.woff2)}"
        ".a{background:url(assets/images/x.svg)}"
        '.b{background:url("assets/images/y.svg")}'
        ".c{background:url(data:image/svg+xml;base64,AAAA)}"
        ".d{background:url(/elsewhere/z.png)}"
    )


@pytest.mark.parametrize(
    "css",
    [
        ".a{background:url(https://tracker.example/pixel.gif)}",
        ".a{background:url('//tracker.example/pixel.gif')}",
        "@import url(local.css);",
    ],
)
def test_localise_css_refuses_what_it_cannot_make_local(css: str) -> None:
    with pytest.raises(ForeignReference):
        localise_css(css)


@pytest.mark.parametrize(
    ("url", "foreign"),
    [
        ("https://a.example/x", True),
        ("//a.example/x", True),
        ("HTTP://a", True),
        ("data:image/png;base64,", False),
    ]
    + [("/assets/x.svg", False), ("assets/x.svg", False), ("#id", False)],
)
def test_leaves_origin(url: str, foreign: bool) -> None:
    assert leaves_origin(url) is foreign
