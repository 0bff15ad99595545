"""The outbound EHR client against mocked HTTP (``responses``): each write, each answer, each error type."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
import responses
from responses import matchers

from fhir_adapters.ehr_auth import StaticBearer
from fhir_adapters.ehr_client import EhrClient, EhrCopy, EhrEndpoint, Ours, identifier_search, same_content
from fhir_adapters.ehr_errors import (
    MAX_RESPONSE_BYTES,
    AuthenticationRefused,
    ChangedInEhr,
    EhrRejected,
    EhrUnavailable,
)

BASE = "https://ehr.example/fhir"
QR_URL = f"{BASE}/QuestionnaireResponse"
SYSTEM = "https://careloop.example/Id/checklist"
CHECKLIST = "5b0c8a2e-6c1d-4f4e-9a59-0d6c1a7e2f10"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def document(answer: str = "yes", status: str = "completed") -> dict[str, Any]:
    return {
        "resourceType": "QuestionnaireResponse",
        "identifier": {"system": SYSTEM, "value": CHECKLIST},
        "status": status,
        "item": [{"linkId": "q1", "answer": [{"valueString": answer}]}],
    }


def stored(doc: dict[str, Any], resource_id: str = "qr-1", version: str = "1") -> dict[str, Any]:
    return {**doc, "id": resource_id, "meta": {"versionId": version, "lastUpdated": "2026-11-26T12:00:00Z"}}


def client(auth: Any = None) -> EhrClient:
    return EhrClient(EhrEndpoint(BASE, 1.0, 2.0), requests.Session(), auth, now=lambda: NOW)


def deliver(doc: dict[str, Any], copy: EhrCopy | None = None, ours: Ours | None = None) -> Any:
    return client().deliver(doc, identifier_system=SYSTEM, identifier_value=CHECKLIST, copy=copy, ours=ours)


@responses.activate
def test_a_first_write_is_a_conditional_create_on_the_checklist_identifier() -> None:
    doc = document()
    responses.post(
        QR_URL,
        json=stored(doc, "qr-9", "1"),
        status=201,
        headers={"ETag": 'W/"1"'},
        match=[matchers.header_matcher({"If-None-Exist": f"identifier={SYSTEM}|{CHECKLIST}"})],
    )

    written = deliver(doc)

    assert (written.resource_id, written.version_id, written.status_code, written.outcome) == (
        "qr-9",
        "1",
        201,
        "created",
    )
    sent = json.loads(responses.calls[0].request.body)
    assert sent == doc
    assert responses.calls[0].request.headers["Content-Type"].startswith("application/fhir+json")


@responses.activate
def test_the_id_and_version_come_from_location_and_etag_when_the_body_is_empty() -> None:
    responses.post(
        QR_URL, status=201, headers={"Location": f"{QR_URL}/qr-7/_history/4", "ETag": 'W/"4"'}, body=""
    )

    written = deliver(document())

    assert (written.resource_id, written.version_id) == ("qr-7", "4")


@responses.activate
def test_a_create_answered_with_neither_id_nor_location_is_rejected() -> None:
    responses.post(QR_URL, status=201, body="")

    with pytest.raises(EhrRejected, match="without saying where"):
        deliver(document())


@responses.activate
def test_our_earlier_write_found_by_the_conditional_create_is_success() -> None:
    doc = document()
    responses.post(QR_URL, json=stored(doc, "qr-1", "1"), status=200)

    written = deliver(doc)

    assert (written.resource_id, written.version_id, written.outcome) == ("qr-1", "1", "already-there")
    assert len(responses.calls) == 1


@responses.activate
def test_an_older_version_of_ours_found_by_the_create_is_updated_with_if_match() -> None:
    older, newer = document("no"), document("yes", "amended")
    responses.post(QR_URL, json=stored(older, "qr-1", "1"), status=200)
    responses.put(
        f"{QR_URL}/qr-1",
        json=stored(newer, "qr-1", "2"),
        status=200,
        match=[matchers.header_matcher({"If-Match": 'W/"1"'})],
    )

    written = deliver(newer, ours=Ours(documents=[older]))

    assert (written.resource_id, written.version_id, written.outcome) == ("qr-1", "2", "updated")
    assert json.loads(responses.calls[1].request.body)["id"] == "qr-1"


@responses.activate
def test_an_existing_resource_someone_else_wrote_is_never_overwritten() -> None:
    mine, theirs = document("yes"), document("changed in the EHR")
    responses.post(QR_URL, json=stored(theirs), status=200)

    with pytest.raises(ChangedInEhr, match="did not write"):
        deliver(mine, ours=Ours(documents=[document("no")]))
    assert [call.request.method for call in responses.calls] == ["POST"]


@responses.activate
def test_a_200_without_a_body_reads_the_existing_resource() -> None:
    doc = document()
    responses.post(QR_URL, status=200, headers={"Location": f"{QR_URL}/qr-3/_history/2"}, body="")
    responses.get(f"{QR_URL}/qr-3", json=stored(doc, "qr-3", "2"))

    written = deliver(doc)

    assert (written.resource_id, written.version_id, written.outcome) == ("qr-3", "2", "already-there")


@responses.activate
def test_an_amendment_puts_with_if_match_on_the_version_the_ehr_gave_us() -> None:
    amended = document("no", "amended")
    responses.put(
        f"{QR_URL}/qr-1",
        json=stored(amended, "qr-1", "2"),
        headers={"ETag": 'W/"2"'},
        match=[matchers.header_matcher({"If-Match": 'W/"1"'})],
    )

    written = deliver(amended, EhrCopy("qr-1", "1"))

    assert (written.version_id, written.outcome) == ("2", "updated")


@responses.activate
def test_a_412_on_a_version_we_wrote_is_retried_on_that_version() -> None:
    v2, v3 = document("a", "amended"), document("b", "amended")
    responses.put(f"{QR_URL}/qr-1", status=412, match=[matchers.header_matcher({"If-Match": 'W/"1"'})])
    responses.get(f"{QR_URL}/qr-1", json=stored(v2, "qr-1", "2"))  # our v2, whose answer was lost
    responses.put(
        f"{QR_URL}/qr-1",
        json=stored(v3, "qr-1", "3"),
        match=[matchers.header_matcher({"If-Match": 'W/"2"'})],
    )

    written = deliver(v3, EhrCopy("qr-1", "1"), Ours(documents=[document("first"), v2]))

    assert (written.version_id, written.outcome) == ("3", "updated")


@responses.activate
def test_a_412_recognises_our_write_by_its_recorded_version_id() -> None:
    v3 = document("b", "amended")
    responses.put(f"{QR_URL}/qr-1", status=412, match=[matchers.header_matcher({"If-Match": 'W/"1"'})])
    responses.get(f"{QR_URL}/qr-1", json=stored(document("normalised by the EHR"), "qr-1", "2"))
    responses.put(f"{QR_URL}/qr-1", json=stored(v3, "qr-1", "3"))

    written = deliver(v3, EhrCopy("qr-1", "1"), Ours(version_ids={"1", "2"}))

    assert written.version_id == "3"


@responses.activate
def test_a_412_where_the_ehr_already_holds_this_version_is_success() -> None:
    v3 = document("b", "amended")
    responses.put(f"{QR_URL}/qr-1", status=412)
    responses.get(f"{QR_URL}/qr-1", json=stored(v3, "qr-1", "5"))

    written = deliver(v3, EhrCopy("qr-1", "4"))

    assert (written.version_id, written.outcome) == ("5", "already-there")
    assert [call.request.method for call in responses.calls] == ["PUT", "GET"]


@responses.activate
def test_a_change_made_in_the_ehr_stops_the_delivery() -> None:
    responses.put(f"{QR_URL}/qr-1", status=412)
    responses.get(f"{QR_URL}/qr-1", json=stored(document("a clinician's correction"), "qr-1", "2"))

    with pytest.raises(ChangedInEhr, match="changed in the EHR"):
        deliver(document("ours", "amended"), EhrCopy("qr-1", "1"), Ours(version_ids={"1"}))
    assert [call.request.method for call in responses.calls] == ["PUT", "GET"]


@responses.activate
def test_a_resource_deleted_in_the_ehr_is_not_written_again() -> None:
    responses.put(f"{QR_URL}/qr-1", status=410)

    with pytest.raises(ChangedInEhr, match="410"):
        deliver(document(), EhrCopy("qr-1", "1"))


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
@responses.activate
def test_timeouts_throttling_and_server_errors_are_retryable(status: int) -> None:
    responses.post(QR_URL, status=status, headers={"Retry-After": "120"})

    with pytest.raises(EhrUnavailable) as raised:
        deliver(document())

    assert raised.value.retryable
    assert (raised.value.status_code, raised.value.retry_after) == (status, 120.0)


@responses.activate
def test_retry_after_as_an_http_date_counts_from_the_injected_clock() -> None:
    responses.post(QR_URL, status=503, headers={"Retry-After": "Thu, 26 Nov 2026 12:01:30 GMT"})

    with pytest.raises(EhrUnavailable) as raised:
        deliver(document())

    assert raised.value.retry_after == 90.0


@pytest.mark.parametrize(
    "error", [requests.ConnectionError("refused"), requests.ReadTimeout("slow"), requests.ConnectTimeout("x")]
)
@responses.activate
def test_network_errors_are_retryable(error: Exception) -> None:
    responses.post(QR_URL, body=error)

    with pytest.raises(EhrUnavailable) as raised:
        deliver(document())

    assert raised.value.status_code is None
    assert type(error).__name__ in raised.value.message


@pytest.mark.parametrize("status", [400, 403, 404, 409, 422])
@responses.activate
def test_other_client_errors_are_permanent_and_keep_the_operation_outcome(status: int) -> None:
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error",
                "code": "invariant",
                "diagnostics": "questionnaire is not a known canonical",
                "expression": ["QuestionnaireResponse.questionnaire"],
            }
        ],
    }
    responses.post(QR_URL, status=status, json=outcome)

    with pytest.raises(EhrRejected) as raised:
        deliver(document())

    assert not raised.value.retryable
    assert raised.value.outcome == outcome
    assert "error invariant: questionnaire is not a known canonical" in raised.value.message
    assert "(QuestionnaireResponse.questionnaire)" in raised.value.message


@responses.activate
def test_an_operation_outcome_is_bounded_and_a_huge_answer_is_not_read() -> None:
    many = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "invalid", "diagnostics": "x" * 500}] * 50,
    }
    responses.post(QR_URL, status=422, json=many)
    with pytest.raises(EhrRejected) as raised:
        deliver(document())
    assert raised.value.outcome is not None
    assert len(raised.value.outcome["issue"]) == 20
    assert "and 47 more" in raised.value.message
    assert len(raised.value.message) < 800

    responses.replace(responses.POST, QR_URL, status=422, body=b" " * (MAX_RESPONSE_BYTES + 1))
    with pytest.raises(EhrRejected) as raised:
        deliver(document())
    assert raised.value.outcome is None


@responses.activate
def test_a_401_gets_a_new_token_once_then_is_an_authentication_problem() -> None:
    tokens = []

    class CountingAuth:
        def authorization(self, session: requests.Session, *, renew: bool = False) -> str:
            tokens.append(renew)
            return f"Bearer t{len(tokens)}"

    responses.post(QR_URL, status=401)
    with pytest.raises(AuthenticationRefused) as raised:
        client(CountingAuth()).deliver(
            document(), identifier_system=SYSTEM, identifier_value=CHECKLIST, copy=None
        )

    assert tokens == [False, True]
    assert [call.request.headers["Authorization"] for call in responses.calls] == ["Bearer t1", "Bearer t2"]
    assert raised.value.retryable


@responses.activate
def test_a_static_bearer_token_is_sent_and_never_shown() -> None:
    responses.post(QR_URL, json=stored(document()), status=201)
    bearer = StaticBearer("s3cret-token")

    client(bearer).deliver(document(), identifier_system=SYSTEM, identifier_value=CHECKLIST, copy=None)

    assert responses.calls[0].request.headers["Authorization"] == "Bearer s3cret-token"
    assert "s3cret" not in repr(bearer)


def test_an_identifier_search_escapes_fhir_search_characters() -> None:
    assert identifier_search("urn:x", "a|b,c$d") == "identifier=urn:x|a%5C%7Cb%5C%2Cc%5C%24d"


def test_content_comparison_ignores_what_the_server_owns() -> None:
    doc = document()
    assert same_content(stored(doc, "x", "9") | {"text": {"status": "generated"}}, doc)
    assert not same_content(stored(doc), document("other"))
