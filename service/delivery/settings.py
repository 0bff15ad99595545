"""A site's EHR settings as the worker uses them, and the EHR client built from them.

The settings are copied out of the ``site`` row when rows are claimed, so no database transaction is open
while the worker talks to the EHR. Secrets are resolved here, when a client is built, and never stored.
SMART authenticators are kept per site and registration, so a token is reused across rows until it is
about to expire.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import requests

from fhir_adapters.ehr_auth import Authenticator, NoAuth, SmartBackendAuth, SmartClient, StaticBearer
from fhir_adapters.ehr_client import EhrClient, EhrEndpoint
from service.delivery.keys import KeyStore
from service.delivery.secrets import resolve
from service.errors import InvalidInput
from service.models import EhrAuth, Site, utcnow


@dataclass(frozen=True)
class SiteEhr:
    site_id: int
    site_code: str
    base_url: str
    auth: str
    connect_timeout: float
    read_timeout: float
    client_id: str | None
    token_url: str | None
    scope: str | None
    signing_alg: str | None
    credentials_ref: str | None

    @classmethod
    def of(cls, site: Site) -> SiteEhr:
        if not site.fhir_base_url:
            raise InvalidInput(f"site {site.code} has no EHR base URL")
        return cls(
            site_id=site.id,
            site_code=site.code,
            base_url=site.fhir_base_url,
            auth=site.fhir_auth,
            connect_timeout=site.fhir_connect_timeout,
            read_timeout=site.fhir_read_timeout,
            client_id=site.fhir_client_id,
            token_url=site.fhir_token_url,
            scope=site.fhir_scope,
            signing_alg=site.fhir_signing_alg,
            credentials_ref=site.fhir_credentials_ref,
        )


#: SMART Backend Services scope for writing QuestionnaireResponses, when a site names none.
DEFAULT_SCOPE = "system/QuestionnaireResponse.cruds"


class Clients:
    """EHR clients for a worker: an HTTP session per thread (kept-alive connections) and cached
    authenticators shared by the threads."""

    def __init__(
        self,
        keys: KeyStore,
        *,
        http: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.keys = keys
        self._http = http
        self._local = threading.local()
        self._clock = clock
        self._now = now
        self._smart: dict[tuple[object, ...], SmartBackendAuth] = {}
        self._lock = threading.Lock()

    @property
    def http(self) -> requests.Session:
        """The given session, or this thread's own (``requests.Session`` is not documented thread-safe)."""
        if self._http is not None:
            return self._http
        session: requests.Session | None = getattr(self._local, "http", None)
        if session is None:
            session = self._local.http = requests.Session()
        return session

    def client(self, ehr: SiteEhr) -> EhrClient:
        endpoint = EhrEndpoint(ehr.base_url, ehr.connect_timeout, ehr.read_timeout)
        return EhrClient(endpoint, self.http, self.authenticator(ehr), now=self._now)

    def authenticator(self, ehr: SiteEhr) -> Authenticator:
        if ehr.auth == EhrAuth.BEARER:
            if not ehr.credentials_ref:
                raise InvalidInput(f"site {ehr.site_code}: a bearer token needs a credentials reference")
            return StaticBearer(resolve(ehr.credentials_ref))
        if ehr.auth == EhrAuth.SMART:
            if not (ehr.token_url and ehr.client_id and ehr.signing_alg):
                raise InvalidInput(f"site {ehr.site_code}: SMART needs a token URL, client id and algorithm")
            stored = self.keys.signing_key(ehr.signing_alg)
            scope = ehr.scope or DEFAULT_SCOPE
            cache_key = (ehr.site_id, ehr.token_url, ehr.client_id, scope, stored.kid)
            auth = self._smart.get(cache_key)
            if auth is None:
                timeout = (ehr.connect_timeout, ehr.read_timeout)
                client = SmartClient(
                    ehr.token_url, ehr.client_id, scope, stored.key, ehr.signing_alg, timeout
                )
                auth = self._smart[cache_key] = SmartBackendAuth(client, clock=self._clock)
            return auth
        return NoAuth()
