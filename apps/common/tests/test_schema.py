"""The OpenAPI schema at /api/schema/ tells a client the truth: every operation, credential and
error code of the contract, the list parameters, the enums, Retry-After; it is valid OpenAPI 3,
and a client generated from it (openapi-python-client) builds without a warning and works."""

import importlib
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

from apps.payments.models import Payment
from apps.queue.models import QueueEntry
from apps.reservations.models import Reservation
from apps.wallet.models import LedgerEntry
from concert_booking.wsgi import application

OPERATIONS = {
    ("/api/v1/users", "post"),
    ("/api/v1/queue/tokens", "post"),
    ("/api/v1/queue/status", "get"),
    ("/api/v1/concerts", "get"),
    ("/api/v1/concerts/{concert_id}/dates", "get"),
    ("/api/v1/concerts/{concert_id}/dates/{date}/seats", "get"),
    ("/api/v1/reservations", "post"),
    ("/api/v1/reservations", "get"),
    ("/api/v1/reservations/{reservation_id}", "get"),
    ("/api/v1/reservations/{reservation_id}/cancel", "post"),
    ("/api/v1/payments", "post"),
    ("/api/v1/users/{user_id}/wallet", "get"),
    ("/api/v1/users/{user_id}/wallet/charge", "post"),
    ("/api/v1/users/{user_id}/wallet/transactions", "get"),
}
LISTS = {
    ("/api/v1/concerts", "get"),
    ("/api/v1/reservations", "get"),
    ("/api/v1/users/{user_id}/wallet/transactions", "get"),
}


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_the_served_schema_is_valid_openapi_3(client):
    response = client.get("/api/schema/")

    assert response.status_code == 200
    validate_schema(yaml.safe_load(response.content))  # drf-spectacular's check against the OpenAPI 3 spec


def test_the_schema_has_every_operation_of_the_contract_and_no_other(schema):
    assert {(path, method) for path, method, _ in operations(schema)} == OPERATIONS


def test_each_operation_names_the_credential_it_takes(schema):
    assert set(schema["components"]["securitySchemes"]) == {"tokenAuth", "queueToken"}
    paths = schema["paths"]
    assert paths["/api/v1/reservations"]["post"]["security"] == [{"queueToken": []}]
    assert paths["/api/v1/reservations"]["get"]["security"] == [{"tokenAuth": []}]
    assert paths["/api/v1/reservations/{reservation_id}/cancel"]["post"]["security"] == [{"tokenAuth": []}]
    assert paths["/api/v1/payments"]["post"]["security"] == [{"queueToken": []}]
    assert paths["/api/v1/queue/status"]["get"]["security"] == [{"queueToken": []}]
    assert paths["/api/v1/queue/tokens"]["post"]["security"] == [{"tokenAuth": []}]
    assert "security" not in paths["/api/v1/users"]["post"] or paths["/api/v1/users"]["post"]["security"] == [{}]


def test_the_schema_names_every_error_code_of_the_contract(client):
    text = client.get("/api/schema/").content.decode()

    for code in [
        "VALIDATION_ERROR", "USERNAME_TAKEN", "AUTHENTICATION_FAILED", "QUEUE_TOKEN_MISSING", "QUEUE_TOKEN_INVALID",
        "QUEUE_TOKEN_EXPIRED", "QUEUE_TOKEN_NOT_ACTIVE", "CONCERT_NOT_FOUND", "DATE_NOT_FOUND", "SEAT_NOT_FOUND",
        "INVALID_DATE", "SEAT_UNAVAILABLE", "HOLD_LIMIT_REACHED", "DATE_CLOSED", "RESERVATION_NOT_FOUND",
        "RESERVATION_EXPIRED", "RESERVATION_ALREADY_PAID", "RESERVATION_NOT_CANCELLABLE", "INSUFFICIENT_BALANCE",
        "IDEMPOTENCY_KEY_REUSED",
        "INVALID_AMOUNT", "FORBIDDEN", "THROTTLED", "NOT_FOUND", "SERVICE_UNAVAILABLE",
    ]:  # fmt: skip
        assert code in text, code


def test_every_error_is_a_problem_and_429_and_503_carry_retry_after(schema):
    for path, method, operation in operations(schema):
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            assert set(response["content"]) == {"application/problem+json"}, (path, method, status)
            assert response["content"]["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}
            if int(status) in (429, 503):
                header = response["headers"]["Retry-After"]
                assert header["required"] is True
                assert header["schema"]["type"] == "integer"
            else:
                assert "headers" not in response, (path, method, status)
        assert {"429", "503"} <= set(operation["responses"]), (path, method)


def test_lists_take_page_and_page_size_from_1_to_100_and_nothing_else_does(schema):
    for path, method, operation in operations(schema):
        query = {p["name"]: p["schema"] for p in operation.get("parameters", []) if p["in"] == "query"}
        if (path, method) in LISTS:
            assert query["page"]["minimum"] == 1
            assert (query["page_size"]["minimum"], query["page_size"]["maximum"]) == (1, 100)
            page = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
            body = schema["components"]["schemas"][page.rsplit("/", 1)[1]]
            assert {"count", "next", "previous", "results"} <= set(body["properties"])
        else:
            assert query == {}, (path, method)


@pytest.mark.parametrize(
    "component, field, choices",
    [
        ("Reservation", "status", Reservation.Status),
        ("LedgerEntry", "kind", LedgerEntry.Kind),
        ("Payment", "status", Payment.Status),
        ("QueueToken", "status", QueueEntry.Status),
    ],
)
def test_statuses_and_kinds_are_enums_of_every_value_the_model_has(schema, component, field, choices):
    components = schema["components"]["schemas"]
    prop = components[component]["properties"][field]
    ref = prop["$ref"] if "$ref" in prop else prop["allOf"][0]["$ref"]

    assert components[ref.rsplit("/", 1)[1]]["enum"] == list(choices.values)


def test_the_idempotency_key_is_documented_as_the_contract_says(schema):
    for path in (
        "/api/v1/payments",
        "/api/v1/users/{user_id}/wallet/charge",
        "/api/v1/reservations/{reservation_id}/cancel",
    ):
        (parameter,) = [p for p in schema["paths"][path]["post"]["parameters"] if p["name"] == "Idempotency-Key"]
        assert parameter["in"] == "header"
        assert parameter["schema"] == {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]{1,255}$"}


# A client generated from the schema


CLIENT_PACKAGE = "concert_booking_client"


def generate_client(schema_text: str, directory: Path) -> subprocess.CompletedProcess:
    """Runs openapi-python-client (requirements-dev.txt) on the schema; any warning fails it."""
    (directory / "openapi.json").write_text(schema_text)
    # No post hooks: they would run ruff on the output, which is not what is under test.
    (directory / "config.json").write_text(json.dumps({"package_name_override": CLIENT_PACKAGE, "post_hooks": []}))
    command = Path(sys.executable).parent / "openapi-python-client"
    return subprocess.run(
        [command, "generate", "--path", "openapi.json", "--config", "config.json", "--meta", "none"]
        + ["--output-path", CLIENT_PACKAGE, "--fail-on-warning"],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def over_wsgi(wsgi_in_test_transaction) -> dict:
    """httpx arguments that send requests to the deployed WSGI application, in process."""
    return {"base_url": "http://testserver", "transport": httpx.WSGITransport(app=application)}


@pytest.fixture
def generated_client(over_wsgi, tmp_path):
    with httpx.Client(**over_wsgi) as http:
        served = http.get("/api/schema/?format=json")
    result = generate_client(served.text, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "warning" not in (result.stdout + result.stderr).lower(), result.stdout + result.stderr
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module(CLIENT_PACKAGE)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name.split(".")[0] == CLIENT_PACKAGE]:
            del sys.modules[name]


@pytest.mark.django_db
def test_a_generated_client_builds_without_warnings_and_talks_to_the_api(generated_client, over_wsgi):
    def api(name: str):
        return importlib.import_module(f"{CLIENT_PACKAGE}.api.{name}")

    models = importlib.import_module(f"{CLIENT_PACKAGE}.models")
    base = {"base_url": over_wsgi["base_url"], "httpx_args": {"transport": over_wsgi["transport"]}}
    anonymous = generated_client.Client(**base)

    signup = api("accounts.users_create").sync_detailed(
        client=anonymous, body=models.UserCreateRequest(username="ｍｉｎｊｉ")
    )
    assert signup.status_code == 201
    user = signup.parsed
    assert isinstance(user, models.NewUser) and user.username == "minji"
    taken = api("accounts.users_create").sync(client=anonymous, body=models.UserCreateRequest(username="MINJI"))
    assert isinstance(taken, models.Problem) and (taken.status, taken.code) == (409, "USERNAME_TAKEN")

    account = generated_client.AuthenticatedClient(**base, token=user.api_key, prefix="Token")
    charge = api("wallet.wallet_charge")
    first = charge.sync(user.id, client=account, body=models.WalletChargeRequest(amount=5000), idempotency_key="k-1")
    retry = charge.sync(user.id, client=account, body=models.WalletChargeRequest(amount=5000), idempotency_key="k-1")
    assert first == retry == models.Wallet(user_id=user.id, balance=5000)

    ledger = api("wallet.wallet_transactions_list").sync(user.id, client=account, page=1, page_size=10)
    assert isinstance(ledger, models.PaginatedLedgerEntryList) and ledger.count == 1
    assert ledger.results[0].kind == models.KindEnum.CHARGE
    forbidden = api("wallet.wallet_retrieve").sync(user.id + 1, client=account)
    assert isinstance(forbidden, models.Problem) and forbidden.code == "FORBIDDEN"

    token = api("queue.queue_tokens_create").sync_detailed(client=account)
    assert token.status_code == 201
    assert token.parsed.status == models.QueueTokenStatusEnum.ACTIVE
    booking = generated_client.AuthenticatedClient(
        **base, token=token.parsed.token, prefix="", auth_header_name="X-Queue-Token"
    )
    assert api("queue.queue_status_retrieve").sync(client=booking) == token.parsed
    reservations = api("reservations.reservations_list").sync(client=account)
    assert isinstance(reservations, models.PaginatedReservationList) and reservations.results == []
    missing = api("reservations.reservations_cancel").sync(
        987_654, client=account, body=models.ReservationsCancelBody(), idempotency_key="c-1"
    )
    assert isinstance(missing, models.Problem) and (missing.status, missing.code) == (404, "RESERVATION_NOT_FOUND")
