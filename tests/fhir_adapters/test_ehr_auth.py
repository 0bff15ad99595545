"""SMART Backend Services: the client assertion joserfc signs, the token request, and the token cache."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest
import requests
import responses
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey

from fhir_adapters.ehr_auth import JWT_BEARER, SmartBackendAuth, SmartClient
from fhir_adapters.ehr_errors import AuthenticationRefused, EhrUnavailable

TOKEN_URL = "https://ehr.example/auth/token"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def rsa_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"alg": "RS384", "use": "sig"}, auto_kid=True)


def ec_key() -> ECKey:
    return ECKey.generate_key("P-384", parameters={"alg": "ES384", "use": "sig"}, auto_kid=True)


def smart(key: RSAKey | ECKey, algorithm: str, clock: Clock) -> SmartBackendAuth:
    return SmartBackendAuth(
        SmartClient(TOKEN_URL, "careloop", "system/QuestionnaireResponse.write", key, algorithm), clock=clock
    )


def token_response(token: str = "tok-1", expires_in: int = 60) -> dict[str, object]:
    return {"access_token": token, "token_type": "bearer", "expires_in": expires_in, "scope": "x"}


@pytest.mark.parametrize(("make_key", "algorithm"), [(rsa_key, "RS384"), (ec_key, "ES384")])
@responses.activate
def test_the_token_request_carries_an_assertion_the_registered_public_key_verifies(
    make_key: object, algorithm: str
) -> None:
    key = make_key()  # type: ignore[operator]
    clock = Clock()
    responses.post(TOKEN_URL, json=token_response())

    header = smart(key, algorithm, clock).authorization(requests.Session())

    assert header == "Bearer tok-1"
    form = parse_qs(responses.calls[0].request.body)
    assert form["grant_type"] == ["client_credentials"]
    assert form["client_assertion_type"] == [JWT_BEARER]
    assert form["scope"] == ["system/QuestionnaireResponse.write"]
    public = KeySet.import_key_set({"keys": [key.as_dict(private=False)]})
    token = jwt.decode(form["client_assertion"][0], public, algorithms=[algorithm])
    assert token.header["alg"] == algorithm
    assert token.header["kid"] == key.kid
    claims = token.claims
    assert claims["iss"] == claims["sub"] == "careloop"
    assert claims["aud"] == TOKEN_URL
    assert claims["exp"] - claims["iat"] == 300
    assert claims["iat"] == int(clock.now)


@responses.activate
def test_each_assertion_has_a_new_jti() -> None:
    auth = smart(rsa_key(), "RS384", Clock())
    public = KeySet.import_key_set({"keys": [auth.client.key.as_dict(private=False)]})
    jtis = {jwt.decode(auth.client_assertion(), public, algorithms=["RS384"]).claims["jti"] for _ in range(5)}
    assert len(jtis) == 5


@responses.activate
def test_a_token_is_cached_until_shortly_before_it_expires() -> None:
    clock = Clock()
    responses.post(TOKEN_URL, json=token_response("tok-1"))
    responses.post(TOKEN_URL, json=token_response("tok-2"))
    auth = smart(rsa_key(), "RS384", clock)
    session = requests.Session()

    assert auth.authorization(session) == "Bearer tok-1"
    clock.now += 44  # 60 s token, renewed 15 s before it ends
    assert auth.authorization(session) == "Bearer tok-1"
    clock.now += 1
    assert auth.authorization(session) == "Bearer tok-2"
    assert auth.tokens_fetched == 2


@responses.activate
def test_renew_fetches_a_new_token_even_while_the_cached_one_is_live() -> None:
    responses.post(TOKEN_URL, json=token_response("tok-1"))
    responses.post(TOKEN_URL, json=token_response("tok-2"))
    auth = smart(rsa_key(), "RS384", Clock())

    assert auth.authorization(requests.Session()) == "Bearer tok-1"
    assert auth.authorization(requests.Session(), renew=True) == "Bearer tok-2"


@responses.activate
def test_a_refused_assertion_is_an_authentication_problem_with_the_oauth_error() -> None:
    responses.post(
        TOKEN_URL, status=401, json={"error": "invalid_client", "error_description": "unknown kid"}
    )

    with pytest.raises(AuthenticationRefused, match="invalid_client: unknown kid"):
        smart(rsa_key(), "RS384", Clock()).authorization(requests.Session())


@pytest.mark.parametrize("body", [{"token_type": "bearer"}, {"access_token": "x", "token_type": "mac"}])
@responses.activate
def test_a_200_that_is_not_a_bearer_token_is_refused(body: dict[str, str]) -> None:
    responses.post(TOKEN_URL, json=body)

    with pytest.raises(AuthenticationRefused):
        smart(rsa_key(), "RS384", Clock()).authorization(requests.Session())


@responses.activate
def test_an_unreachable_or_failing_token_endpoint_is_retryable() -> None:
    responses.post(TOKEN_URL, body=requests.ConnectionError("refused"))
    with pytest.raises(EhrUnavailable, match="unreachable"):
        smart(rsa_key(), "RS384", Clock()).authorization(requests.Session())

    responses.replace(responses.POST, TOKEN_URL, status=503)
    with pytest.raises(EhrUnavailable, match="503"):
        smart(rsa_key(), "RS384", Clock()).authorization(requests.Session())


def test_only_rs384_and_es384_are_offered() -> None:
    with pytest.raises(ValueError, match="RS384 or ES384"):
        smart(rsa_key(), "RS256", Clock())
