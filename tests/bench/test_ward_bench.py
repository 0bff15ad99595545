"""The pure parts of ``bench.ward`` (no server is started here): percentiles, ``Server-Timing``, what a page
makes a browser fetch, what a warm browser fetches again, and worker memory from ``/proc``."""

from __future__ import annotations

import json
import os
import re

import pytest

from bench import _server, _wire, ward
from fhir_adapters.identifiers import modulus_11_valid

CHECKLIST_PAGE = """<!doctype html>
<html><head>
  <link rel="icon" href="/assets/nhsuk/assets/images/favicon.ico" sizes="48x48">
  <link rel="mask-icon" href="/assets/nhsuk/assets/images/nhsuk-icon-mask.svg" color="#005eb8">
  <link rel="apple-touch-icon" href="/assets/nhsuk/assets/images/nhsuk-icon-180.png">
  <link rel="manifest" href="/assets/nhsuk/assets/manifest.json">
  <link rel="stylesheet" href="/assets/nhsuk/nhsuk-frontend.min.css">
  <link rel="stylesheet" href="/static/css/careloop.css">
  <link rel="canonical" href="/not-fetched">
  <link rel="stylesheet" href="https://elsewhere.example/x.css">
</head><body>
  <script src="/static/js/js-enabled.js"></script>
  <a href="/ward/">Worklist</a>
  <form method="post" data-definition="/ward/care-bundles/oasi-care-bundle/2.0.0.json">
    <input type="hidden" name="csrf_token" value="Ijk4.abc">
    <input type="hidden" name="version" value="3">
    <input type="hidden" name="base" value="{&#34;e-mpp&#34;: [&#34;yes&#34;]}">
    <input type="text" name="e-note" value="typed">
  </form>
  <img src="/static/logo.png" alt="">
  <script type="module" src="/static/js/nhsuk-init.js"></script>
  <script type="module" src="/static/js/js-enabled.js"></script>
</body></html>"""


def test_percentiles_interpolate_between_the_nearest_ranks() -> None:
    values = [float(n) for n in range(1, 101)]  # 1..100
    assert ward.percentile(values, 50) == pytest.approx(50.5)
    assert ward.percentile(values, 95) == pytest.approx(95.05)
    assert ward.percentile(values, 0) == 1
    assert ward.percentile(values, 100) == 100
    assert ward.percentile([7.0], 95) == 7
    assert ward.percentile([3.0, 1.0, 2.0], 50) == 2
    with pytest.raises(ValueError, match="no values"):
        ward.percentile([], 50)


@pytest.mark.parametrize(
    ("header", "milliseconds"),
    [
        ("app;dur=12.3", 12.3),
        ("cache;desc=hit, app;dur=0.4", 0.4),
        ('app;desc="whole request";dur=7', 7.0),
        ("db;dur=3", None),
        ("", None),
    ],
)
def test_server_time_is_read_from_the_app_metric(header: str, milliseconds: float | None) -> None:
    assert ward.server_ms(header) == milliseconds


def test_nhs_numbers_are_valid_and_from_the_test_range() -> None:
    numbers = [number for number, _ in zip(ward.nhs_numbers(), range(50), strict=False)]
    assert len(set(numbers)) == 50
    assert all(number.startswith("999") and modulus_11_valid(number) for number in numbers)


def test_deal_shares_jobs_evenly() -> None:
    assert ward.deal(10, 4) == [3, 3, 2, 2]
    assert ward.deal(2, 4) == [1, 1, 0, 0]


def test_a_page_fetches_its_stylesheets_scripts_icons_manifest_images_and_definition() -> None:
    assert _wire.page_references(CHECKLIST_PAGE) == [
        "/assets/nhsuk/assets/images/favicon.ico",
        "/assets/nhsuk/assets/images/nhsuk-icon-mask.svg",
        "/assets/nhsuk/assets/images/nhsuk-icon-180.png",
        "/assets/nhsuk/assets/manifest.json",
        "/assets/nhsuk/nhsuk-frontend.min.css",
        "/static/css/careloop.css",
        "https://elsewhere.example/x.css",  # dropped later: another origin
        "/static/js/js-enabled.js",
        "/ward/care-bundles/oasi-care-bundle/2.0.0.json",
        "/static/logo.png",
        "/static/js/nhsuk-init.js",
    ]


def test_hidden_inputs_are_read_unescaped() -> None:
    assert _wire.hidden_inputs(CHECKLIST_PAGE) == {
        "csrf_token": "Ijk4.abc",
        "version": "3",
        "base": '{"e-mpp": ["yes"]}',
    }


def test_stylesheet_references_bar_data_urls() -> None:
    css = (
        ".a{background:url(assets/images/x.svg)}.b{background:url('y.svg')}"
        '.c{background:url( "z.png" )}.d{background:url(data:image/svg+xml;base64,AAAA)}'
        ".e{background:url(assets/images/x.svg)}@import 'more.css';"
    )
    assert _wire.css_references(css) == ["assets/images/x.svg", "y.svg", "z.png", "more.css"]


def test_script_references_are_its_imports() -> None:
    source = """
import { evaluate } from "./careloop-rules.js";
import {
  calculate,
  conditionHolds,
} from "./rules/calculations.js";
import "./side-effect.js";
export { x } from './re-export.js';
const later = await import("./lazy.js");
import{a as b}from"../../assets/nhsuk/nhsuk-frontend.min.js";
// a comment saying import nothing
const text = "import me";
"""
    assert _wire.js_references(source) == [
        "./careloop-rules.js",
        "./rules/calculations.js",
        "./side-effect.js",
        "./re-export.js",
        "./lazy.js",
        "../../assets/nhsuk/nhsuk-frontend.min.js",
    ]


@pytest.mark.parametrize(
    ("base", "url", "resolved"),
    [
        ("http://127.0.0.1:5000/static/js/a.js", "./b.js", "http://127.0.0.1:5000/static/js/b.js"),
        (
            "http://127.0.0.1:5000/static/js/nhsuk-init.js",
            "../../assets/nhsuk/x.js",
            "http://127.0.0.1:5000/assets/nhsuk/x.js",
        ),
        ("http://127.0.0.1:5000/ward/", "/static/x.css#part", "http://127.0.0.1:5000/static/x.css"),
        ("http://127.0.0.1:5000/ward/", "https://elsewhere.example/x.css", None),
        ("http://127.0.0.1:5000/ward/", "//elsewhere.example/x.css", None),
        ("http://127.0.0.1:5000/ward/", "http://127.0.0.1:5001/x.css", None),
    ],
)
def test_only_this_origin_is_followed(base: str, url: str, resolved: str | None) -> None:
    assert _wire.same_origin(base, url) == resolved


@pytest.mark.parametrize(
    ("headers", "action"),
    [
        ({"Cache-Control": "public, max-age=3600", "ETag": '"x"'}, "cached"),
        ({"Cache-Control": "no-cache, max-age=3600", "ETag": '"x"'}, "revalidate"),
        ({"Cache-Control": "max-age=0", "Last-Modified": "Thu, 26 Nov 2026 09:16:06 GMT"}, "revalidate"),
        ({"ETag": '"x"'}, "revalidate"),
        ({"Cache-Control": "no-store", "ETag": '"x"'}, "refetch"),
        ({"Content-Type": "text/html"}, "refetch"),
    ],
)
def test_a_warm_browser_uses_its_cache_revalidates_or_asks_again(
    headers: dict[str, str], action: str
) -> None:
    assert _wire.warm_action(headers) == action


def test_module_scripts_are_the_pages_script_type_module_sources() -> None:
    page = CHECKLIST_PAGE.replace(
        "</body>",
        '<script type="MODULE" src="/static/js/offline/page.js"></script>'
        '<script type="module">import "./inline.js";</script>'
        '<script type="module" src="/static/js/offline/page.js"></script></body>',
    )
    assert ward.module_scripts(page) == [
        "/static/js/nhsuk-init.js",
        "/static/js/js-enabled.js",
        "/static/js/offline/page.js",
    ]


def test_registered_workers_are_the_literal_urls_a_script_registers() -> None:
    source = """
const registration = await navigator.serviceWorker.register("/ward/sw.js", { scope: "/ward/" });
navigator.serviceWorker
  .register('/other/sw.js');
await navigator.serviceWorker.register(`/ward/sw.js`);
const mine = await navigator.serviceWorker?.getRegistration("/ward/");
"""
    assert ward.registered_workers(source) == ["/ward/sw.js", "/other/sw.js"]


def test_service_worker_settings_are_the_json_the_server_prepends() -> None:
    settings = {"version": "abc", "shell": ["/static/a.js", "/assets/idb/index.js"], "note": "x; y"}
    source = f"const CARELOOP = {json.dumps(settings)};\n// the worker\nconst SHELL = 1;\n"
    assert ward.service_worker_settings(source) == settings
    with pytest.raises(ValueError, match="no const CARELOOP"):
        ward.service_worker_settings("self.addEventListener('install', () => {});\n")
    with pytest.raises(ValueError, match="not an object"):
        ward.service_worker_settings("const CARELOOP = [1];\n")


def _record(path: str, size: int) -> _wire.Fetched:
    return _wire.Fetched(f"http://127.0.0.1:5000{path}", 200, size, 100, {"Content-Encoding": "gzip"})


def test_the_offline_report_says_what_the_first_load_counts_already(
    capsys: pytest.CaptureFixture[str],
) -> None:
    worker = _record("/ward/sw.js", 2000)
    page = _record("/static/js/offline/page.js", 3000)
    idb = _record("/assets/idb/index.js", 4000)
    css = _record("/static/css/careloop.css", 800)
    offline_page = _record("/static/offline.html", 500)
    offline = ward.OfflineCode(
        [worker, page, idb], [css, page, idb, offline_page], via={worker.url: "registered by page.js"}
    )
    assert (offline.code_bytes, offline.shell_bytes) == (9000, 8300)
    ward.report_offline(offline, [_record("/ward/checklists/x", 4000), page, idb, css])
    rows = {line[:46].strip(): line[46:] for line in capsys.readouterr().out.splitlines()}
    assert rows["/ward/sw.js"].endswith("NOT in the first load above, registered by page.js")
    assert "   in the first load above" in rows["/static/js/offline/page.js"]
    figures = {label: figure[1] for label, row in rows.items() if (figure := re.match(r" *([\d.]+) KB", row))}
    assert figures == {
        "offline code on first load": "9.0",
        "of it counted in the first load above": "7.0",
        "of it on top of the first load above": "2.0",
        "offline shell cached in the background": "8.3",
        "of it files the first load above fetched": "7.8",
        "of it files the first load did not": "0.5",
    }


def test_stat_gives_the_parent_even_with_spaces_and_parentheses_in_the_name() -> None:
    assert _server.parse_ppid("4242 (gunicorn: worker (x)) S 4241 4241 4241 0 -1 4194560") == 4241


def test_status_gives_memory_in_kib() -> None:
    status = "Name:\tgunicorn\nVmPeak:\t  300000 kB\nVmHWM:\t  115712 kB\nVmRSS:\t   93312 kB\nThreads:\t1\n"
    assert _server.parse_status_kib(status) == {"VmPeak": 300000, "VmHWM": 115712, "VmRSS": 93312}


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc (Linux)")
def test_memory_and_children_are_read_from_proc() -> None:
    assert _server.memory_kib(os.getpid())["VmRSS"] > 0
    assert _server.cpu_seconds([os.getpid()]) > 0
    assert os.getpid() in _server.worker_pids(os.getppid())


def test_the_database_is_described_without_credentials() -> None:
    assert ward.describe("postgresql://bench:secret@127.0.0.1:5432/careloop_bench") == (
        "PostgreSQL 127.0.0.1:5432/careloop_bench (throwaway)"
    )
    assert ward.describe("sqlite:////tmp/x/bench.db").startswith("SQLite")


def test_stat_gives_user_and_system_cpu_time() -> None:
    ticks = os.sysconf("SC_CLK_TCK")
    stat = f"4242 (gunicorn: worker) S 4241 4241 4241 0 -1 4194560 100 0 0 0 {3 * ticks} {ticks} 0 0 20 0 1 0"
    assert _server.parse_cpu_seconds(stat) == 4
