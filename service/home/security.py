"""Response headers that make every page refuse what it does not need.

The policy allows nothing inline: the NHS.UK frontend's own page template runs an inline script to mark the
body ``js-enabled``; ``layout.html`` does that from ``static/js/js-enabled.js`` instead. Its components set
styles only through the CSSOM (``element.style``), which ``style-src 'self'`` does not block, and its macros
write no ``style`` attributes, so no ``'unsafe-inline'`` is needed anywhere.

``Referrer-Policy: same-origin`` still sends the Referer on our own form posts, which Flask-WTF's CSRF check
requires over HTTPS (``WTF_CSRF_SSL_STRICT``); ``no-referrer`` would refuse every form.
"""

from __future__ import annotations

from typing import Final

from flask import Flask, Response

CONTENT_SECURITY_POLICY: Final = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


def add_security_headers(response: Response) -> Response:
    """``nosniff`` and the referrer policy on every response; the content security policy on HTML."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    return response


def init_security_headers(app: Flask) -> None:
    app.after_request(add_security_headers)
