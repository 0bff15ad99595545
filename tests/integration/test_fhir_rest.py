"""The ``/fhir`` QuestionnaireResponse REST contract over real HTTP, as an integration engine meets it
(issue 10, item 4 (b) and (c)).

The app runs under gunicorn (two workers) on a fresh database, started with ``tests/browser/conftest.py``'s
helpers, seeded with ``tests/browser/seed.py`` and given tokens by ``flask tokens create``; ``requests`` walks
the contract through it. Every QuestionnaireResponse the server returns is kept and, at the end, stored on the
Medplum peer (a third-party FHIR R4 server), which must accept each; every Bundle must validate as FHIR.
"""

from __future__ import annotations

import datetime as dt
import http.client
import itertools
import json
import os
import re
import secrets
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome
from requests.structures import CaseInsensitiveDict

from fhir_adapters.identifiers import modulus_11_valid
from fhir_adapters.questionnaire_response import CHECKLIST_IDENTIFIER_SYSTEM, to_questionnaire_response
from fhir_adapters.vocabulary import NHS_NUMBER_SYSTEM
from service.care_bundles import CareBundleRegistry
from tests.browser.conftest import (
    ACCESS_LOG_FORMAT,
    BIN,
    PROJECT_ROOT,
    LiveServer,
    _database,
    _free_port,
    _run,
    _wait_until_healthy,
)
from tests.factories import oasi_answers
from tests.peers.medplum import MedplumPeer

QR = "/fhir/QuestionnaireResponse"
FHIR_JSON = "application/fhir+json"
SITE, UNIT, OTHER_SITE, OTHER_UNIT = "REST1", "ward-1", "REST2", "ward-2"
TIMEOUT_S = 30
OASI = CareBundleRegistry.from_directory(PROJECT_ROOT / "bundles").get("oasi-care-bundle", "2.0.0")
DRAFT = {key: value for key, value in oasi_answers().items() if key in ("birth-time", "birth-mode")}


def _nhs_numbers() -> Iterator[str]:
    for stem in itertools.count(943_476_500):
        yield from (number for check in range(10) if modulus_11_valid(number := f"{stem}{check}"))


new_patient = _nhs_numbers().__next__  # a patient of one test's own: its searches see its responses only


def body(
    patient: str, status: str = "completed", answers: dict[str, list[Any]] | None = None
) -> dict[str, Any]:
    """A QuestionnaireResponse as another system sends it: no identifier unless the test adds one."""
    assert OASI is not None
    made = to_questionnaire_response(
        OASI,
        oasi_answers() if answers is None else answers,
        checklist_id="unused",
        status=status,
        authored=dt.datetime(2026, 3, 2, 6, 30, tzinfo=dt.UTC),
        nhs_number=patient,
    )
    del made["identifier"]
    return made


def sender_identifier() -> dict[str, str]:
    return {"system": "https://trust.example/Id/form", "value": f"form-{uuid.uuid4()}"}


def mine(patient: str) -> str:
    return f"subject:identifier={NHS_NUMBER_SYSTEM}|{patient}"


# -- the live server and its clients ----------------------------------------------------------------------


@dataclass
class Returned:
    """Every QuestionnaireResponse returned (with where it came from) and every Bundle, for the end."""

    resources: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    bundles: list[dict[str, Any]] = field(default_factory=list)

    def keep(self, where: str, status: int, content_type: str, content: bytes) -> None:
        if status >= 300 or not content or not content_type.startswith(FHIR_JSON):
            return
        found = json.loads(content)
        if found["resourceType"] == "QuestionnaireResponse":
            self.resources.append((where, found))
        elif found["resourceType"] == "Bundle":
            self.bundles.append(found)
            entries = enumerate(entry["resource"] for entry in found.get("entry", []))
            self.resources += [(f"{where} entry {n}", resource) for n, resource in entries]


class Client(requests.Session):
    """A FHIR client of the live server with one token (or none); keeps what it is returned."""

    def __init__(self, base: str, token: str | None, returned: Returned) -> None:
        super().__init__()
        self.base, self.returned = base, returned
        self.headers["Accept"] = FHIR_JSON
        if token is not None:
            self.headers["Authorization"] = f"Bearer {token}"

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        url = self.base + str(url) if str(url).startswith("/") else str(url)
        response = super().request(method, url, *args, **{"timeout": TIMEOUT_S, **kwargs})
        kind = response.headers.get("Content-Type", "")
        self.returned.keep(
            f"{method!s} {url.removeprefix(self.base)}", response.status_code, kind, response.content
        )
        return response

    def create(self, resource: dict[str, Any], status: int = 201, **headers: str) -> requests.Response:
        response = self.post(QR, json=resource, headers={"Content-Type": FHIR_JSON, **headers})
        assert response.status_code == status, response.text
        return response

    def ids(self, query: str) -> list[str]:
        response = self.get(f"{QR}?{query}")
        assert response.status_code == 200, response.text
        return [entry["resource"]["id"] for entry in response.json().get("entry", [])]


@dataclass
class Live:
    server: LiveServer
    tokens: dict[str, str]
    returned: Returned = field(default_factory=Returned)

    @property
    def base(self) -> str:
        return self.server.url

    def client(self, token: str | None = "writer") -> Client:
        return Client(self.base, self.tokens[token] if token else None, self.returned)

    def workers_answering(self, path: str, method: str = "GET") -> set[str]:
        """The workers that answered ``method path``, from the access log. Asked after
        :func:`on_both_workers`, which returns once each worker has closed its connection: a sync worker
        writes its access-log line before it closes, so every line is there already."""
        line = rf'"{method} {re.escape(path)} HTTP/1\.1" .* pid=<?(\d+)'
        return set(re.findall(line, self.server.log()))


def _token(env: dict[str, str], site: str, unit: str | None, *scopes: str) -> str:
    command = [str(BIN / "flask"), "tokens", "create", "--name", "REST test engine", "--site", site]
    command += (["--unit", unit] if unit else []) + [part for scope in scopes for part in ("--scope", scope)]
    made = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip().splitlines()[-1]  # printed once, last


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """gunicorn with two workers on a fresh database, started as the browser tests' ``live_server``."""
    tmp = tmp_path_factory.mktemp("fhir-rest")
    with _database(tmp) as database_url:
        env = {**os.environ, "CARELOOP_ENV": "development", "CARELOOP_SECRET_KEY": secrets.token_hex(32)}
        env |= {"CARELOOP_DATABASE_URL": database_url, "FLASK_APP": "wsgi", "PYTHONUNBUFFERED": "1"}
        env.pop("CARELOOP_TEST_DATABASE_URL", None)
        _run([str(BIN / "flask"), "db", "upgrade"], env)
        for site, unit in ((SITE, UNIT), (OTHER_SITE, OTHER_UNIT)):
            _run([str(BIN / "python"), str(PROJECT_ROOT / "tests" / "browser" / "seed.py"), site, unit], env)
        tokens = {
            "writer": _token(env, SITE, UNIT, "system/QuestionnaireResponse.crus"),
            "questionnaires-only": _token(env, SITE, None, "system/Questionnaire.rs"),
            "other-site": _token(env, OTHER_SITE, OTHER_UNIT, "system/QuestionnaireResponse.crus"),
        }
        port, log_path = _free_port(), tmp / "gunicorn.log"
        command = [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "2", "--access-logfile"]
        command += ["-", "--access-logformat", ACCESS_LOG_FORMAT, "--error-logfile", "-", "wsgi:app"]
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        server = LiveServer(f"http://127.0.0.1:{port}", database_url, log_path, process)
        try:
            _wait_until_healthy(server)
            yield Live(server, tokens)
        finally:
            process.terminate()
            process.wait(timeout=15)


@pytest.fixture(autouse=True)
def _server_log_stays_clean(live: Live, request: pytest.FixtureRequest) -> Iterator[None]:
    """No test leaves a traceback or a 5xx in the server's log, but one marked as a known server bug."""
    start = live.server.log_size()
    yield
    marker = request.node.get_closest_marker("xfail")
    if marker is not None and (not marker.args or marker.args[0]):
        return
    written = live.server.log(start)
    problems = [line for line in written.splitlines() if "Traceback" in line or re.search(r'" 5\d\d ', line)]
    assert not problems, "the live server logged errors:\n" + written[-20_000:]


@pytest.fixture
def api(live: Live) -> Iterator[Client]:
    """The integration engine: a token bound to the unit, allowed to create, read, update and search."""
    with live.client() as client:
        yield client


@pytest.fixture
def anonymous(live: Live) -> Iterator[Client]:
    with live.client(None) as client:
        yield client


def assert_outcome(response: requests.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith(FHIR_JSON)
    outcome: dict[str, Any] = response.json()
    OperationOutcome.model_validate(outcome)
    assert code is None or outcome["issue"][0]["code"] == code, outcome
    return outcome


@dataclass
class Answer:
    status: int
    headers: CaseInsensitiveDict[str]
    body: bytes


Request = tuple[str, str, dict[str, str], bytes]


def on_both_workers(live: Live, first: Request, second: Request) -> list[Answer]:
    """Two requests (method, path, headers, body), one per worker, answered at the same moment.

    Each goes on its own connection without its last byte, so the sync worker that accepts it is held reading
    it. Connections are accepted in order: once a probe sent after the first is answered, one worker holds
    the first; once the accept queue is empty again (Linux: /proc/net/tcp), the other holds the second.
    Then both last bytes go together."""
    held = [_hold(live, *first)]
    requests.get(f"{live.base}/healthz", timeout=TIMEOUT_S).raise_for_status()
    held.append(_hold(live, *second))
    _wait_until_accepted(int(live.base.rsplit(":", 1)[1]))
    for connection, last in held:
        connection.sendall(last)
    answers = []
    for (connection, _), (method, path, _, _) in zip(held, (first, second), strict=True):
        with connection:
            reply = http.client.HTTPResponse(connection)
            reply.begin()
            answer = Answer(reply.status, CaseInsensitiveDict(reply.getheaders()), reply.read())
            # Connection: close: the worker has logged the request once it closes (end of file here).
            assert connection.recv(1) == b""
        kind = answer.headers.get("Content-Type", "")
        live.returned.keep(f"{method} {path}", answer.status, kind, answer.body)
        answers.append(answer)
    return answers


def _hold(
    live: Live, method: str, path: str, headers: dict[str, str], data: bytes
) -> tuple[socket.socket, bytes]:
    host, port = live.base.removeprefix("http://").rsplit(":", 1)
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in {**headers, "Content-Length": str(len(data))}.items()]
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + data
    connection = socket.create_connection((host, int(port)), timeout=TIMEOUT_S)
    connection.sendall(raw[:-1])
    return connection, raw[-1:]


def _wait_until_accepted(port: int) -> None:
    """Until no connection waits in the accept queue of the socket listening on ``port``."""
    listening = re.compile(
        rf"^\s*\d+: [0-9A-F]{{8}}:{port:04X} 0{{8}}:0000 0A [0-9A-F]{{8}}:([0-9A-F]{{8}})", re.M
    )
    deadline = time.monotonic() + 5
    while True:
        queues = listening.findall(Path("/proc/net/tcp").read_text())
        assert queues, f"nothing listens on {port}"
        if all(int(queued, 16) == 0 for queued in queues):
            return
        assert time.monotonic() < deadline, "no worker accepted the second connection"
        time.sleep(0.01)


def as_instant(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


# -- (b) the REST contract ----------------------------------------------------------------------------------


def test_create_answers_201_with_location_etag_last_modified_and_the_resource(api: Client) -> None:
    patient = new_patient()
    created = api.create(body(patient))
    resource = created.json()
    assert created.headers["Content-Type"] == f"{FHIR_JSON}; charset=utf-8"
    assert int(created.headers["Content-Length"]) == len(created.content)
    assert (resource["meta"]["versionId"], created.headers["ETag"]) == ("2", 'W/"2"')  # started, completed
    assert created.headers["Location"] == f"{api.base}{QR}/{resource['id']}/_history/2"
    modified = parsedate_to_datetime(created.headers["Last-Modified"])
    assert modified == as_instant(resource["meta"]["lastUpdated"]).replace(microsecond=0)
    assert resource["identifier"] == {"system": CHECKLIST_IDENTIFIER_SYSTEM, "value": resource["id"]}
    assert resource["subject"]["identifier"] == {"system": NHS_NUMBER_SYSTEM, "value": patient}
    assert (resource["status"], resource["questionnaire"]) == ("completed", body(patient)["questionnaire"])
    assert api.get(created.headers["Location"]).json() == resource


def test_a_retry_after_a_lost_response_gets_the_same_checklist(api: Client) -> None:
    patient, sender = new_patient(), sender_identifier()
    first = api.create({**body(patient), "identifier": sender}).json()
    retried = api.create({**body(patient), "identifier": sender}, 200)  # the 201 never reached the engine
    assert (retried.json(), retried.headers["ETag"]) == (first, 'W/"2"')
    assert api.ids(f"identifier={sender['system']}|{sender['value']}") == [first["id"]]
    assert api.ids(mine(patient)) == [first["id"]]


def test_a_retry_racing_the_first_send_on_the_other_worker_gets_the_same_checklist(
    api: Client, live: Live
) -> None:
    writer = {"Authorization": f"Bearer {live.tokens['writer']}", "Content-Type": FHIR_JSON}
    for _ in range(5):  # the two workers check the identifier and insert at the same moment
        patient = new_patient()
        sent = json.dumps({**body(patient), "identifier": sender_identifier()}).encode()
        answers = on_both_workers(live, ("POST", QR, writer, sent), ("POST", QR, writer, sent))
        assert sorted(answer.status for answer in answers) == [200, 201], [answer.body for answer in answers]
        assert len({json.loads(answer.body)["id"] for answer in answers}) == 1
        assert len(api.ids(mine(patient))) == 1
    assert len(live.workers_answering(QR, "POST")) == 2


def test_if_none_exist_and_a_minted_identifier(api: Client) -> None:
    patient = new_patient()
    minted = api.create(body(patient)).json()
    assert minted["identifier"] == {"system": CHECKLIST_IDENTIFIER_SYSTEM, "value": minted["id"]}
    ours = f"identifier={CHECKLIST_IDENTIFIER_SYSTEM}|{minted['id']}"
    assert api.create(body(patient), 200, **{"If-None-Exist": ours}).json() == minted
    unmatched = f"identifier=https://trust.example/Id/form|never-sent-{uuid.uuid4()}"
    other = api.create(body(patient), 201, **{"If-None-Exist": unmatched}).json()
    assert sorted(api.ids(mine(patient))) == sorted([minted["id"], other["id"]])


def test_prefer_chooses_the_body_of_the_answer(api: Client) -> None:
    minimal = api.create(body(new_patient()), Prefer="return=minimal")
    assert minimal.content == b""
    assert api.get(minimal.headers["Location"]).json()["meta"]["versionId"] == "2"
    shown = api.create(body(new_patient()), Prefer="return=representation")
    assert shown.json()["resourceType"] == "QuestionnaireResponse"
    told = api.create(body(new_patient()), Prefer="return=OperationOutcome")
    assert assert_outcome(told, 201)["issue"][0]["diagnostics"] == "created"
    assert told.headers["Location"].startswith(f"{api.base}{QR}/")


def test_a_minimal_answer_has_no_body_at_all(api: Client) -> None:
    minimal = api.create(body(new_patient()), Prefer="return=minimal")
    assert minimal.headers.get("Content-Length", "0") == "0"
    assert "Content-Encoding" not in minimal.headers
    assert minimal.headers.get("Content-Type", FHIR_JSON).startswith(FHIR_JSON)


def test_read_vread_and_history(api: Client) -> None:
    made = api.create({**body(new_patient()), "identifier": sender_identifier()}).json()
    url = f"{QR}/{made['id']}"
    read = api.get(url)
    assert (read.status_code, read.headers["ETag"], read.json()) == (200, 'W/"2"', made)
    version = api.get(f"{url}/_history/2")
    assert (version.headers["ETag"], version.json()) == ('W/"2"', made)
    assert_outcome(api.get(f"{url}/_history/1"), 404, "not-found")  # a draft keeps no snapshot
    history = api.get(f"{url}/_history").json()
    assert (history["type"], history["total"]) == ("history", 1)
    assert (history["entry"][0]["resource"], history["entry"][0]["fullUrl"]) == (made, f"{api.base}{url}")


def test_two_reads_at_once_on_both_workers_agree(api: Client, live: Live) -> None:
    made = api.create(body(new_patient())).json()
    url = f"{QR}/{made['id']}"
    read = ("GET", url, {"Authorization": f"Bearer {live.tokens['writer']}", "Accept": FHIR_JSON}, b"")
    for _ in range(3):
        answers = on_both_workers(live, read, read)
        assert [(answer.status, answer.headers["ETag"]) for answer in answers] == [(200, 'W/"2"')] * 2
        assert [json.loads(answer.body) for answer in answers] == [made] * 2
        assert answers[0].headers["Last-Modified"] == answers[1].headers["Last-Modified"]
    assert len(live.workers_answering(url)) == 2


def test_search_by_identifier_subject_questionnaire_status_and_authored(api: Client) -> None:
    patient, sender = new_patient(), sender_identifier()
    first = api.create({**body(patient), "identifier": sender}).json()["id"]
    made = api.create(body(patient, "in-progress", DRAFT)).json()
    second, at = made["id"], made["authored"]
    assert api.ids(f"identifier={sender['system']}|{sender['value']}") == [first]
    assert api.ids(f"identifier={CHECKLIST_IDENTIFIER_SYSTEM}|{second}") == [second]
    assert api.ids(f"{mine(patient)}&_sort=-authored") == [second, first]
    assert api.ids(f"{mine(patient)}&_sort=authored") == [first, second]
    canonical = made["questionnaire"].split("|")[0]
    assert api.ids(f"{mine(patient)}&questionnaire={canonical}") == [second, first]
    assert api.ids(f"{mine(patient)}&questionnaire={canonical}|2.0.0") == [second, first]
    assert api.ids(f"{mine(patient)}&questionnaire={canonical}|1.0.0") == []
    assert api.ids(f"{mine(patient)}&status=completed") == [first]
    assert api.ids(f"{mine(patient)}&status=in-progress,completed") == [second, first]
    assert api.ids(f"{mine(patient)}&authored=ge{at}") == [second]
    assert api.ids(f"{mine(patient)}&authored=lt{at}") == [first]
    assert api.ids(f"{mine(patient)}&authored=le{at}&authored=gt2000-01-01") == [second, first]
    assert api.ids(f"{mine(patient)}&authored={at[:10]}") == [second, first]
    assert (
        api.ids(f"{mine(patient)}&authored=gt{at[:10]}")
        == api.ids(f"{mine(patient)}&authored=lt{at[:10]}")
        == []
    )
    for refused in ("colour=red", "status=done", "authored=yesterday", "_count=x", "identifier=nobar"):
        assert_outcome(api.get(f"{QR}?{mine(patient)}&{refused}"), 400, "invalid")


def test_authored_follows_the_precision_of_the_value_given(api: Client) -> None:
    patient = new_patient()
    first, second = api.create(body(patient)).json(), api.create(body(patient)).json()
    assert api.ids(f"{mine(patient)}&authored=ge{first['authored'][:7]}") == [second["id"], first["id"]]
    assert api.ids(f"{mine(patient)}&authored=lt{first['authored'][:4]}") == []
    at = first["authored"]  # to the millisecond: eq, gt and le mean that millisecond, not its whole second
    assert api.ids(f"{mine(patient)}&authored={at}") == [first["id"]]
    assert api.ids(f"{mine(patient)}&authored=gt{at}") == [second["id"]]
    assert api.ids(f"{mine(patient)}&authored=le{at}") == [first["id"]]


def test_count_pages_follow_next_links_to_the_end(api: Client) -> None:
    patient = new_patient()
    made = [api.create(body(patient)).json()["id"] for _ in range(5)]
    url: str | None = f"{api.base}{QR}?{mine(patient)}&_count=2&_sort=-authored"
    pages: list[list[str]] = []
    while url is not None:
        assert url.startswith(f"{api.base}{QR}?")  # absolute, on the host and port the client called
        bundle = api.get(url).json()
        assert (bundle["type"], bundle["total"]) == ("searchset", 5)
        pages.append([entry["resource"]["id"] for entry in bundle["entry"]])
        assert [entry["fullUrl"] for entry in bundle["entry"]] == [
            f"{api.base}{QR}/{id_}" for id_ in pages[-1]
        ]
        url = next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [found for page in pages for found in page] == made[::-1]


def test_put_needs_a_fresh_if_match_and_walks_the_lifecycle(api: Client) -> None:
    patient = new_patient()
    made = api.create(body(patient, "in-progress", DRAFT)).json()
    url = f"{QR}/{made['id']}"

    def put(resource: dict[str, Any], match: str | None, status: int) -> requests.Response:
        headers = {"Content-Type": FHIR_JSON, **({"If-Match": match} if match else {})}
        response = api.put(url, json={**resource, "id": made["id"]}, headers=headers)
        assert response.status_code == status, response.text
        return response

    assert_outcome(put(body(patient), None, 428), 428)
    assert_outcome(put(body(patient), 'W/"1"', 412), 412, "conflict")
    completed = put(body(patient), api.get(url).headers["ETag"], 200)
    assert (completed.headers["ETag"], completed.json()["status"]) == ('W/"3"', "completed")
    assert parsedate_to_datetime(completed.headers["Last-Modified"])
    assert_outcome(put(body(patient), 'W/"2"', 412), 412)  # another engine still holding version 2
    changed = oasi_answers(perineal_trauma="second-degree")
    amended = put(body(patient, "amended", changed), 'W/"3"', 200).json()
    assert (amended["status"], amended["meta"]["versionId"]) == ("amended", "4")
    assert (
        put(body(patient, "entered-in-error", changed), 'W/"4"', 200).json()["status"] == "entered-in-error"
    )
    assert api.get(url).headers["ETag"] == 'W/"5"'
    history = api.get(f"{url}/_history").json()
    assert [entry["response"]["etag"] for entry in history["entry"]] == ['W/"5"', 'W/"4"', 'W/"3"']
    for entry, version in zip(history["entry"], (5, 4, 3), strict=True):
        assert api.get(f"{url}/_history/{version}").json() == entry["resource"]
    assert api.ids(f"{mine(patient)}&status=entered-in-error") == [made["id"]]


def test_two_updates_of_one_version_at_once_never_both_land(api: Client, live: Live) -> None:
    patient = new_patient()
    made = api.create(body(patient, "in-progress", DRAFT)).json()
    url = f"{QR}/{made['id']}"
    headers = {
        "Authorization": f"Bearer {live.tokens['writer']}",
        "Content-Type": FHIR_JSON,
        "If-Match": 'W/"2"',
    }
    completing = json.dumps({**body(patient), "id": made["id"]}).encode()
    saving = json.dumps({**body(patient, "in-progress", oasi_answers()), "id": made["id"]}).encode()
    answers = on_both_workers(live, ("PUT", url, headers, completing), ("PUT", url, headers, saving))
    assert len(live.workers_answering(url, "PUT")) == 2
    assert sorted(answer.status for answer in answers) in ([200, 409], [200, 412]), answers
    (landed,) = [json.loads(answer.body) for answer in answers if answer.status == 200]
    assert (api.get(url).json(), landed["meta"]["versionId"]) == (landed, "3")


def test_content_types_formats_and_a_chunked_body(api: Client) -> None:
    made = api.post(QR, json=body(new_patient()), headers={"Content-Type": "application/json"})
    assert made.status_code == 201, made.text
    url = f"{QR}/{made.json()['id']}"
    for query, accept in (
        ({}, "application/json"),
        ({"_format": "json"}, "*/*"),
        ({"_format": FHIR_JSON}, ""),
    ):
        read = api.get(url, params=query, headers={"Accept": accept})
        assert (read.status_code, read.headers["Content-Type"]) == (200, f"{FHIR_JSON}; charset=utf-8")
    assert_outcome(api.get(f"{url}?_format=xml"), 406, "not-supported")
    assert_outcome(api.get(url, headers={"Accept": "application/fhir+xml"}), 406, "not-supported")
    assert_outcome(api.post(QR, data=b"{}", headers={"Content-Type": "text/plain"}), 415, "not-supported")
    encoded = json.dumps(body(new_patient())).encode()
    chunks = (encoded[start : start + 100] for start in range(0, len(encoded), 100))  # no Content-Length
    made = api.post(QR, data=chunks, headers={"Content-Type": FHIR_JSON})
    assert (made.request.headers["Transfer-Encoding"], made.status_code) == ("chunked", 201), made.text


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_over_the_limit_is_a_413_outcome(api: Client, chunked: bool) -> None:
    padded = {**body(new_patient()), "text": {"status": "generated", "div": "x" * 2_100_000}}
    encoded = json.dumps(padded).encode()
    sent = api.post(QR, data=iter([encoded]) if chunked else encoded, headers={"Content-Type": FHIR_JSON})
    assert_outcome(sent, 413, "too-long")


def test_head_answers_the_headers_of_get(api: Client, anonymous: Client) -> None:
    made = api.create(body(new_patient())).json()
    for client, path in (
        (api, f"{QR}/{made['id']}"),
        (anonymous, "/fhir/metadata"),
        (anonymous, "/fhir/Questionnaire/oasi-care-bundle-2.0.0"),
    ):
        got, head = client.get(path), client.head(path)
        assert (head.status_code, head.content) == (200, b"")
        for header in ("Content-Type", "Content-Length", "ETag"):
            assert head.headers.get(header) == got.headers.get(header), header


def test_refusals_are_operation_outcomes(api: Client, anonymous: Client, live: Live) -> None:
    made = api.create(body(new_patient())).json()
    url = f"{QR}/{made['id']}"
    with live.client("questionnaires-only") as reader, live.client("other-site") as other:
        assert_outcome(anonymous.get(url), 401, "login")
        assert anonymous.get(url).headers["WWW-Authenticate"].startswith("Bearer")
        assert_outcome(anonymous.post(QR, json=body(new_patient())), 401, "login")
        assert_outcome(reader.get(url, headers={"Authorization": "Bearer clt_not-a-token"}), 401, "login")
        assert_outcome(reader.get(url), 403, "forbidden")
        assert_outcome(reader.get(f"{QR}?status=completed"), 403, "forbidden")
        assert_outcome(reader.post(QR, json=body(new_patient())), 403, "forbidden")
        assert_outcome(other.get(url), 404, "not-found")  # another site's checklist is not said to exist
        assert_outcome(other.put(url, json=made, headers={"If-Match": 'W/"2"'}), 404, "not-found")
    assert_outcome(api.get(f"{QR}/{uuid.uuid4()}"), 404, "not-found")
    assert_outcome(api.get(f"{QR}/not-a-uuid"), 404, "not-found")
    assert_outcome(api.get("/fhir/Patient/1"), 404, "not-found")
    # Questionnaires are public, but a token sent with a read must allow it: this one is for responses only.
    assert_outcome(api.get("/fhir/Questionnaire/oasi-care-bundle-2.0.0"), 403, "forbidden")
    removed = api.delete(url)
    assert_outcome(removed, 405, "not-supported")
    assert "PUT" in removed.headers["Allow"]
    assert api.get(url).json() == made


def test_questionnaire_etag_is_the_same_from_both_workers_and_revalidates(
    anonymous: Client, live: Live
) -> None:
    path = "/fhir/Questionnaire/oasi-care-bundle-2.0.0"
    reads = on_both_workers(live, ("GET", path, {}, b""), ("GET", path, {}, b""))
    assert len(live.workers_answering(path)) == 2
    assert [read.status for read in reads] == [200, 200]
    assert reads[0].body == reads[1].body
    etag, modified = reads[0].headers["ETag"], reads[0].headers["Last-Modified"]
    assert (reads[1].headers["ETag"], reads[1].headers["Last-Modified"]) == (etag, modified)
    revalidate = ("GET", path, {"If-None-Match": etag}, b"")
    unchanged = on_both_workers(live, revalidate, revalidate)
    assert {(answer.status, answer.body, answer.headers["ETag"]) for answer in unchanged} == {
        (304, b"", etag)
    }
    assert anonymous.get(path, headers={"If-None-Match": 'W/"something-else"'}).status_code == 200
    with live.client("questionnaires-only") as reader:  # a token that allows it reads the same
        assert reader.get(path).headers["ETag"] == etag


def test_the_capability_statement_is_the_same_from_both_workers(live: Live) -> None:
    read = ("GET", "/fhir/metadata", {"Accept": FHIR_JSON}, b"")
    answers = on_both_workers(live, read, read)
    assert len(live.workers_answering("/fhir/metadata")) == 2
    assert [answer.status for answer in answers] == [200, 200]
    assert answers[0].body == answers[1].body  # CapabilityStatement.date too
    statement = json.loads(answers[0].body)
    CapabilityStatement.model_validate(statement)
    assert (statement["fhirVersion"], statement["implementation"]["url"]) == ("4.0.1", f"{live.base}/fhir")
    (rest,) = statement["rest"]
    served = {resource["type"]: resource for resource in rest["resource"]}["QuestionnaireResponse"]
    interactions = {interaction["code"] for interaction in served["interaction"]}
    assert interactions == {"create", "read", "vread", "update", "history-instance", "search-type"}
    params = {param["name"] for param in served["searchParam"]}
    assert params >= {"identifier", "subject:identifier", "questionnaire", "status", "authored"}


# -- (c) a third-party FHIR server accepts what we return -------------------------------------------------


def test_the_medplum_peer_accepts_every_questionnaire_response_returned(
    api: Client, live: Live, clean_fhir_peer: MedplumPeer
) -> None:
    # A walk of its own, so that run alone this test still judges every kind of answer.
    made = api.create({**body(new_patient()), "identifier": sender_identifier()}).json()
    url = f"{QR}/{made['id']}"
    for read in (
        url,
        f"{url}/_history/2",
        f"{url}/_history",
        f"{QR}?identifier={CHECKLIST_IDENTIFIER_SYSTEM}|{made['id']}",
    ):
        assert api.get(read).status_code == 200
    kinds = {where.split(" ")[0] + " entry" * (" entry " in where) for where, _ in live.returned.resources}
    assert kinds >= {"POST", "GET", "GET entry"}
    for bundle in live.returned.bundles:
        Bundle.model_validate(bundle)
    distinct = {json.dumps(resource, sort_keys=True): where for where, resource in live.returned.resources}
    refused = []
    with requests.Session() as peer:
        for resource, where in distinct.items():
            url = f"{clean_fhir_peer.base}/QuestionnaireResponse/{json.loads(resource)['id']}"
            stored = peer.put(url, data=resource, headers={"Content-Type": FHIR_JSON}, timeout=TIMEOUT_S)
            if not stored.ok:
                refused.append(f"{where}: {stored.status_code} {stored.text[:500]}")
    assert not refused, "\n".join(refused)
    assert len(distinct) >= 4
