import base64

import pytest
from django.apps import apps
from django.core import signing
from django.db import models

from apps.accounts.tests.factories import UserFactory
from apps.common.redis import get_redis
from apps.queue.errors import QueueTokenInvalid
from apps.queue.selectors import queue_entry_for_token, queue_entry_id_for_token, queue_token
from apps.queue.services import queue_token_issue
from apps.queue.tests.factories import QueueEntryFactory
from apps.queue.tokens import entry_for_token, token_for

pytestmark = pytest.mark.django_db


def random_bits(entry) -> int:
    return len(base64.urlsafe_b64decode(entry.nonce + "=" * (-len(entry.nonce) % 4))) * 8


def test_a_token_names_its_entry():
    entry, _, _ = queue_token_issue(user=UserFactory())

    assert entry_for_token(token_for(entry)) == entry


def test_tokens_carry_at_least_128_random_bits_and_never_repeat():
    entries = [queue_token_issue(user=UserFactory())[0] for _ in range(20)]

    assert all(random_bits(entry) >= 128 for entry in entries)
    assert len({token_for(entry) for entry in entries}) == len({entry.nonce for entry in entries}) == 20


def test_no_column_anywhere_in_the_database_holds_the_token():
    entry, _, _ = queue_token_issue(user=UserFactory())
    token = token_for(entry)

    holders = [
        f"{model._meta.db_table}.{field.column}"
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if isinstance(field, (models.CharField, models.TextField))
        and model._default_manager.filter(**{f"{field.name}__contains": token}).exists()
    ]

    assert holders == []


def test_the_shared_store_holds_no_token_either():
    entry, _, _ = queue_token_issue(user=UserFactory())
    token = token_for(entry).encode()
    redis = get_redis()
    contents = {  # every value of each kind of key the line keeps, as bytes
        b"zset": lambda key: b" ".join(redis.zrange(key, 0, -1)),
        b"hash": lambda key: b" ".join(b" ".join(item) for item in redis.hgetall(key).items()),
        b"string": redis.get,
    }

    stored = {key: contents[redis.type(key)](key) for key in redis.scan_iter()}

    assert stored  # the line is there
    assert [key for key, value in stored.items() if token in key or token in value] == []


def test_a_database_dump_alone_cannot_forge_a_token():
    entry = QueueEntryFactory(active=True)
    stolen = f"{entry.pk}.{entry.nonce}"  # everything a dump reveals

    for forged in (stolen, signing.Signer(key="a-guessed-secret", salt="apps.queue.token").sign(stolen)):
        with pytest.raises(QueueTokenInvalid):
            entry_for_token(forged)


def test_a_validly_signed_token_for_an_older_nonce_is_invalid():
    entry = QueueEntryFactory(active=True)
    old_token = token_for(entry)
    entry.nonce = "replaced-nonce"
    entry.save(update_fields=["nonce"])

    with pytest.raises(QueueTokenInvalid):
        entry_for_token(old_token)


def flip(text: str, index: int) -> str:
    return text[:index] + ("A" if text[index] != "A" else "B") + text[index + 1 :]


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda token, other: flip(token, len(token) - 1), id="signature-changed"),
        pytest.param(lambda token, other: flip(token, token.index(".") + 1), id="nonce-changed"),
        pytest.param(lambda token, other: f"{other.pk}{token[token.index('.') :]}", id="id-swapped"),
        pytest.param(lambda token, other: token[:-1], id="truncated"),
        pytest.param(lambda token, other: token + "x", id="extended"),
        pytest.param(lambda token, other: token.rsplit(":", 1)[0], id="signature-removed"),
        pytest.param(lambda token, other: token.upper(), id="case-changed"),
        pytest.param(lambda token, other: token + "x" * 500, id="oversized"),
        pytest.param(lambda token, other: "not-a-token", id="garbage"),
        pytest.param(lambda token, other: "é:ü", id="non-ascii"),
    ],
)
def test_a_tampered_token_is_invalid(tamper):
    entry, other = QueueEntryFactory(active=True), QueueEntryFactory(active=True)

    with pytest.raises(QueueTokenInvalid):
        entry_for_token(tamper(token_for(entry), other))


def test_the_selectors_read_a_token_for_its_own_user_only():
    entry = QueueEntryFactory()
    token = queue_token(entry=entry)

    assert queue_entry_id_for_token(token=token) == entry.pk
    assert queue_entry_for_token(token=token, user_id=entry.user_id) == entry
    with pytest.raises(QueueTokenInvalid):
        queue_entry_for_token(token=token, user_id=UserFactory().pk)
    with pytest.raises(QueueTokenInvalid):
        queue_entry_id_for_token(token=token + "x")
