"""Each fault of the proxy, as a ``requests`` client sees it, in front of the real FHIR peer."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.peers.fault_proxy import FaultProxy
from tests.peers.medplum import MedplumPeer

SYSTEM = "https://careloop.example/fhir/checklist-id"
FHIR = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
TIMEOUT = 10


@pytest.fixture
def proxy(clean_fhir_peer: MedplumPeer) -> Iterator[FaultProxy]:
    with FaultProxy(clean_fhir_peer.base) as proxy:
        yield proxy


def response_body(value: str) -> dict[str, Any]:
    return {
        "resourceType": "QuestionnaireResponse",
        "identifier": {"system": SYSTEM, "value": value},
        "status": "completed",
    }


def post(proxy: FaultProxy, value: str, timeout: float = TIMEOUT) -> requests.Response:
    return requests.post(
        f"{proxy.url}/QuestionnaireResponse",
        json=response_body(value),
        headers={**FHIR, "If-None-Exist": f"identifier={SYSTEM}|{value}"},
        timeout=timeout,
    )


def test_without_rules_it_forwards_and_names_itself_in_locations(
    proxy: FaultProxy, clean_fhir_peer: MedplumPeer
) -> None:
    created = post(proxy, "plain")
    search = requests.get(
        f"{proxy.url}/QuestionnaireResponse", params={"identifier": f"{SYSTEM}|plain"}, timeout=TIMEOUT
    )

    assert created.status_code == 201
    assert created.headers["ETag"].startswith('W/"')
    assert created.headers["Location"].startswith(f"{proxy.url}/QuestionnaireResponse/")
    assert search.json()["total"] == 1
    assert proxy.url.endswith("/fhir")
    assert proxy.url != clean_fhir_peer.base
    assert proxy.requests == [
        ("POST", "/fhir/QuestionnaireResponse", 201),
        ("GET", "/fhir/QuestionnaireResponse", 200),
    ]


def test_status_answers_without_forwarding(proxy: FaultProxy, clean_fhir_peer: MedplumPeer) -> None:
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "processing"}]}
    proxy.status(503, headers={"Retry-After": "2"}, method="POST")
    proxy.status(422, json_body=outcome, method="POST")

    unavailable = post(proxy, "s")
    unprocessable = post(proxy, "s")
    through = post(proxy, "s")

    assert (unavailable.status_code, unavailable.headers["Retry-After"]) == (503, "2")
    assert (unprocessable.status_code, unprocessable.json()) == (422, outcome)
    assert unprocessable.headers["Content-Type"] == "application/fhir+json"
    assert through.status_code == 201
    assert len(clean_fhir_peer.search_by_identifier(SYSTEM, "s")) == 1
    assert proxy.pending == 0


def test_rules_match_method_and_path_and_apply_n_times(proxy: FaultProxy) -> None:
    proxy.status(503, path=r"/QuestionnaireResponse$", times=2)

    metadata = requests.get(f"{proxy.url}/metadata", timeout=TIMEOUT)
    statuses = [post(proxy, "n").status_code for _ in range(3)]

    assert metadata.status_code == 200
    assert statuses == [503, 503, 201]
    assert proxy.pending == 0


def test_drop_closes_the_connection_without_an_answer(
    proxy: FaultProxy, clean_fhir_peer: MedplumPeer
) -> None:
    proxy.drop(method="POST")

    with pytest.raises(requests.ConnectionError):
        post(proxy, "dropped")

    assert clean_fhir_peer.search_by_identifier(SYSTEM, "dropped") == []
    assert post(proxy, "dropped").status_code == 201
    assert proxy.requests[0] == ("POST", "/fhir/QuestionnaireResponse", None)


def test_hold_gives_a_read_timeout_after_the_write_is_stored(
    proxy: FaultProxy, clean_fhir_peer: MedplumPeer
) -> None:
    release = threading.Event()
    proxy.hold(release, method="POST")

    with pytest.raises(requests.ReadTimeout):
        post(proxy, "held", timeout=0.2)
    release.set()

    assert len(clean_fhir_peer.search_by_identifier(SYSTEM, "held")) == 1
    assert post(proxy, "held").status_code == 200  # the retry finds it


def test_hold_answers_once_released(proxy: FaultProxy) -> None:
    release = threading.Event()
    proxy.hold(release, method="POST")
    answers: list[requests.Response] = []
    client = threading.Thread(target=lambda: answers.append(post(proxy, "late")))
    client.start()

    release.set()
    client.join(timeout=TIMEOUT)

    assert [answer.status_code for answer in answers] == [201]


def test_lost_response_stores_the_write_but_answers_500(
    proxy: FaultProxy, clean_fhir_peer: MedplumPeer
) -> None:
    proxy.lost_response(method="POST")

    lost = post(proxy, "lost")

    assert lost.status_code == 500
    assert lost.json()["resourceType"] == "OperationOutcome"
    (stored,) = clean_fhir_peer.search_by_identifier(SYSTEM, "lost")
    retry = post(proxy, "lost")
    assert (retry.status_code, retry.json()["id"]) == (200, stored["id"])


def test_refuse_then_accept_on_the_same_port(proxy: FaultProxy) -> None:
    session = requests.Session()
    assert session.get(f"{proxy.url}/metadata", timeout=TIMEOUT).status_code == 200
    port = proxy.port

    proxy.refuse()
    with pytest.raises(requests.ConnectionError):
        session.get(f"{proxy.url}/metadata", timeout=TIMEOUT)  # the kept-alive connection is cut too
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{proxy.url}/metadata", timeout=TIMEOUT)
    proxy.accept()

    assert proxy.port == port
    assert session.get(f"{proxy.url}/metadata", timeout=TIMEOUT).status_code == 200
    session.close()


def test_an_unreachable_upstream_is_a_502() -> None:
    with FaultProxy("http://127.0.0.1:9/fhir") as proxy:
        answer = requests.get(f"{proxy.url}/metadata", timeout=TIMEOUT)

    assert answer.status_code == 502
    assert answer.json()["issue"][0]["code"] == "transient"
