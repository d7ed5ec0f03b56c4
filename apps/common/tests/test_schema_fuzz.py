"""API fuzzing with schemathesis against our own OpenAPI schema, in process (WSGI), bounded.

Every operation gets generated valid and invalid requests, sent with working credentials (an
API key and an ACTIVE queue token) so the fuzzing reaches past authentication. Each response
must not be a server error and must match the schema: status code, content type, body.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from apps.accounts.services import api_key_issue
from apps.accounts.tests.factories import UserFactory
from apps.concerts.tests.factories import date_with_seats
from apps.queue.tests.factories import QueueEntryFactory
from apps.queue.tokens import token_for
from apps.wallet.services import wallet_charge
from concert_booking.wsgi import application

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
# The test sends working credentials with every request (below); schemathesis's own made-up or
# missing credentials would be overwritten by them, and the case then judged as if they had not.
schema.config.generation.update(with_security_parameters=False)

MAX_EXAMPLES = 25


@pytest.fixture
def credentials(db):
    user = UserFactory()
    wallet_charge(user=user, amount=1_000_000)
    date_with_seats(seats=5)
    entry = QueueEntryFactory(user=user, active=True)
    return {"Authorization": f"Token {api_key_issue(user=user)}", "X-Queue-Token": token_for(entry)}


@pytest.fixture(autouse=True)
def _no_throttling(settings):
    settings.THROTTLING = False


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@pytest.mark.usefixtures("wsgi_in_test_transaction")
def test_api_conforms_to_its_schema_and_never_fails(case, credentials):
    case.call_and_validate(headers=credentials)
