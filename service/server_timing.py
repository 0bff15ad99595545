"""``Server-Timing: app;dur=<ms>`` on every response: how long the app spent on the request.

Measured inside the app, so what a client adds by queueing for a worker or reading slowly is not in it:
``python -m bench.ward`` reads it, and so do a browser's developer tools. It carries the duration only
(one decimal of a millisecond), no names, queries or anything else about what was done.

The timer starts in the first ``before_request`` function and stops in the last ``after_request`` one:
:func:`init_server_timing` must be called before any other extension registers its hooks (Flask runs
``before_request`` functions in the order they were registered and ``after_request`` ones in reverse), so
that sign-in checks, CSRF and compression are inside it. Before it: routing and opening the session; after
it: saving the session and sending the body (a streamed file is read, and compressed, while it is sent).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

from flask import Flask, Response, g

HEADER: Final = "Server-Timing"
_STARTED: Final = "_server_timing_started"


def init_server_timing(app: Flask, clock: Callable[[], float] = time.perf_counter) -> None:
    """Time every request with ``clock`` (seconds); call first in ``create_app``, before anything else
    registers request hooks."""

    def start() -> None:
        setattr(g, _STARTED, clock())

    def add_header(response: Response) -> Response:
        started = g.pop(_STARTED, None)
        if started is not None:
            milliseconds = (clock() - started) * 1000
            # add, not set: a view's own metrics (if one ever sends any) stay beside this one.
            response.headers.add(HEADER, f"app;dur={milliseconds:.1f}")
        return response

    app.before_request(start)
    app.after_request(add_header)
