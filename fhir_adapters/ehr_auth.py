"""How the outbound EHR client authenticates: none, a static bearer token, or SMART Backend Services.

SMART Backend Services (HL7 SMART App Launch 2.x, "Backend Services"): the client asks the EHR's token
endpoint for an access token with the OAuth 2 client-credentials grant, proving who it is with a
``private_key_jwt`` client assertion: a short-lived JWT signed with a private key whose public half the EHR
knows (Careloop serves its public keys as a JWKS the EHR registers). The JWT is built and signed by joserfc;
nothing here touches signatures by hand.

Pure: no Flask, no database. The key, the clock and the HTTP session are given; tokens are cached until
shortly before they expire.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import requests
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from fhir_adapters.ehr_errors import AuthenticationRefused, EhrUnavailable, read_json

#: RFC 7523 client assertion type.
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: SMART allows at most five minutes between now and a client assertion's ``exp``.
ASSERTION_LIFETIME = 300
#: A token is renewed this many seconds before it expires (or at half its life, if that is sooner), so a
#: request never sets off with a token that expires on the way.
REFRESH_MARGIN = 15.0
SIGNING_ALGORITHMS = ("RS384", "ES384")


class Authenticator(Protocol):
    """Gives the ``Authorization`` header for the next request, or None for an open endpoint."""

    def authorization(self, session: requests.Session, *, renew: bool = False) -> str | None:
        """``renew``: the EHR refused the last token (401); get a new one rather than the cached one."""


class NoAuth:
    def authorization(self, session: requests.Session, *, renew: bool = False) -> str | None:
        return None


@dataclass(frozen=True)
class StaticBearer:
    """A long-lived token an EHR issued by hand. ``renew`` cannot help: the same token goes again."""

    token: str

    def authorization(self, session: requests.Session, *, renew: bool = False) -> str | None:
        return f"Bearer {self.token}"

    def __repr__(self) -> str:  # never the token
        return "StaticBearer(...)"


@dataclass(frozen=True)
class SmartClient:
    """A SMART Backend Services client registration at one EHR."""

    token_url: str
    client_id: str
    scope: str
    #: The private key (its ``kid`` is in the JWKS the EHR registered) and the algorithm it signs with.
    key: RSAKey | ECKey
    algorithm: str
    timeout: tuple[float, float] = (5.0, 30.0)


class SmartBackendAuth:
    """Client-credentials tokens with a signed client assertion, cached until shortly before they expire."""

    def __init__(self, client: SmartClient, *, clock: Callable[[], float] = time.time) -> None:
        if client.algorithm not in SIGNING_ALGORITHMS:
            raise ValueError(f"SMART Backend Services signs with {' or '.join(SIGNING_ALGORITHMS)}")
        self.client = client
        self._clock = clock
        self._token: str | None = None
        self._renew_at = 0.0
        #: Threads of one worker share the token: one of them fetches, the others wait for it.
        self._lock = threading.Lock()
        #: How many tokens this authenticator fetched (for the tests and the worker's log).
        self.tokens_fetched = 0

    def authorization(self, session: requests.Session, *, renew: bool = False) -> str | None:
        refused = self._token if renew else None
        with self._lock:
            # After a 401 renew only if no other thread has already replaced the refused token.
            if self._token is None or self._token == refused or self._clock() >= self._renew_at:
                self._fetch(session)
            return f"Bearer {self._token}"

    def client_assertion(self) -> str:
        """A fresh signed JWT: ``iss`` = ``sub`` = client id, ``aud`` = token URL, a unique ``jti``."""
        now = int(self._clock())
        client = self.client
        header = {"alg": client.algorithm, "typ": "JWT", "kid": client.key.kid}
        claims = {
            "iss": client.client_id,
            "sub": client.client_id,
            "aud": client.token_url,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME,
            "jti": str(uuid.uuid4()),
        }
        return jwt.encode(header, claims, client.key, algorithms=[client.algorithm])

    def _fetch(self, session: requests.Session) -> None:
        client = self.client
        form = {
            "grant_type": "client_credentials",
            "scope": client.scope,
            "client_assertion_type": JWT_BEARER,
            "client_assertion": self.client_assertion(),
        }
        try:
            response = session.post(
                client.token_url,
                data=form,
                headers={"Accept": "application/json"},
                timeout=client.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as error:
            raise EhrUnavailable(
                f"token endpoint unreachable: {type(error).__name__}", status_code=None
            ) from error
        body = read_json(response)
        if response.status_code == 429 or response.status_code >= 500:
            raise EhrUnavailable(
                f"token endpoint answered {response.status_code}", status_code=response.status_code
            )
        if response.status_code != 200 or not _is_token(body):
            raise AuthenticationRefused(
                f"token endpoint refused the client assertion: {response.status_code} {_oauth_error(body)}",
                status_code=response.status_code,
            )
        assert body is not None
        lifetime = float(body.get("expires_in") or 300)
        self._token = str(body["access_token"])
        self._renew_at = self._clock() + max(0.0, lifetime - min(REFRESH_MARGIN, lifetime / 2))
        self.tokens_fetched += 1


def _is_token(body: dict[str, Any] | None) -> bool:
    return (
        body is not None
        and isinstance(body.get("access_token"), str)
        and bool(body["access_token"])
        and str(body.get("token_type", "")).lower() == "bearer"
        and (body.get("expires_in") is None or isinstance(body["expires_in"], int | float))
    )


def _oauth_error(body: dict[str, Any] | None) -> str:
    """RFC 6749 section 5.2 ``error`` and ``error_description``, shortened (they go to admins)."""
    if not body:
        return "(no error body)"
    error = str(body.get("error", "?"))[:60]
    description = str(body.get("error_description", ""))[:200]
    return f"{error}: {description}" if description else error
