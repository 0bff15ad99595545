"""The Medplum FHIR peer behaves as the delivery worker needs a third-party FHIR server to behave."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from tests.peers.fixtures import start_peer
from tests.peers.medplum import MedplumPeer, identifier_token

SYSTEM = "https://careloop.example/fhir/checklist-id"
FHIR = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
TIMEOUT = 10
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def response_body(value: str, status: str = "completed") -> dict[str, Any]:
    return {
        "resourceType": "QuestionnaireResponse",
        "identifier": {"system": SYSTEM, "value": value},
        "questionnaire": "https://careloop.example/fhir/Questionnaire/oasi-care-bundle|2.0.0",
        "status": status,
        "authored": "2025-03-01T10:00:00Z",
        "item": [{"linkId": "mode-of-birth", "answer": [{"valueString": "vaginal"}]}],
    }


def create(peer: MedplumPeer, value: str, **headers: str) -> requests.Response:
    return requests.post(
        f"{peer.base}/QuestionnaireResponse",
        json=response_body(value),
        headers={**FHIR, "If-None-Exist": f"identifier={identifier_token(SYSTEM, value)}", **headers},
        timeout=TIMEOUT,
    )


# -- FHIR REST -----------------------------------------------------------------------------------------


def test_metadata_is_a_capability_statement_naming_the_token_endpoint(fhir_peer: MedplumPeer) -> None:
    response = requests.get(f"{fhir_peer.base}/metadata", timeout=TIMEOUT)

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/fhir+json")
    statement = response.json()
    assert statement["resourceType"] == "CapabilityStatement"
    assert statement["fhirVersion"] == "4.0.1"
    rest = statement["rest"][0]
    assert [resource["type"] for resource in rest["resource"]] == ["QuestionnaireResponse"]
    (oauth,) = rest["security"]["extension"]
    assert oauth["url"] == "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
    assert oauth["extension"] == [{"url": "token", "valueUri": fhir_peer.token_url}]


def test_conditional_create_twice_stores_one_resource(clean_fhir_peer: MedplumPeer) -> None:
    first = create(clean_fhir_peer, "c-1")
    again = create(clean_fhir_peer, "c-1")

    assert first.status_code == 201
    stored = first.json()
    version = stored["meta"]["versionId"]
    assert first.headers["ETag"] == f'W/"{version}"'
    assert first.headers["Location"] == (
        f"{clean_fhir_peer.base}/QuestionnaireResponse/{stored['id']}/_history/{version}"
    )
    assert first.headers["Last-Modified"].endswith(" GMT")
    assert again.status_code == 200
    assert again.json()["id"] == stored["id"]
    assert again.headers["ETag"] == first.headers["ETag"]
    assert "Location" not in again.headers
    assert clean_fhir_peer.stats()["resources"] == {"QuestionnaireResponse": 1}


def test_concurrent_conditional_creates_store_one_resource(clean_fhir_peer: MedplumPeer) -> None:
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda _: create(clean_fhir_peer, "same"), range(32)))

    assert sorted(answer.status_code for answer in answers) == [200] * 31 + [201]
    assert len({answer.json()["id"] for answer in answers}) == 1
    assert len(clean_fhir_peer.search_by_identifier(SYSTEM, "same")) == 1


def test_identifiers_with_search_escapes_are_matched_exactly(clean_fhir_peer: MedplumPeer) -> None:
    value = r"ward|7,bed$2\a"

    first = create(clean_fhir_peer, value)
    again = create(clean_fhir_peer, value)
    prefix = create(clean_fhir_peer, "ward")

    assert (first.status_code, again.status_code, prefix.status_code) == (201, 200, 201)
    assert again.json()["id"] == first.json()["id"] != prefix.json()["id"]
    assert [found["id"] for found in clean_fhir_peer.search_by_identifier(SYSTEM, value)] == [
        first.json()["id"]
    ]


def test_conditional_create_with_two_matches_is_412(clean_fhir_peer: MedplumPeer) -> None:
    for _ in range(2):  # plain creates do not look for duplicates
        requests.post(
            f"{clean_fhir_peer.base}/QuestionnaireResponse",
            json=response_body("twice"),
            headers=FHIR,
            timeout=TIMEOUT,
        ).raise_for_status()

    response = create(clean_fhir_peer, "twice")

    assert response.status_code == 412
    assert response.json()["issue"][0]["code"] == "multiple-matches"


def test_create_ignores_the_client_id_and_version(clean_fhir_peer: MedplumPeer) -> None:
    body = {**response_body("own-id"), "id": "chosen", "meta": {"versionId": "7"}}

    response = requests.post(
        f"{clean_fhir_peer.base}/QuestionnaireResponse", json=body, headers=FHIR, timeout=TIMEOUT
    )

    assert response.status_code == 201
    assert response.json()["id"] != "chosen"
    assert response.json()["meta"]["versionId"] != "7"


def test_read_and_vread_carry_the_version(clean_fhir_peer: MedplumPeer) -> None:
    stored = create(clean_fhir_peer, "read").json()
    url = f"{clean_fhir_peer.base}/QuestionnaireResponse/{stored['id']}"

    read = requests.get(url, headers=FHIR, timeout=TIMEOUT)
    vread = requests.get(f"{url}/_history/{stored['meta']['versionId']}", headers=FHIR, timeout=TIMEOUT)
    missing = requests.get(
        f"{clean_fhir_peer.base}/QuestionnaireResponse/nope", headers=FHIR, timeout=TIMEOUT
    )

    assert read.status_code == vread.status_code == 200
    assert read.json() == vread.json() == stored
    assert read.headers["ETag"] == vread.headers["ETag"] == f'W/"{stored["meta"]["versionId"]}"'
    assert "Last-Modified" in read.headers
    assert missing.status_code == 404
    assert missing.json()["resourceType"] == "OperationOutcome"


def test_update_checks_if_match(clean_fhir_peer: MedplumPeer) -> None:
    stored = create(clean_fhir_peer, "amend").json()
    url = f"{clean_fhir_peer.base}/QuestionnaireResponse/{stored['id']}"
    amended = {**stored, "status": "amended"}
    current = f'W/"{stored["meta"]["versionId"]}"'

    stale = requests.put(url, json=amended, headers={**FHIR, "If-Match": 'W/"not-it"'}, timeout=TIMEOUT)
    updated = requests.put(url, json=amended, headers={**FHIR, "If-Match": current}, timeout=TIMEOUT)
    replayed = requests.put(url, json=amended, headers={**FHIR, "If-Match": current}, timeout=TIMEOUT)

    assert stale.status_code == 412
    assert stale.json()["resourceType"] == "OperationOutcome"
    assert updated.status_code == 200
    version = updated.json()["meta"]["versionId"]
    assert version != stored["meta"]["versionId"]
    assert updated.headers["ETag"] == f'W/"{version}"'
    assert updated.json()["status"] == "amended"
    assert replayed.status_code == 412
    assert requests.get(url, timeout=TIMEOUT).json()["meta"]["versionId"] == version


def test_history_lists_the_versions_newest_first_every_time(clean_fhir_peer: MedplumPeer) -> None:
    stored = create(clean_fhir_peer, "history").json()
    url = f"{clean_fhir_peer.base}/QuestionnaireResponse/{stored['id']}"
    versions = [stored["meta"]["versionId"]]
    for status in ("amended", "entered-in-error"):
        current = requests.get(url, timeout=TIMEOUT).json()
        updated = requests.put(url, json={**current, "status": status}, headers=FHIR, timeout=TIMEOUT)
        versions.append(updated.json()["meta"]["versionId"])

    reads = [requests.get(f"{url}/_history", timeout=TIMEOUT).json() for _ in range(2)]

    for history in reads:
        assert history["type"] == "history"
        assert [entry["resource"]["meta"]["versionId"] for entry in history["entry"]] == versions[::-1]


def test_update_of_an_unknown_id_creates_it(clean_fhir_peer: MedplumPeer) -> None:
    body = {**response_body("put-new"), "id": "new-one"}

    response = requests.put(
        f"{clean_fhir_peer.base}/QuestionnaireResponse/new-one", json=body, headers=FHIR, timeout=TIMEOUT
    )

    assert response.status_code == 201
    assert response.headers["Location"].startswith(
        f"{clean_fhir_peer.base}/QuestionnaireResponse/new-one/_history/"
    )


def test_search_by_identifier_follows_updates_and_deletes(clean_fhir_peer: MedplumPeer) -> None:
    peer = clean_fhir_peer
    ids = {value: create(peer, value).json()["id"] for value in ("s-1", "s-2", "s-3")}

    found = requests.get(
        f"{peer.base}/QuestionnaireResponse",
        params={"identifier": f"{SYSTEM}|s-2"},
        headers=FHIR,
        timeout=TIMEOUT,
    ).json()
    assert found["resourceType"] == "Bundle"
    assert found["type"] == "searchset"
    assert found["total"] == 1
    (entry,) = found["entry"]
    assert entry["resource"]["id"] == ids["s-2"]
    assert entry["fullUrl"] == f"{peer.base}/QuestionnaireResponse/{ids['s-2']}"
    assert peer.search_by_identifier(SYSTEM, "absent") == []
    assert peer.search_by_identifier("https://other.example/system", "s-1") == []

    moved = {**peer.search_by_identifier(SYSTEM, "s-1")[0], "identifier": {"system": SYSTEM, "value": "s-9"}}
    requests.put(
        f"{peer.base}/QuestionnaireResponse/{ids['s-1']}", json=moved, headers=FHIR, timeout=TIMEOUT
    ).raise_for_status()
    requests.delete(f"{peer.base}/QuestionnaireResponse/{ids['s-3']}", timeout=TIMEOUT).raise_for_status()

    assert peer.search_by_identifier(SYSTEM, "s-1") == []
    assert [found["id"] for found in peer.search_by_identifier(SYSTEM, "s-9")] == [ids["s-1"]]
    assert peer.search_by_identifier(SYSTEM, "s-3") == []
    assert create(peer, "s-3").status_code == 201  # the deleted one no longer counts
    assert peer.stats()["resources"] == {"QuestionnaireResponse": 3}


@pytest.mark.parametrize(
    ("change", "expression"),
    [
        ({"status": "finished"}, "QuestionnaireResponse.status"),
        ({"status": None}, "QuestionnaireResponse.status"),
        ({"authored": "yesterday"}, "QuestionnaireResponse.authored"),
        ({"colour": "blue"}, "QuestionnaireResponse.colour"),
    ],
    ids=["status-not-in-value-set", "status-missing", "bad-datetime", "unknown-element"],
)
def test_an_invalid_body_is_refused_with_an_operation_outcome(
    clean_fhir_peer: MedplumPeer, change: dict[str, Any], expression: str
) -> None:
    body = {key: value for key, value in {**response_body("bad"), **change}.items() if value is not None}

    response = requests.post(
        f"{clean_fhir_peer.base}/QuestionnaireResponse",
        json=body,
        headers={**FHIR, "If-None-Exist": f"identifier={SYSTEM}|bad"},
        timeout=TIMEOUT,
    )

    assert response.status_code == 400
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert [issue["expression"] for issue in outcome["issue"]] == [[expression]]
    assert clean_fhir_peer.search_by_identifier(SYSTEM, "bad") == []


def test_an_invalid_update_is_refused(clean_fhir_peer: MedplumPeer) -> None:
    stored = create(clean_fhir_peer, "bad-update").json()

    response = requests.put(
        f"{clean_fhir_peer.base}/QuestionnaireResponse/{stored['id']}",
        json={**stored, "status": "done"},
        headers=FHIR,
        timeout=TIMEOUT,
    )

    assert response.status_code == 400
    assert response.json()["issue"][0]["code"] == "code-invalid"


def test_bodies_are_bounded_and_must_be_json(clean_fhir_peer: MedplumPeer) -> None:
    url = f"{clean_fhir_peer.base}/QuestionnaireResponse"
    huge = {**response_body("huge"), "text": {"status": "generated", "div": "x" * 1_100_000}}

    too_large = requests.post(url, json=huge, headers=FHIR, timeout=TIMEOUT)
    not_json = requests.post(url, data="status=completed", headers=FHIR, timeout=TIMEOUT)
    unknown_type = requests.get(f"{clean_fhir_peer.base}/Checklist", timeout=TIMEOUT)

    assert too_large.status_code == 413
    assert not_json.status_code == 400
    assert unknown_type.status_code == 404
    assert {too_large.json()["resourceType"], not_json.json()["resourceType"]} == {"OperationOutcome"}


def test_reset_empties_the_store_and_the_index(fhir_peer: MedplumPeer) -> None:
    create(fhir_peer, "before-reset").raise_for_status()

    fhir_peer.reset()

    assert fhir_peer.search_by_identifier(SYSTEM, "before-reset") == []
    assert fhir_peer.stats() == {
        "resources": {},
        "token_requests": 0,
        "tokens_issued": 0,
        "fhir_requests": {"GET": 1},
    }


# -- SMART Backend Services ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rsa_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "rsa-1", "alg": "RS384", "use": "sig"})


@pytest.fixture(scope="module")
def ec_key() -> ECKey:
    return ECKey.generate_key("P-384", parameters={"kid": "ec-1", "alg": "ES384", "use": "sig"})


def jwks(*keys: RSAKey | ECKey) -> dict[str, Any]:
    return {"keys": [key.as_dict(private=False) for key in keys]}


def assertion(
    key: RSAKey | ECKey, client_id: str, audience: str, *, lifetime: int = 240, **claims: Any
) -> str:
    alg = "RS384" if isinstance(key, RSAKey) else "ES384"
    now = int(time.time())
    payload = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "exp": now + lifetime,
        "jti": uuid.uuid4().hex,
    }
    claims = {name: value for name, value in {**payload, **claims}.items() if value is not None}
    return jwt.encode({"alg": alg, "kid": key.kid, "typ": "JWT"}, claims, key, algorithms=[alg])


def token_request(peer: MedplumPeer, client_assertion: str, **fields: str) -> requests.Response:
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": client_assertion,
        "scope": "system/QuestionnaireResponse.cru",
        **fields,
    }
    return requests.post(peer.token_url, data=form, timeout=TIMEOUT)


def bearer(token: str) -> dict[str, str]:
    return {**FHIR, "Authorization": f"Bearer {token}"}


@pytest.fixture
def client_id(clean_smart_fhir_peer: MedplumPeer, rsa_key: RSAKey, ec_key: ECKey) -> str:
    """A client registered with its public keys inline."""
    name = f"client-{uuid.uuid4().hex[:8]}"
    clean_smart_fhir_peer.register_client(name, jwks=jwks(rsa_key, ec_key))
    return name


@pytest.mark.parametrize("key_name", ["rsa_key", "ec_key"])
def test_a_signed_assertion_gets_a_token_that_opens_the_fhir_api(
    clean_smart_fhir_peer: MedplumPeer, client_id: str, key_name: str, request: pytest.FixtureRequest
) -> None:
    peer = clean_smart_fhir_peer
    key = request.getfixturevalue(key_name)
    search = f"{peer.base}/QuestionnaireResponse"

    answer = token_request(peer, assertion(key, client_id, peer.token_url))

    assert answer.status_code == 200, answer.text
    assert answer.headers["Cache-Control"] == "no-store"
    grant = answer.json()
    assert grant["token_type"] == "bearer"
    assert grant["expires_in"] == 60
    assert grant["scope"] == "system/QuestionnaireResponse.cru"
    assert requests.get(search, headers=bearer(grant["access_token"]), timeout=TIMEOUT).status_code == 200
    assert peer.search_by_identifier(SYSTEM, "none", token=grant["access_token"]) == []
    assert peer.stats()["tokens_issued"] == 1


def test_the_fhir_api_wants_a_live_token_but_metadata_is_open(
    clean_smart_fhir_peer: MedplumPeer, client_id: str, rsa_key: RSAKey
) -> None:
    peer = clean_smart_fhir_peer
    token = token_request(peer, assertion(rsa_key, client_id, peer.token_url)).json()["access_token"]
    url = f"{peer.base}/QuestionnaireResponse"

    without = requests.get(url, headers=FHIR, timeout=TIMEOUT)
    made_up = requests.get(url, headers=bearer("made-up"), timeout=TIMEOUT)
    with_token = requests.post(url, json=response_body("auth"), headers=bearer(token), timeout=TIMEOUT)
    metadata = requests.get(f"{peer.base}/metadata", timeout=TIMEOUT)

    assert without.status_code == 401
    assert without.headers["WWW-Authenticate"] == "Bearer"
    assert without.json()["resourceType"] == "OperationOutcome"
    assert made_up.status_code == 401
    assert made_up.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert with_token.status_code == 201
    assert metadata.status_code == 200


def test_expire_tokens_stops_every_issued_token(
    clean_smart_fhir_peer: MedplumPeer, client_id: str, ec_key: ECKey
) -> None:
    peer = clean_smart_fhir_peer
    token = token_request(peer, assertion(ec_key, client_id, peer.token_url)).json()["access_token"]
    url = f"{peer.base}/QuestionnaireResponse"
    assert requests.get(url, headers=bearer(token), timeout=TIMEOUT).status_code == 200

    assert peer.expire_tokens() >= 1

    expired = requests.get(url, headers=bearer(token), timeout=TIMEOUT)
    assert expired.status_code == 401
    assert expired.json()["issue"][0]["code"] == "login"
    fresh = token_request(peer, assertion(ec_key, client_id, peer.token_url)).json()["access_token"]
    assert requests.get(url, headers=bearer(fresh), timeout=TIMEOUT).status_code == 200


def test_a_replayed_assertion_is_refused(
    clean_smart_fhir_peer: MedplumPeer, client_id: str, rsa_key: RSAKey
) -> None:
    signed = assertion(rsa_key, client_id, clean_smart_fhir_peer.token_url)

    first = token_request(clean_smart_fhir_peer, signed)
    replay = token_request(clean_smart_fhir_peer, signed)

    assert first.status_code == 200
    assert replay.status_code == 401
    assert replay.json()["error"] == "invalid_client"
    assert "jti" in replay.json()["error_description"]


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda key, client, aud: assertion(key, client, "https://elsewhere.example/token"), "aud"),
        (lambda key, client, aud: assertion(key, client, aud, lifetime=-30), "exp"),
        (lambda key, client, aud: assertion(key, client, aud, lifetime=600), "five minutes"),
        (lambda key, client, aud: assertion(key, client, aud, sub="someone-else"), "sub"),
        (lambda key, client, aud: assertion(key, client, aud, jti=None), "jti"),
        (lambda key, client, aud: assertion(key, "unknown-client", aud), "unknown client"),
        (lambda key, client, aud: assertion(RSAKey.generate_key(2048, {"kid": "rsa-9"}), client, aud), "kid"),
        (
            lambda key, client, aud: assertion(RSAKey.generate_key(2048, {"kid": "rsa-1"}), client, aud),
            "signature",
        ),
        (lambda key, client, aud: "not.a.jwt", "JWT"),
    ],
    ids=[
        "wrong-aud",
        "expired",
        "exp-too-far",
        "sub-not-client",
        "no-jti",
        "unknown-client",
        "unknown-kid",
        "forged",
    ]
    + ["garbage"],
)
def test_a_bad_assertion_is_refused(
    clean_smart_fhir_peer: MedplumPeer, client_id: str, rsa_key: RSAKey, make: Any, reason: str
) -> None:
    answer = token_request(clean_smart_fhir_peer, make(rsa_key, client_id, clean_smart_fhir_peer.token_url))

    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"
    assert reason in answer.json()["error_description"]


def test_a_token_request_must_be_client_credentials_with_a_scope(
    clean_smart_fhir_peer: MedplumPeer, client_id: str, rsa_key: RSAKey
) -> None:
    peer = clean_smart_fhir_peer
    audience = peer.token_url

    wrong_grant = token_request(peer, assertion(rsa_key, client_id, audience), grant_type="password")
    no_scope = token_request(peer, assertion(rsa_key, client_id, audience), scope="")
    wrong_type = token_request(peer, assertion(rsa_key, client_id, audience), client_assertion_type="secret")

    assert (wrong_grant.status_code, wrong_grant.json()["error"]) == (400, "unsupported_grant_type")
    assert (no_scope.status_code, no_scope.json()["error"]) == (400, "invalid_scope")
    assert (wrong_type.status_code, wrong_type.json()["error"]) == (401, "invalid_client")


class _JwksServer:
    """The client's JWKS URL, on the loopback; ``keys`` can be swapped to rotate them."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {"keys": []}
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = json.dumps(owner.keys).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"
        self.thread = threading.Thread(target=self.server.serve_forever)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture(scope="module")
def jwks_server() -> Iterator[_JwksServer]:
    server = _JwksServer()
    yield server
    server.close()


def test_clients_from_the_command_line_with_key_rotation_and_a_static_token(
    jwks_server: _JwksServer, rsa_key: RSAKey, ec_key: ECKey
) -> None:
    jwks_server.keys = jwks(rsa_key)
    with start_peer(clients={"cli-client": jwks_server.url}, static_token="fixed-token") as peer:
        url = f"{peer.base}/QuestionnaireResponse"
        assert requests.get(url, headers=bearer("fixed-token"), timeout=TIMEOUT).status_code == 200
        assert requests.get(url, headers=FHIR, timeout=TIMEOUT).status_code == 401

        first = token_request(peer, assertion(rsa_key, "cli-client", peer.token_url))
        jwks_server.keys = jwks(ec_key)  # rotated: the peer has only seen rsa-1
        rotated = token_request(peer, assertion(ec_key, "cli-client", peer.token_url))
        retired = token_request(peer, assertion(rsa_key, "cli-client", peer.token_url))

        assert first.status_code == 200, first.text
        assert rotated.status_code == 200, rotated.text
        assert retired.status_code == 401
        assert re.search(r"kid", retired.json()["error_description"])
        assert requests.get(url, headers=bearer(rotated.json()["access_token"]), timeout=TIMEOUT).ok


def test_registering_a_client_needs_exactly_one_key_source(smart_fhir_peer: MedplumPeer) -> None:
    both = requests.post(
        f"{smart_fhir_peer.admin}/clients",
        json={"client_id": "x", "jwks_uri": "http://127.0.0.1:9/jwks", "jwks": {"keys": []}},
        timeout=TIMEOUT,
    )
    neither = requests.post(f"{smart_fhir_peer.admin}/clients", json={"client_id": "x"}, timeout=TIMEOUT)

    assert both.status_code == neither.status_code == 400
