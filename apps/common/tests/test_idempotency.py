"""What makes two requests the same for `Idempotency-Key` (apps/common/idempotency.py)."""

import pytest
from rest_framework import serializers
from rest_framework.test import APIRequestFactory

from apps.common.fields import StrictIntegerField
from apps.common.idempotency import Idempotency


class AmountSerializer(serializers.Serializer):
    amount = StrictIntegerField(min_value=1)


SPEC = Idempotency(scope="test", input_serializer=AmountSerializer)


class View:
    def __init__(self, **kwargs):
        self.kwargs = kwargs


def fingerprint(body: bytes, **path) -> str:
    request = APIRequestFactory().post("/", body, content_type="application/json")
    return SPEC.fingerprint(request, View(**path))


def test_the_same_meaning_is_the_same_request():
    assert fingerprint(b'{"amount": 5}') == fingerprint(b'{ "amount":5, "ignored": true }')


@pytest.mark.parametrize(
    "other",
    [
        (b'{"amount": 6}', {"reservation_id": "1"}),
        (b'{"amount": 5}', {"reservation_id": "2"}),  # the same body for another resource
        (b'{"amount": "5"}', {"reservation_id": "1"}),  # invalid: never the same as a valid one
        (b"{", {"reservation_id": "1"}),
        (b"[" * 100_000, {"reservation_id": "1"}),
    ],
)
def test_another_meaning_or_another_resource_is_another_request(other):
    body, path = other

    assert fingerprint(body, **path) != fingerprint(b'{"amount": 5}', reservation_id="1")
