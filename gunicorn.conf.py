"""gunicorn's settings for Careloop, read from the working directory by every ``gunicorn`` started there
(``make run``, the README's production commands).

The access log names the request path only: never the query string (a FHIR search carries the patient's
NHS number, ``subject:identifier=...``) nor the Referer (whose URL may carry one too).
"""

# Remote address, time, method, path without the query, protocol, status, bytes, user agent, seconds taken.
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s "%(a)s" %(L)s'
