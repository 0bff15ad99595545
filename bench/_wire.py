"""Bytes over the wire for one page, loaded by a browser with an empty cache and then with a warm one.

What a page makes a browser fetch: the stylesheets, scripts, icons and manifest its HTML links to, the
images its stylesheets refer to, the modules its scripts import, and the definition the checklist script
fetches (``data-definition``). An upper bound: a browser takes one of the favicons, Safari alone the mask
icon, and an image of a stylesheet only if a rule using it applies. Not counted: what the manifest lists
(fetched when the app is installed) and source maps (fetched by developer tools).

A warm browser asks again for what has no freshness (the page, the definition), revalidates what is stale
but has a validator (ETag or Last-Modified: 304, no body) and takes the rest from its cache (max-age).
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Literal
from urllib.parse import urljoin, urlsplit

import requests

#: ``<link rel=...>`` values that a browser fetches when it loads the page.
FETCHED_LINKS = frozenset(
    {"stylesheet", "icon", "mask-icon", "apple-touch-icon", "manifest", "modulepreload"}
)
#: Attributes holding a URL that the page's own scripts fetch.
FETCHED_DATA = ("data-definition",)
_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]+?)\1\s*\)""", re.IGNORECASE)
_CSS_IMPORT = re.compile(r"""@import\s+(['"])([^'"]+)\1""", re.IGNORECASE)
#: ``import x from "m"``, ``import "m"``, ``export {x} from "m"``, ``import("m")``, over several lines too.
_JS_IMPORT = re.compile(r"""\b(?:import|export)\s*(?:[\w*{}\s,$]*?\bfrom\s*)?\(?\s*(["'])([^"'\n]+)\1""")

WarmAction = Literal["cached", "revalidate", "refetch"]


class _References(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []
        self.hidden: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "link" and FETCHED_LINKS & set(attributes.get("rel", "").lower().split()):
            self.urls.append(attributes.get("href", ""))
        elif tag in ("script", "img") and attributes.get("src"):
            self.urls.append(attributes["src"])
        elif tag == "input" and attributes.get("type") == "hidden" and "name" in attributes:
            self.hidden.setdefault(attributes["name"], attributes.get("value", ""))
        self.urls.extend(attributes[name] for name in FETCHED_DATA if attributes.get(name))


def _parse(html: str) -> _References:
    parser = _References()
    parser.feed(html)
    parser.close()
    return parser


def page_references(html: str) -> list[str]:
    """The URLs (as written) that loading ``html`` fetches, in order, each once."""
    return _unique(url for url in _parse(html).urls if url)


def hidden_inputs(html: str) -> dict[str, str]:
    """The first value of each hidden input of ``html`` (``csrf_token``, ``version``...), unescaped."""
    return _parse(html).hidden


def css_references(css: str) -> list[str]:
    """The URLs a stylesheet refers to (``url()`` and ``@import``), bar ``data:`` URLs."""
    urls = [match[2] for match in _CSS_URL.finditer(css)] + [match[2] for match in _CSS_IMPORT.finditer(css)]
    return _unique(url.strip() for url in urls if not url.strip().lower().startswith("data:"))


def js_references(source: str) -> list[str]:
    """The modules a script imports (static and dynamic imports with a literal specifier)."""
    return _unique(match[2] for match in _JS_IMPORT.finditer(source))


def same_origin(base: str, url: str) -> str | None:
    """``url`` resolved against ``base``, or None if it is on another origin (or not http)."""
    resolved = urljoin(base, url)
    a, b = urlsplit(base), urlsplit(resolved)
    return resolved.split("#")[0] if (a.scheme, a.netloc) == (b.scheme, b.netloc) else None


def warm_action(headers: Mapping[str, str]) -> WarmAction:
    """What a browser with this response in its cache does on the next load (within its max-age)."""
    directives = {
        part.strip().split("=", 1)[0].lower(): part.strip().partition("=")[2]
        for part in headers.get("Cache-Control", "").split(",")
        if part.strip()
    }
    if "no-store" in directives:
        return "refetch"
    max_age = directives.get("max-age", "")
    if "no-cache" not in directives and max_age.isdigit() and int(max_age) > 0:
        return "cached"
    if "ETag" in headers or "Last-Modified" in headers:
        return "revalidate"
    return "refetch"


@dataclass(frozen=True)
class Fetched:
    """One response as it crossed the wire: body bytes as sent (compressed if it was), headers."""

    url: str
    status: int
    body_bytes: int
    header_bytes: int
    headers: Mapping[str, str]


def fetch(
    http: requests.Session, url: str, headers: Mapping[str, str] | None = None
) -> tuple[Fetched, bytes]:
    """GET ``url``; the wire record and the decoded body. Bodies are counted before decompression."""
    response = http.get(url, headers=dict(headers or {}), stream=True, allow_redirects=False, timeout=30)
    with response:
        raw = response.raw.read(decode_content=False)
        encoding = response.headers.get("Content-Encoding", "identity")
        if encoding == "gzip":
            body = gzip.decompress(raw)
        elif encoding == "identity":
            body = raw
        else:
            raise ValueError(f"{url}: {encoding} was not asked for")
        header_bytes = len(f"HTTP/1.1 {response.status_code} {response.reason}\r\n\r\n") + sum(
            len(name) + len(value) + 4 for name, value in response.raw.headers.items()
        )
        record = Fetched(url, response.status_code, len(raw), header_bytes, dict(response.headers))
    return record, body


def first_load(http: requests.Session, page_url: str) -> list[Fetched]:
    """The page and everything it makes a browser fetch, followed through stylesheets and imports."""
    queue = [page_url]
    seen = {page_url}
    fetched = []
    while queue:
        url = queue.pop(0)
        record, body = fetch(http, url)
        if record.status != 200:
            raise RuntimeError(f"{url} answered {record.status}")
        fetched.append(record)
        mimetype = record.headers.get("Content-Type", "").split(";")[0].strip()
        text = body.decode("utf-8", errors="replace")
        if mimetype == "text/html":
            found = page_references(text)
        elif mimetype == "text/css":
            found = css_references(text)
        elif mimetype in ("text/javascript", "application/javascript"):
            found = js_references(text)
        else:
            found = []
        for reference in found:
            resolved = same_origin(url, reference)
            if resolved is not None and resolved not in seen:
                seen.add(resolved)
                queue.append(resolved)
    return fetched


def warm_load(http: requests.Session, first: Iterable[Fetched]) -> list[tuple[WarmAction, Fetched | None]]:
    """The same page again, as a browser that kept every response of ``first`` would load it."""
    loaded: list[tuple[WarmAction, Fetched | None]] = []
    for record in first:
        action = warm_action(record.headers)
        if action == "cached":
            loaded.append((action, None))
            continue
        conditional = {}
        if action == "revalidate":
            if "ETag" in record.headers:
                conditional["If-None-Match"] = record.headers["ETag"]
            if "Last-Modified" in record.headers:
                conditional["If-Modified-Since"] = record.headers["Last-Modified"]
        again, _ = fetch(http, record.url, conditional)
        loaded.append((action, again))
    return loaded


def _unique(urls: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(urls))
